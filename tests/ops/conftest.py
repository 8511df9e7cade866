"""The operations tests' project (fixture marts + a webhook sync) and the sandbox."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from cdpkit.project import Project
from cdpkit.sandbox.server import Sandbox

from .helpers import (
    HOOK_SECRET,
    HOOK_SECRET_ENV,
    reset_project_files,
    write_destination,
    write_marts,
)


@dataclass(frozen=True)
class OpsProject:
    project: Project
    sandbox: Sandbox
    sync_id: str
    destination: str  # unique per test: state in a shared PostgreSQL never collides

    @property
    def destination_file(self) -> Path:
        return self.root / "destinations" / f"{self.destination}.yml"

    def write_destination(self, **kw: Any) -> str:
        """Rewrite this test's destination file (see helpers.write_destination)."""
        kw.setdefault("hook", self.destination)
        return write_destination(self.root, self.sandbox.base_url, name=self.destination, **kw)

    @property
    def root(self) -> Path:
        return self.project.root

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[Sandbox]:
    with Sandbox(port=0) as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(sandbox_server: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """The sandbox, reset, expecting this suite's signing secret."""
    requests.post(f"{sandbox_server.base_url}/_sandbox/reset", timeout=10).raise_for_status()
    requests.post(
        f"{sandbox_server.control_url('webhook')}/faults", json={"secret": HOOK_SECRET}, timeout=10
    ).raise_for_status()
    monkeypatch.setenv(HOOK_SECRET_ENV, HOOK_SECRET)
    monkeypatch.delenv("CDPKIT_ALERT_WEBHOOK_URL", raising=False)
    return sandbox_server


@pytest.fixture
def ops(scratch_project: Project, sandbox: Sandbox) -> OpsProject:
    """A project with 60 customers (30 in big_spenders) and an hourly mirror sync to the sandbox."""
    reset_project_files(scratch_project.root)
    write_marts(scratch_project.root / "warehouse.duckdb", 60, big_every=2)
    name = f"hook_{uuid.uuid4().hex[:8]}"
    sync_id = write_destination(scratch_project.root, sandbox.base_url, name=name, hook=name)
    return OpsProject(scratch_project, sandbox, sync_id, name)
