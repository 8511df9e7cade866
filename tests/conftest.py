"""Shared fixtures: a scratch cdpkit project, the warehouse targets, the CLI runner."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cdpkit.project import Project, find_project
from cdpkit.scaffold import init_project

REPO = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PG_ENV = {
    "CDPKIT_PG_HOST": "localhost",
    "CDPKIT_PG_PORT": "5432",
    "CDPKIT_PG_USER": "cdpkit",
    "CDPKIT_PG_PASSWORD": "cdpkit-ci",
    "CDPKIT_PG_DATABASE": "cdpkit",
}


@pytest.fixture
def cli() -> CliRunner:
    return CliRunner()


@pytest.fixture
def scratch_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A fresh `cdpkit init` project in a temp dir, with its own DuckDB file."""
    root = tmp_path / "proj"
    init_project(root)
    monkeypatch.setenv("CDPKIT_WAREHOUSE", str(root / "warehouse.duckdb"))
    monkeypatch.delenv("CDPKIT_TARGET", raising=False)
    return find_project(root)


def _pg_reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def pg_env() -> dict[str, str]:
    """Connection env of the postgres target; fails (not skips) in CI when unreachable."""
    env = {k: os.environ.get(k, v) for k, v in PG_ENV.items()}
    if not _pg_reachable(env["CDPKIT_PG_HOST"], int(env["CDPKIT_PG_PORT"])):
        message = (
            f"PostgreSQL at {env['CDPKIT_PG_HOST']}:{env['CDPKIT_PG_PORT']} is unreachable "
            "(.ci/run starts it; locally: pg_ctlcluster 15 main start)"
        )
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return env


@pytest.fixture
def pg_project(
    scratch_project: Project, pg_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Project]:
    """The scratch project on the postgres target, in schemas of its own (dropped after)."""
    suffix = uuid.uuid4().hex[:8]
    schema = f"t_{suffix}"
    for key, value in pg_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("CDPKIT_PG_SCHEMA", schema)
    monkeypatch.setenv("CDPKIT_RAW_SCHEMA", f"raw_{suffix}")
    project = find_project(scratch_project.root, "postgres")
    yield project
    from cdpkit.warehouse import connect

    with connect(project) as wh:
        rows = wh.fetchall(
            "select schema_name from information_schema.schemata where schema_name like %s",
            [f"%{suffix}%"],
        )
        for (name,) in rows:
            wh.execute(f'drop schema if exists "{name}" cascade')
