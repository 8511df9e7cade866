"""Run audiences in the warehouse: compile, preview, full membership, overlap, list."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import IO, Any

from sqlglot import exp

from cdpkit.audiences import sizes
from cdpkit.audiences.loader import resolve, validate_project
from cdpkit.compiler import HOLDOUT_COLUMN, membership_query, render
from cdpkit.errors import CdpkitError
from cdpkit.project import Project
from cdpkit.spec.audience import AudienceSpec
from cdpkit.spec.diagnostics import Diagnostic
from cdpkit.warehouse import Warehouse, connect, duckdb_path


def parse_as_of(text: str | None) -> datetime:
    """An ISO date or date-time (UTC unless it says otherwise); now when None."""
    if text is None:
        return datetime.now(UTC).replace(microsecond=0)
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise CdpkitError(
            f"--as-of {text!r} is not an ISO date or date-time (e.g. 2026-10-31T00:00:00Z)"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def compile_sql(
    project: Project, name: str, *, dialect: str | None = None, as_of: datetime | None = None
) -> str:
    """The membership SQL of an audience for `dialect` (default: the target's)."""
    target = project.target()
    audience, audiences, validation = resolve(project, name)
    query = membership_query(
        audience,
        audiences,
        dialect=dialect or target.dialect,
        schema=target.schema,
        as_of=as_of,
        catalog=validation.catalog,
    )
    return render(query, dialect or target.dialect)


@dataclass(frozen=True)
class Preview:
    name: str
    as_of: datetime
    size: int
    holdout_size: int
    columns: list[str]
    rows: list[tuple[Any, ...]]
    seconds: float


def _query(
    wh: Warehouse, project: Project, name: str, as_of: datetime, **kw: Any
) -> tuple[AudienceSpec, exp.Select]:
    audience, audiences, validation = resolve(project, name, warehouse=wh)
    query = membership_query(
        audience,
        audiences,
        dialect=wh.dialect,
        schema=wh.schema,
        as_of=as_of,
        catalog=validation.catalog,
        **kw,
    )
    return audience, query


def _open(project: Project) -> Warehouse:
    target = project.target()
    if target.type == "duckdb" and not duckdb_path(project, target).exists():
        raise CdpkitError(
            f"{duckdb_path(project, target)} does not exist yet; run 'cdpkit build' first"
        )
    return connect(project)


def preview(
    project: Project, name: str, *, limit: int = 10, as_of: datetime | None = None
) -> Preview:
    """Size, holdout size and a sample of members (recorded in cdpkit.audience_sizes)."""
    as_of = as_of or parse_as_of(None)
    with _open(project) as wh:
        audience, query = _query(wh, project, name, as_of, include_holdout=True)
        started = time.perf_counter()
        m = exp.to_identifier("m")
        held = exp.column(HOLDOUT_COLUMN, table="m", quoted=True)
        counts = exp.select(
            exp.Count(this=exp.Star()),
            exp.Sum(
                this=exp.Case(
                    ifs=[exp.If(this=held, true=exp.Literal.number(1))],
                    default=exp.Literal.number(0),
                )
            ),
        ).from_(query.subquery(m))
        total, holdout = wh.fetchone(counts.sql(dialect=wh.dialect)) or (0, 0)
        members = _members_only(query, audience)
        sample = members.order_by(exp.column("customer_id", table="c", quoted=True)).limit(
            max(limit, 0)
        )
        columns, rows = wh.query(sample.sql(dialect=wh.dialect))
        seconds = time.perf_counter() - started
        size = int(total or 0) - int(holdout or 0)
        sizes.record_size(wh, audience.name, size, int(holdout or 0), as_of)
    return Preview(audience.name, as_of, size, int(holdout or 0), columns, rows, seconds)


def _members_only(query: exp.Select, audience: AudienceSpec) -> exp.Select:
    """The include_holdout query without its flag column, holdout rows removed."""
    q = query.copy()
    flag = q.expressions[-1]
    q.set("expressions", q.expressions[:-1])
    return q.where(exp.Not(this=flag.this.copy())) if audience.split else q


@dataclass(frozen=True)
class Members:
    name: str
    as_of: datetime
    count: int
    columns: list[str]
    seconds: float


def members(
    project: Project,
    name: str,
    sink: IO[str],
    *,
    fmt: str = "csv",
    as_of: datetime | None = None,
    batch_size: int = 10_000,
) -> Members:
    """Stream the full membership (customer_id + fields, holdout excluded) to `sink`."""
    if fmt not in ("csv", "json"):
        raise CdpkitError(f"unknown format '{fmt}'; use csv or json")
    as_of = as_of or parse_as_of(None)
    with _open(project) as wh:
        audience, query = _query(wh, project, name, as_of, include_holdout=True)
        holdout_count = _holdout_count(wh, query)
        plain = _members_only(query, audience).order_by(
            exp.column("customer_id", table="c", quoted=True)
        )
        started = time.perf_counter()
        writer = _writer(fmt, sink)
        count = 0
        columns: list[str] = []
        for columns, rows in wh.batches(plain.sql(dialect=wh.dialect), batch_size):
            count += writer(columns, rows)
        writer(columns, None)
        seconds = time.perf_counter() - started
        sizes.record_size(wh, audience.name, count, holdout_count, as_of)
    return Members(audience.name, as_of, count, columns, seconds)


def _holdout_count(wh: Warehouse, query: exp.Select) -> int:
    held = exp.column(HOLDOUT_COLUMN, table="m", quoted=True)
    q = exp.select(exp.Count(this=exp.Star())).from_(query.subquery("m")).where(held)
    row = wh.fetchone(q.sql(dialect=wh.dialect))
    return int(row[0]) if row else 0


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral_value() else int(value)
    return value


def _writer(fmt: str, sink: IO[str]) -> Callable[[list[str], list[tuple[Any, ...]] | None], int]:
    state = {"started": False}
    if fmt == "csv":
        out = csv.writer(sink, lineterminator="\n")

        def write_csv(columns: list[str], rows: list[tuple[Any, ...]] | None) -> int:
            if not state["started"] and columns:
                out.writerow(columns)
                state["started"] = True
            if rows is None:
                return 0
            out.writerows([[_jsonable(v) for v in row] for row in rows])
            return len(rows)

        return write_csv

    def write_json(columns: list[str], rows: list[tuple[Any, ...]] | None) -> int:
        if rows is None:
            sink.write("\n]\n" if state["started"] else "[]\n")
            return 0
        for row in rows:
            sink.write(",\n" if state["started"] else "[\n")
            state["started"] = True
            record = {c: _jsonable(v) for c, v in zip(columns, row, strict=True)}
            sink.write(json.dumps(record, ensure_ascii=False, default=str))
        return len(rows)

    return write_json


@dataclass(frozen=True)
class Overlap:
    a: str
    b: str
    size_a: int
    size_b: int
    both: int
    as_of: datetime


def overlap(project: Project, a: str, b: str, *, as_of: datetime | None = None) -> Overlap:
    """Sizes of A, B and A∩B (holdouts excluded: the members a sync would send)."""
    as_of = as_of or parse_as_of(None)
    with _open(project) as wh:
        spec_a, query_a = _query(wh, project, a, as_of)
        spec_b, query_b = _query(wh, project, b, as_of)
        ids_a = exp.select(exp.column("customer_id", table="c", quoted=True)).from_(
            query_a.subquery("c")
        )
        ids_b = exp.select(exp.column("customer_id", table="c", quoted=True)).from_(
            query_b.subquery("c")
        )
        qa, qb = exp.to_identifier("qa"), exp.to_identifier("qb")

        def count_of(source: exp.Expression) -> exp.Expression:
            return exp.Subquery(this=exp.select(exp.Count(this=exp.Star())).from_(source))

        both = (
            exp.select(exp.Count(this=exp.Star()))
            .from_(exp.table_("qa", quoted=True))
            .join(
                exp.table_("qb", quoted=True), using=[exp.to_identifier("customer_id", quoted=True)]
            )
        )
        query = (
            exp.select(
                count_of(exp.table_("qa", quoted=True)),
                count_of(exp.table_("qb", quoted=True)),
                exp.Subquery(this=both),
            )
            .with_(qa, as_=ids_a)
            .with_(qb, as_=ids_b)
        )
        row = wh.fetchone(query.sql(dialect=wh.dialect)) or (0, 0, 0)
    return Overlap(spec_a.name, spec_b.name, int(row[0]), int(row[1]), int(row[2]), as_of)


@dataclass(frozen=True)
class AudienceInfo:
    name: str
    description: str
    tags: list[str]
    file: str
    last_size: sizes.SizeRecord | None


def list_audiences(project: Project) -> tuple[list[AudienceInfo], list[Diagnostic]]:
    """Every valid audience with its last recorded size, plus the diagnostics of broken files."""
    validation = validate_project(project)
    recorded: dict[str, sizes.SizeRecord] = {}
    target = project.target()
    if target.type != "duckdb" or duckdb_path(project, target).exists():
        try:
            with connect(project, read_only=target.type == "duckdb") as wh:
                recorded = sizes.last_sizes(wh)
        except CdpkitError:
            recorded = {}
    infos = [
        AudienceInfo(
            name=name,
            description=spec.description,
            tags=list(spec.tags),
            file=validation.files.get(name, ""),
            last_size=recorded.get(name),
        )
        for name, spec in sorted(validation.audiences.items())
    ]
    return infos, validation.diagnostics


def emit_dbt_models(project: Project, name: str | None, *, dialect: str | None = None) -> Any:
    """Write dbt models for one audience (or all, pruning stale generated ones)."""
    from cdpkit.audiences import dbt_emit

    target = project.target()
    chosen_dialect = dialect or target.dialect
    models_dir = project.root / "models" / "audiences"
    if name is None:
        validation = validate_project(project)
        validation.raise_for_errors()
        return dbt_emit.emit(
            models_dir,
            validation.audiences,
            validation.audiences,
            chosen_dialect,
            validation.catalog,
            prune=True,
        )
    audience, audiences, validation = resolve(project, name)
    return dbt_emit.emit(
        models_dir, {audience.name: audience}, audiences, chosen_dialect, validation.catalog
    )
