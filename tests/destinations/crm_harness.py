"""Test harness for the CRM connectors (HubSpot, Salesforce): an audience table, jobs, runs.

An `audience` table in a real DuckDB file is the membership (customer_id + fields); the sync
engine plans and applies it exactly as `cdpkit sync` does, against the sandbox fakes over HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
from sqlglot import exp

from cdpkit.destinations.base import Destination, SyncContext
from cdpkit.project import Target
from cdpkit.sync.engine import run_jobs
from cdpkit.sync.http import HttpClient
from cdpkit.sync.jobs import EngineOptions, SyncJob, SyncOutcome
from cdpkit.sync.membership import fixture_membership
from cdpkit.sync.sql import table
from cdpkit.warehouse import Warehouse

COLUMNS = (
    ("customer_id", "text"),
    ("email", "text"),
    ("first_name", "text"),
    ("last_name", "text"),
    ("total_revenue", "double"),
    ("city", "text"),
)
FIELDS = tuple(name for name, _ in COLUMNS[1:])


def duckdb_warehouse(path: Path) -> Warehouse:
    target = Target(name="dev", type="duckdb", settings={"path": str(path), "schema": "main"})
    return Warehouse(target, duckdb.connect(str(path)), location=str(path))


def person(n: int, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "customer_id": f"c{n:06d}",
        "email": f"person{n}@example.com",
        "first_name": f"First{n}",
        "last_name": f"Last{n}",
        "total_revenue": float(n * 10),
        "city": "Oslo",
    }
    row.update(overrides)
    return row


def write_audience(wh: Warehouse, people: Sequence[Mapping[str, Any]]) -> None:
    """(Re)create the `audience` table with these rows."""
    target = table("audience", "main")
    wh.execute(exp.Drop(tables=[target.copy()], kind="TABLE", exists=True).sql(dialect=wh.dialect))
    columns = [
        exp.ColumnDef(this=exp.to_identifier(c, quoted=True), kind=exp.DataType.build(t))
        for c, t in COLUMNS
    ]
    wh.execute(
        exp.Create(this=exp.Schema(this=target.copy(), expressions=columns), kind="TABLE").sql(
            dialect=wh.dialect
        )
    )
    if people:
        insert = exp.insert(
            exp.Values(expressions=[exp.Tuple(expressions=[exp.Placeholder() for _ in COLUMNS])]),
            target.copy(),
            columns=[exp.to_identifier(c, quoted=True) for c, _ in COLUMNS],
        )
        wh.executemany(
            insert.sql(dialect=wh.dialect), [tuple(p.get(c) for c, _ in COLUMNS) for p in people]
        )


def make_job(name: str, connector: type[Destination], config: Mapping[str, Any]) -> SyncJob:
    loaded = connector.config_model.model_validate(dict(config))
    sync = loaded.syncs[0]
    return SyncJob(
        destination=name,
        config=loaded,
        sync=sync,
        connector=connector,
        membership=fixture_membership(sync.audience, "audience", FIELDS, schema="main"),
    )


def run(wh: Warehouse, job: SyncJob, root: Path, **options: Any) -> SyncOutcome:
    return run_jobs(wh, [job], EngineOptions(project_root=root, **options))[0]


def build_connector(
    connector: type[Destination], config: Mapping[str, Any], *, name: str = "crm"
) -> Destination:
    """A connector wired the way the engine wires it (HttpClient on the config's base_url)."""
    loaded = connector.config_model.model_validate(dict(config))
    sync = loaded.syncs[0]
    context = SyncContext(
        sync_id=f"{name}.{sync.sync_name}",
        destination=name,
        sync_name=sync.sync_name,
        audience=sync.audience,
        mode=sync.mode,
        list_name=sync.list_name,
        identifier=sync.identifier,
        fields=tuple(sync.mapping),
        run_id="run-test",
        project_root=Path("."),
    )
    base = loaded.base_url.resolve() if loaded.base_url else None
    return connector(loaded, context, HttpClient(base, timeout_s=10))
