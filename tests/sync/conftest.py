"""Warehouses (a real DuckDB file; a real PostgreSQL schema) and the sandbox for sync tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from cdpkit.project import Target
from cdpkit.sandbox.server import Sandbox
from cdpkit.warehouse import Warehouse

from .helpers import duckdb_warehouse

WEBHOOK_SECRET = "test-webhook-secret-0123456789"


@pytest.fixture
def uid() -> str:
    """A unique destination name: state rows of different tests never meet."""
    return f"d{uuid.uuid4().hex[:10]}"


@pytest.fixture
def duck(tmp_path: Path) -> Iterator[Warehouse]:
    wh = duckdb_warehouse(tmp_path / "warehouse.duckdb")
    yield wh
    wh.close()


def _pg(pg_env: dict[str, str], uid: str) -> Iterator[Warehouse]:
    import psycopg

    schema = f"t_sync_{uid}"
    settings = {
        "host": pg_env["CDPKIT_PG_HOST"],
        "port": int(pg_env["CDPKIT_PG_PORT"]),
        "user": pg_env["CDPKIT_PG_USER"],
        "password": pg_env["CDPKIT_PG_PASSWORD"],
        "dbname": pg_env["CDPKIT_PG_DATABASE"],
        "schema": schema,
    }
    con = psycopg.connect(
        host=settings["host"],
        port=settings["port"],
        user=settings["user"],
        password=settings["password"],
        dbname=settings["dbname"],
        autocommit=True,
    )
    wh = Warehouse(Target("postgres", "postgres", settings), con, location="pg")
    yield wh
    wh.execute(f'drop schema if exists "{schema}" cascade')
    for name in ("sync_state", "sync_runs", "sync_record_log", "sync_leases"):
        if wh.table_columns(name, "cdpkit"):
            wh.execute(f'delete from "cdpkit"."{name}" where sync_id like %s', [f"{uid}%"])
    wh.close()


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def wh(request: pytest.FixtureRequest, tmp_path: Path, uid: str) -> Iterator[Warehouse]:
    """The same test on a DuckDB file and on PostgreSQL."""
    if request.param == "duckdb":
        warehouse = duckdb_warehouse(tmp_path / "warehouse.duckdb")
        yield warehouse
        warehouse.close()
        return
    pg_env = request.getfixturevalue("pg_env")
    yield from _pg(pg_env, uid)


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[Sandbox]:
    with Sandbox(port=0) as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(sandbox_server: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """The sandbox, reset, with the webhook fake's secret in the environment."""
    import requests

    requests.post(f"{sandbox_server.base_url}/_sandbox/reset", timeout=10).raise_for_status()
    requests.post(
        f"{sandbox_server.control_url('webhook')}/faults",
        json={"secret": WEBHOOK_SECRET},
        timeout=10,
    ).raise_for_status()
    monkeypatch.setenv("TEST_HOOK_SECRET", WEBHOOK_SECRET)
    return sandbox_server
