"""Test harness for the ad-platform and messaging connectors: a people table, jobs, engine runs.

A `people` table in the project's DuckDB file stands in for the customers mart (it carries the
consent columns) and for an audience (a `where` picks the members). Connectors are built
exactly as the engine builds them: config validated from a dict, HttpClient on the sandbox URL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlglot import exp

from cdpkit.destinations.base import Destination, SyncContext
from cdpkit.sync.engine import run_jobs
from cdpkit.sync.http import HttpClient
from cdpkit.sync.jobs import EngineOptions, SyncJob, SyncOutcome
from cdpkit.sync.membership import fixture_membership
from cdpkit.sync.sql import col, table
from cdpkit.warehouse import Warehouse

PEOPLE_COLUMNS = (
    ("customer_id", "text"),
    ("email", "text"),
    ("phone", "text"),
    ("first_name", "text"),
    ("last_name", "text"),
    ("city", "text"),
    ("country", "text"),
    ("in_audience", "boolean"),
    ("consent_advertising", "boolean"),
    ("consent_marketing", "boolean"),
)
FIELDS = ("email", "phone", "first_name", "last_name", "city", "country")


def person(n: int, **overrides: Any) -> dict[str, Any]:
    """A plausible customer; `n` (< 10,000) makes it unique, with a valid New York number."""
    row = {
        "customer_id": f"c{n:05d}",
        "email": f"Person.{n}@Example.com ",
        "phone": f"(212) 8{n % 100:02d}-{n:04d}",
        "first_name": "Zoë" if n % 5 == 0 else "Jane",
        "last_name": f"O'Doe{chr(97 + n % 26)}",
        "city": "New York",
        "country": "US",
        "in_audience": True,
        "consent_advertising": True,
        "consent_marketing": True,
    }
    row.update(overrides)
    return row


def write_people(wh: Warehouse, people: Sequence[Mapping[str, Any]], name: str = "people") -> None:
    """(Re)create the people table with these rows."""
    target = table(name, "main")
    wh.execute(exp.Drop(tables=[target.copy()], kind="TABLE", exists=True).sql(dialect=wh.dialect))
    schema = exp.Schema(
        this=target.copy(),
        expressions=[
            exp.ColumnDef(
                this=exp.to_identifier(column, quoted=True), kind=exp.DataType.build(kind)
            )
            for column, kind in PEOPLE_COLUMNS
        ],
    )
    wh.execute(exp.Create(this=schema, kind="TABLE").sql(dialect=wh.dialect))
    if not people:
        return
    insert = exp.insert(
        exp.Values(
            expressions=[exp.Tuple(expressions=[exp.Placeholder() for _ in PEOPLE_COLUMNS])]
        ),
        target.copy(),
        columns=[exp.to_identifier(c, quoted=True) for c, _ in PEOPLE_COLUMNS],
    )
    rows = [tuple(p.get(c) for c, _ in PEOPLE_COLUMNS) for p in people]
    wh.executemany(insert.sql(dialect=wh.dialect), rows)


def make_job(
    name: str,
    connector: type[Destination],
    config: Mapping[str, Any],
    *,
    fields: Sequence[str] = FIELDS,
    table_name: str = "people",
) -> SyncJob:
    """A job syncing the `in_audience` rows of the people table, with consent read from it."""
    loaded = connector.config_model.model_validate(dict(config))
    membership = fixture_membership(
        loaded.syncs[0].audience,
        table_name,
        fields,
        schema="main",
        where=col("in_audience").eq(exp.true()),
    )
    return SyncJob(
        destination=name,
        config=loaded,
        sync=loaded.syncs[0],
        connector=connector,
        membership=membership,
        customers=table(table_name, "main"),
    )


def run(wh: Warehouse, job: SyncJob, root: Path, **options: Any) -> SyncOutcome:
    """Apply one job through the real engine."""
    outcomes = run_jobs(wh, [job], EngineOptions(project_root=root, **options))
    return outcomes[0]


def build_connector(
    connector: type[Destination],
    config: Mapping[str, Any],
    base_url: str,
    *,
    root: Path = Path("."),
) -> Destination:
    """A connector instance wired the way the engine wires it (no rate limiter)."""
    loaded = connector.config_model.model_validate(dict(config))
    sync = loaded.syncs[0]
    context = SyncContext(
        sync_id=f"test.{sync.sync_name}",
        destination="test",
        sync_name=sync.sync_name,
        audience=sync.audience,
        mode=sync.mode,
        list_name=sync.list_name,
        identifier=sync.identifier,
        fields=tuple(sync.mapping),
        run_id="run-test",
        project_root=root,
    )
    return connector(loaded, context, HttpClient(base_url, timeout_s=10))
