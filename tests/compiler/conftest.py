"""Fixture warehouses holding the hand-made marts: a DuckDB file and a PostgreSQL schema."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from cdpkit.project import Target
from cdpkit.warehouse import Warehouse
from compiler.marts import create_marts


@pytest.fixture(scope="session")
def duck(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    """A real DuckDB file with the fixture marts in schema main."""
    path: Path = tmp_path_factory.mktemp("marts") / "marts.duckdb"
    target = Target(name="dev", type="duckdb", settings={"path": str(path), "schema": "main"})
    wh = Warehouse(target, duckdb.connect(str(path)), location=str(path))
    create_marts(wh, "main")
    yield wh
    wh.close()


@pytest.fixture(scope="session")
def pg(pg_env: dict[str, str]) -> Iterator[Warehouse]:
    """The real PostgreSQL server with the fixture marts in a schema of their own."""
    import psycopg

    schema = f"t_aud_{uuid.uuid4().hex[:8]}"
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
    wh = Warehouse(Target(name="postgres", type="postgres", settings=settings), con, "pg")
    create_marts(wh, schema)
    yield wh
    wh.execute(f'drop schema if exists "{schema}" cascade')
    wh.close()
