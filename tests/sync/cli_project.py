"""A scratch project wired to the sandbox: fixture marts, one audience, one webhook destination."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import yaml
from typer.testing import CliRunner

from cdpkit.cli.main import app
from cdpkit.compiler import in_holdout_python
from cdpkit.project import Project
from cdpkit.sandbox.server import Sandbox
from cdpkit.warehouse import connect

from .helpers import Person, write_customers

AUDIENCE = "vip"
HOLDOUT_PERCENT = 10
MIN_REVENUE = 120


@dataclass
class CliProject:
    project: Project
    sandbox: Sandbox
    hook: str
    runner: CliRunner

    @property
    def root(self) -> Path:
        return self.project.root

    def write_destination(self, name: str = "hook", **overrides: Any) -> None:
        sync = {
            "audience": AUDIENCE,
            "mode": "mirror",
            "identifier": "email",
            "mapping": {"email": "email", "name": "first_name", "ltv": "total_revenue"},
            "require_consent": "marketing",
        }
        sync.update(overrides.pop("sync", {}))
        data = {
            "type": "webhook",
            "base_url": self.sandbox.url("webhook"),
            "path": f"/{self.hook}",
            "signing_secret": "${TEST_HOOK_SECRET}",
            "batch_size": 25,
            "retry": {"base_delay_s": 0.05, "max_delay_s": 0.2},
            "syncs": [sync],
            **overrides,
        }
        (self.root / "destinations" / f"{name}.yml").write_text(
            yaml.safe_dump(data, sort_keys=False)
        )

    def set_customers(self, persons: Sequence[Person]) -> None:
        with connect(self.project) as wh:
            write_customers(wh, wh.schema, persons)

    def cli(self, *args: str) -> tuple[int, str, str]:
        result = self.runner.invoke(app, ["--project-dir", str(self.root), *args])
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.stdout, result.stderr

    def sync_json(self, *args: str) -> tuple[int, dict[str, Any]]:
        code, stdout, stderr = self.cli("sync", "--output", "json", *args)
        assert stdout.strip(), stderr
        return code, json.loads(stdout)

    def records(self) -> dict[str, dict[str, Any]]:
        url = f"{self.sandbox.control_url('webhook')}/records"
        return requests.get(url, params={"hook": self.hook}, timeout=10).json()

    def stats(self) -> dict[str, int]:
        data = requests.get(f"{self.sandbox.control_url('webhook')}/stats", timeout=10).json()
        return data["hooks"].get(self.hook, {})

    def faults(self, **settings: Any) -> None:
        url = f"{self.sandbox.control_url('webhook')}/faults"
        requests.post(url, json=settings, timeout=10).raise_for_status()


def setup_project(project: Project, sandbox: Sandbox, hook: str) -> CliProject:
    for folder in ("audiences", "destinations"):
        for old in (project.root / folder).glob("*.yml"):
            old.unlink()
    (project.root / "audiences" / f"{AUDIENCE}.yml").write_text(
        yaml.safe_dump(
            {
                "name": AUDIENCE,
                "include": {"trait": "total_revenue", "gte": MIN_REVENUE},
                "fields": ["email", "first_name", "total_revenue"],
                "split": {"holdout_percent": HOLDOUT_PERCENT},
            }
        )
    )
    env = CliRunner()
    cp = CliProject(project, sandbox, hook, env)
    cp.write_destination()
    return cp


def expected(persons: Sequence[Person], *, consent: bool = True) -> dict[str, dict[str, Any]]:
    """What the destination must hold after a mirror sync of the vip audience."""
    out: dict[str, dict[str, Any]] = {}
    for p in sorted(persons, key=lambda p: p.customer_id):
        if p.total_revenue is None or p.total_revenue < MIN_REVENUE or p.email is None:
            continue
        if consent and not p.consent_marketing:
            continue
        if in_holdout_python(p.customer_id, AUDIENCE, HOLDOUT_PERCENT):
            continue
        fields: dict[str, Any] = {"email": p.email, "ltv": int(p.total_revenue)}
        if p.first_name is not None:
            fields["name"] = p.first_name
        out.setdefault(p.email, fields)
    return out


def holdout_of(persons: Sequence[Person]) -> list[Person]:
    return [p for p in persons if in_holdout_python(p.customer_id, AUDIENCE, HOLDOUT_PERCENT)]
