"""The sandbox (all fakes on one loopback port) for connector tests, reset for every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from cdpkit.sandbox.server import Sandbox


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[Sandbox]:
    with Sandbox(port=0) as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(sandbox_server: Sandbox) -> Sandbox:
    requests.post(f"{sandbox_server.base_url}/_sandbox/reset", timeout=10).raise_for_status()
    return sandbox_server
