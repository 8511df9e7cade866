"""The diff, computed in the warehouse: current membership vs. the last *confirmed* state.

Two temporary tables per sync run:

1. members: the audience's membership query, materialised once (sizes, history and diff all
   read it, so an expensive audience query runs once);
2. plan: one row per record to send, numbered `__seq` in sending order — removals first
   (mirror mode), then adds and updates by key. Batches are `__seq` ranges, so the same plan
   always cuts into the same batches. The eligible records it is diffed from are a
   materialised CTE of the same statement; their number comes from one aggregate over the
   members, which also says why the others are not eligible.

A member is *eligible* when not in the holdout, not suppressed, consented (when the sync
requires it) and has a non-empty identifier; two members with the same identifier value are
one record (the lowest customer_id wins). A record is *added* when the sync's state lacks its
key, *updated* when the hash of its mapped fields differs from the confirmed hash, *removed*
(mirror only) when it left and this sync added it. A *full resync* updates every eligible
record the state has, changed or not (adds and removals as usual).

Removal rows carry `__fields`, the mapped fields last confirmed (JSON, from the state), so a
removal hands the connector e.g. every match key of a Meta row. Adds and updates carry the
source values; for connectors with `removals_with_fields` the checkpoint stores them in the
state as JSON (`stored_fields_sql`) for the records the destination confirmed (others store
nothing: a CRM removes by key or id, and the JSON would nearly double the state).
"""

from __future__ import annotations

import decimal
import itertools
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlglot import exp

from cdpkit.sync.membership import Membership
from cdpkit.sync.sql import (
    col,
    count_if,
    count_star,
    create_temp_as,
    drop_temp,
    lit,
    param,
    render,
    table,
    text,
)
from cdpkit.warehouse import Warehouse

_counter = itertools.count(1)

PLAN_COLUMNS = ("__seq", "__op", "__key", "__customer_id", "__dest_id", "__hash")
FIELDS_AT = len(PLAN_COLUMNS)
HASH_CHARS = 16  # plan rows: the columns above, then the mapped source values
# Rows of one batch as the engine reads them (`fetch_page`): no __seq (dense, known from the
# range); upserts with the source values, removals with the state's JSON fields.
UPSERT_COLUMNS = ("__op", "__key", "__customer_id", "__dest_id", "__hash")
REMOVE_COLUMNS = ("__key", "__customer_id", "__dest_id", "__fields")
JSON_OBJECT = {"postgres": "json_build_object"}  # others: json_object


@dataclass(frozen=True)
class DiffSpec:
    """Everything the diff needs to know about one sync."""

    sync_id: str
    mode: str
    identifier: str
    mapping: tuple[tuple[str, str], ...]  # (destination field, membership column)
    skip_nulls: bool = True
    consent: str | None = None  # "marketing" | "advertising" | None
    customers: exp.Table | None = None  # the customers mart (for consent)
    suppression: tuple[exp.Query, ...] = ()
    full_resync: bool = False  # every eligible record is sent, changed or not

    @cached_property
    def sources(self) -> tuple[str, ...]:
        """Distinct membership columns the mapping reads, in first-use order."""
        return tuple(dict.fromkeys(source for _, source in self.mapping))

    @cached_property
    def field_slots(self) -> tuple[tuple[str, int], ...]:
        """(destination field, index into the source values) for every mapped field."""
        index = {source: i for i, source in enumerate(self.sources)}
        return tuple((dest, index[source]) for dest, source in self.mapping)

    @cached_property
    def one_to_one(self) -> bool:
        """Each source feeds one destination field, in order (fields are a plain zip)."""
        return [i for _, i in self.field_slots] == list(range(len(self.sources)))

    @cached_property
    def destinations(self) -> tuple[str, ...]:
        return tuple(dest for dest, _ in self.mapping)

    def fingerprint(self) -> str:
        """Part of every record hash: changing the mapping re-sends every record."""
        return json.dumps([list(self.mapping), self.skip_nulls], separators=(",", ":"))


@dataclass(frozen=True)
class Plan:
    """A computed diff, held in the warehouse in `table`."""

    sync_id: str
    members_table: str
    table: str
    sources: tuple[str, ...]
    audience_size: int
    holdout_size: int
    eligible_size: int
    destination_size: int
    owned_size: int
    adds: int
    updates: int
    removes: int
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    ineligible: dict[str, int] = field(default_factory=dict)  # reason -> members (see REASONS)
    identifier: str = ""
    consent: str | None = None

    @property
    def total(self) -> int:
        return self.adds + self.updates + self.removes

    def ranges(self, batch_size: int) -> list[tuple[str, int, int]]:
        """(operation, first seq, last seq) of every batch, in sending order."""
        out: list[tuple[str, int, int]] = []
        spans = [("remove", 1, self.removes), ("upsert", self.removes + 1, self.total)]
        for operation, first, last in spans:
            for lo in range(first, last + 1, batch_size):
                out.append((operation, lo, min(last, lo + batch_size - 1)))
        return out


MEMORY_ENV = "CDPKIT_SYNC_MEMORY_LIMIT"
DEFAULT_MEMORY_LIMIT = "350MB"


@contextmanager
def planning_memory(wh: Warehouse) -> Iterator[None]:
    """Bound DuckDB's memory while planning (it spills to disk past the limit), then restore.

    DuckDB otherwise caches up to 80% of RAM; `$CDPKIT_SYNC_MEMORY_LIMIT` (default 350MB,
    `none` to leave DuckDB alone) keeps a plan over millions of members within a small box.
    """
    wanted = os.environ.get(MEMORY_ENV, DEFAULT_MEMORY_LIMIT).strip()
    if wh.dialect != "duckdb" or wanted.lower() in ("", "none", "0"):
        yield
        return
    previous = current_setting(wh, "memory_limit")
    set_setting(wh, "enable_progress_bar", False)
    set_setting(wh, "memory_limit", wanted)
    try:
        yield
    finally:
        if previous:
            set_setting(wh, "memory_limit", previous)


def current_setting(wh: Warehouse, name: str) -> str | None:
    """A DuckDB setting's current value, as text."""
    row = wh.fetchone(render(exp.select(exp.func("current_setting", lit(name))), wh.dialect))
    return str(row[0]) if row else None


def set_setting(wh: Warehouse, name: str, value: object) -> None:
    """SET name = value (DuckDB)."""
    item = exp.SetItem(this=exp.EQ(this=exp.column(name), expression=lit(value)))
    wh.execute(render(exp.Set(expressions=[item]), wh.dialect))


def materialize_members(wh: Warehouse, membership: Membership) -> str:
    """Run the membership query once into a temporary table; returns its name."""
    name = f"_cdpkit_members_{next(_counter)}"
    wh.execute(render(drop_temp(name), wh.dialect))
    wh.execute(render(create_temp_as(name, membership.query), wh.dialect))
    return name


def build_plan(
    wh: Warehouse,
    spec: DiffSpec,
    membership: Membership,
    members_table: str,
    *,
    sample_size: int = 5,
) -> Plan:
    """Compute the diff into a temporary plan table and count it."""
    name = f"_cdpkit_plan_{next(_counter)}"
    wh.execute(render(drop_temp(name), wh.dialect))
    query = diff_query(spec, membership, members_table)
    wh.execute(render(create_temp_as(name, query), wh.dialect))
    if wh.dialect == "postgres":
        index = exp.Create(
            this=exp.Index(
                this=exp.to_identifier(f"{name}_seq", quoted=True),
                table=table(name, None),
                params=exp.IndexParameters(columns=[col("__seq")]),
            ),
            kind="INDEX",
        )
        wh.execute(render(index, wh.dialect))
        wh.execute(render(exp.Analyze(tables=[table(name, None)]), wh.dialect))
    counts = dict(
        wh.fetchall(
            render(
                exp.select(col("__op"), count_star())
                .from_(table(name, None))
                .group_by(col("__op")),
                wh.dialect,
            )
        )
    )
    sizes = wh.fetchone(render(_sizes_query(membership, members_table), wh.dialect)) or (0, 0)
    tested = wh.fetchone(render(_eligibility_query(spec, membership, members_table), wh.dialect))
    *excluded, eligible = [int(n or 0) for n in tested or (0,) * len(REASONS)]
    ineligible = dict(zip(REASONS, excluded, strict=False))
    state = wh.fetchone(
        render(
            exp.select(count_star(), count_if(col("owned")))
            .from_(table("sync_state"))
            .where(col("sync_id").eq(param())),
            wh.dialect,
        ),
        [spec.sync_id],
    ) or (0, 0)
    plan = Plan(
        sync_id=spec.sync_id,
        members_table=members_table,
        table=name,
        sources=spec.sources,
        audience_size=int(sizes[0] or 0),
        holdout_size=int(sizes[1] or 0),
        eligible_size=eligible,
        destination_size=int(state[0] or 0),
        owned_size=int(state[1] or 0),
        adds=int(counts.get("add", 0)),
        updates=int(counts.get("update", 0)),
        removes=int(counts.get("remove", 0)),
        identifier=spec.identifier,
        consent=spec.consent,
    )
    not_held_out = plan.audience_size - plan.holdout_size
    ineligible["duplicate"] = not_held_out - sum(ineligible.values()) - plan.eligible_size
    plan = Plan(**{**plan.__dict__, "ineligible": {r: ineligible.get(r, 0) for r in REASONS}})
    if sample_size:
        samples = {
            op: [
                {"key": r[2], "customer_id": r[3], "fields": _fields(spec, r[FIELDS_AT:])}
                for r in fetch_rows(wh, plan, op=op, limit=sample_size)
            ]
            for op in ("add", "update", "remove")
        }
        plan = Plan(**{**plan.__dict__, "samples": samples})
    return plan


def fetch_rows(
    wh: Warehouse,
    plan: Plan,
    *,
    lo: int | None = None,
    hi: int | None = None,
    op: str | None = None,
    limit: int | None = None,
) -> list[tuple[Any, ...]]:
    """Plan rows: PLAN_COLUMNS, then the source columns."""
    key = (plan.table, wh.dialect, lo is not None and hi is not None, op, limit)
    sql = _FETCH_SQL.get(key)
    if sql is None:
        sql = _fetch_sql(plan, wh.dialect, lo is not None and hi is not None, op, limit)
        _FETCH_SQL[key] = sql
    return wh.fetchall(sql, [lo, hi] if lo is not None and hi is not None else [])


_FETCH_SQL: dict[tuple[Any, ...], str] = {}


def _fetch_sql(plan: Plan, dialect: str, ranged: bool, op: str | None, limit: int | None) -> str:
    columns = [col(c) for c in PLAN_COLUMNS] + [col(f"__f{i}") for i in range(len(plan.sources))]
    query = exp.select(*columns).from_(table(plan.table, None))
    if ranged:
        query = query.where(exp.Between(this=col("__seq"), low=param(), high=param()))
    if op is not None:
        query = query.where(col("__op").eq(lit(op)))
    query = query.order_by(col("__seq"))
    if limit is not None:
        query = query.limit(limit)
    return render(query, dialect)


def fetch_page(wh: Warehouse, plan: Plan, operation: str, lo: int, hi: int) -> list[Any]:
    """The rows of `__seq` lo..hi (one operation), as `page_columns` says, in `__seq` order."""
    key = (plan.table, wh.dialect, "page", operation)
    sql = _FETCH_SQL.get(key)
    if sql is None:
        columns = [col(c) for c in page_columns(plan, operation)]
        query = (
            exp.select(*columns)
            .from_(table(plan.table, None))
            .where(exp.Between(this=col("__seq"), low=param(), high=param()))
            .order_by(col("__seq"))
        )
        sql = _FETCH_SQL[key] = render(query, wh.dialect)
    return wh.fetchall(sql, [lo, hi])


def page_columns(plan: Plan, operation: str) -> tuple[str, ...]:
    if operation == "remove":
        return REMOVE_COLUMNS
    return UPSERT_COLUMNS + tuple(f"__f{i}" for i in range(len(plan.sources)))


def drop(wh: Warehouse, *names: str) -> None:
    for key in [k for k in _FETCH_SQL if k[0] in names]:
        del _FETCH_SQL[key]
    for name in names:
        wh.execute(render(drop_temp(name), wh.dialect))


def record_fields(spec: DiffSpec, values: Sequence[Any]) -> dict[str, Any]:
    """Destination fields of one plan row (source values in `spec.sources` order)."""
    return _fields(spec, values)


def stored_fields(spec: DiffSpec, text_value: str | None) -> dict[str, Any]:
    """A removal's fields from the state's JSON (decimals as Decimal; {} when unknown)."""
    if not text_value:
        return {}
    try:
        data = json.loads(text_value, parse_float=decimal.Decimal)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    if spec.skip_nulls:
        return {k: v for k, v in data.items() if v is not None}
    return data


# -- SQL ------------------------------------------------------------------------------------
# Narrow first: dedupe, hash and diff on (key, customer_id, hash) only; the mapped values are
# joined back from the members table for the (few) records that are sent. The membership is
# one row per customer (the membership query contract).


def current_query(spec: DiffSpec, membership: Membership, members_table: str) -> exp.Select:
    """One row per eligible record key: __key, customer_id, __hash (lowest customer_id wins)."""
    rank = exp.Window(
        this=exp.RowNumber(),
        partition_by=[col("__key")],
        order=exp.Order(expressions=[exp.Ordered(this=col("customer_id"))]),
    )
    ranked = exp.select(
        col("__key"), col("customer_id"), col("__hash"), exp.alias_(rank, "__rn", quoted=True)
    ).from_(_subquery(_eligible(spec, membership, members_table), "e"))
    return (
        exp.select(col("__key"), col("customer_id"), col("__hash"))
        .from_(_subquery(ranked, "r"))
        .where(col("__rn").eq(lit(1)))
    )


CURRENT = "current"  # the CTE of the diff holding `current_query`


def diff_query(spec: DiffSpec, membership: Membership, members_table: str) -> exp.Query:
    """The plan rows (the sync id is a literal: PostgreSQL binds no parameters in CREATE AS).

    The eligible records (`current_query`) are a materialised CTE: computed once, read by
    the upserts and by the removals' NOT EXISTS, never written to a table of their own."""
    state = (
        exp.select(
            col("record_key"),
            col("customer_id"),
            col("field_hash"),
            col("destination_id"),
            col("owned"),
            col("fields"),
        )
        .from_(table("sync_state"))
        .where(col("sync_id").eq(lit(spec.sync_id)))
    )
    new = exp.Is(this=col("record_key", "s"), expression=exp.Null())
    changed: exp.Expression
    if spec.full_resync:
        changed = exp.true()
    elif spec.mode == "add_only":
        changed = new
    else:
        changed = exp.or_(new, col("field_hash", "s").neq(col("__hash", "c")))
    upserts = (
        exp.select(
            exp.alias_(lit(1), "__rank", quoted=True),
            exp.alias_(
                exp.Case(ifs=[exp.If(this=new.copy(), true=lit("add"))], default=lit("update")),
                "__op",
                quoted=True,
            ),
            col("__key", "c"),
            exp.alias_(col("customer_id", "c"), "__customer_id", quoted=True),
            col("__hash", "c"),
            exp.alias_(col("destination_id", "s"), "__dest_id", quoted=True),
            exp.alias_(text(exp.Null()), "__stored", quoted=True),
        )
        .from_(table(CURRENT, None, alias="c"))
        .join(
            table("state", None, alias="s"),
            on=col("record_key", "s").eq(col("__key", "c")),
            join_type="left",
        )
        .where(changed)
    )
    diff: exp.Query = upserts
    if spec.mode == "mirror":
        still_in = exp.Exists(
            this=exp.select(lit(1))
            .from_(table(CURRENT, None, alias="c"))
            .where(col("__key", "c").eq(col("record_key", "s")))
        )
        removes = (
            exp.select(
                exp.alias_(lit(0), "__rank", quoted=True),
                exp.alias_(lit("remove"), "__op", quoted=True),
                exp.alias_(col("record_key", "s"), "__key", quoted=True),
                exp.alias_(col("customer_id", "s"), "__customer_id", quoted=True),
                exp.alias_(exp.cast(exp.Null(), "text"), "__hash", quoted=True),
                exp.alias_(col("destination_id", "s"), "__dest_id", quoted=True),
                exp.alias_(col("fields", "s"), "__stored", quoted=True),
            )
            .from_(table("state", None, alias="s"))
            .where(exp.and_(col("owned", "s").eq(exp.true()), exp.Not(this=still_in)))
        )
        diff = exp.union(upserts, removes, distinct=False)
    seq = exp.Window(
        this=exp.RowNumber(),
        order=exp.Order(
            expressions=[exp.Ordered(this=col("__rank", "d")), exp.Ordered(this=col("__key", "d"))]
        ),
    )
    values = exp.and_(
        col("__op", "d").neq(lit("remove")),
        col("customer_id", "m").eq(col("__customer_id", "d")),
        text(col(spec.identifier, "m")).eq(col("__key", "d")),
    )
    return (
        exp.select(
            exp.alias_(seq, "__seq", quoted=True),
            col("__op", "d"),
            col("__key", "d"),
            col("__customer_id", "d"),
            col("__hash", "d"),
            col("__dest_id", "d"),
            *[exp.alias_(col(s, "m"), f"__f{i}", quoted=True) for i, s in enumerate(spec.sources)],
            exp.alias_(col("__stored", "d"), "__fields", quoted=True),
        )
        .from_(_subquery(diff, "d"))
        .join(table(members_table, None, alias="m"), on=values, join_type="left")
        .with_(CURRENT, as_=current_query(spec, membership, members_table), materialized=True)
        .with_("state", as_=state)
        .order_by(col("__seq"))
    )


def stored_fields_sql(spec: DiffSpec, dialect: str, alias: str | None = None) -> exp.Expression:
    """The JSON the state keeps for an add/update plan row (its `__f` source values)."""
    return fields_json(spec, [col(f"__f{i}", alias) for i in range(len(spec.sources))], dialect)


def fields_json(spec: DiffSpec, values: Sequence[exp.Expression], dialect: str) -> exp.Expression:
    """The mapped fields of a member as JSON text (`{"dest": value, ...}`, mapping order)."""
    if not spec.mapping:
        return lit("{}")
    args: list[exp.Expression] = []
    for dest, i in spec.field_slots:
        args += [lit(dest), values[i].copy()]
    return text(exp.Anonymous(this=JSON_OBJECT.get(dialect, "json_object"), expressions=args))


# Why a member who is not held out is not eligible, in the order the tests apply (a member
# counts under the first one it fails); "duplicate": its identifier value is also another
# member's, and the lowest customer_id is the one record.
REASONS = ("no_identifier", "no_consent", "suppressed", "duplicate")


def _tests(spec: DiffSpec, membership: Membership, m: str) -> list[tuple[str, exp.Expression]]:
    """(reason, condition an eligible member meets), holdout first, in the order of REASONS."""
    key = text(col(spec.identifier, m))
    tests: list[tuple[str, exp.Expression]] = []
    if membership.holdout_column:
        tests.append(
            (
                "holdout",
                exp.Not(this=exp.func("coalesce", col(membership.holdout_column, m), exp.false())),
            )
        )
    tests.append(
        (
            "no_identifier",
            exp.and_(
                exp.Not(this=exp.Is(this=col(spec.identifier, m), expression=exp.Null())),
                key.neq(lit("")),
            ),
        )
    )
    if spec.consent and spec.customers is not None:
        consented = (
            exp.select(col("customer_id"))
            .from_(spec.customers.copy())
            .where(col(f"consent_{spec.consent}").eq(exp.true()))
        )
        tests.append(("no_consent", col("customer_id", m).isin(query=consented)))
    for suppressed in spec.suppression:
        tests.append(
            ("suppressed", exp.Not(this=col("customer_id", m).isin(query=suppressed.copy())))
        )
    return tests


def _eligible(spec: DiffSpec, membership: Membership, members_table: str) -> exp.Select:
    """Eligible members: record key, customer_id and the hash of the mapped values."""
    m = "m"
    return (
        exp.select(
            exp.alias_(text(col(spec.identifier, m)), "__key", quoted=True),
            col("customer_id", m),
            exp.alias_(_hash(spec, [col(s, m) for s in spec.sources]), "__hash", quoted=True),
        )
        .from_(table(members_table, None, alias=m))
        .where(exp.and_(*[condition for _, condition in _tests(spec, membership, m)]))
    )


def _eligibility_query(spec: DiffSpec, membership: Membership, members_table: str) -> exp.Select:
    """Members not held out who fail each test (after passing the ones before), per reason of
    REASONS but "duplicate" (derived from the others), then the eligible size: the distinct
    identifier values of the members who pass every test."""
    passed: list[exp.Expression] = []
    failed: dict[str, list[exp.Expression]] = {}
    for reason, condition in _tests(spec, membership, "m"):
        known = exp.func("coalesce", condition, exp.false())  # a NULL test is a failed one
        if reason != "holdout":
            fails = exp.and_(*[p.copy() for p in passed], exp.Not(this=known.copy()))
            failed.setdefault(reason, []).append(fails)
        passed.append(known)
    counts: list[exp.Expression] = [
        count_if(exp.or_(*failed[reason])) if reason in failed else lit(0)
        for reason in REASONS[:-1]
    ]
    key = exp.Case(ifs=[exp.If(this=exp.and_(*passed), true=text(col(spec.identifier, "m")))])
    counts.append(exp.Count(this=exp.Distinct(expressions=[key])))
    return exp.select(*counts).from_(table(members_table, None, alias="m"))


def _subquery(query: exp.Query, alias: str) -> exp.Subquery:
    return exp.Subquery(
        this=query, alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True))
    )


def _hash(spec: DiffSpec, values: Sequence[exp.Expression]) -> exp.Expression:
    """md5 (first 16 hex digits) of the mapping fingerprint and each mapped value,
    length-prefixed so that no two different value lists hash the same text."""
    parts: list[exp.Expression] = [lit(spec.fingerprint())]
    for column in values:
        value = text(column.copy())
        encoded = exp.DPipe(
            this=exp.DPipe(this=text(exp.Length(this=value)), expression=lit(":")),
            expression=value,
        )
        parts.append(lit("|"))
        parts.append(exp.func("coalesce", encoded, lit("~")))
    joined = parts[0]
    for part in parts[1:]:
        joined = exp.DPipe(this=joined, expression=part)
    # 64 bits of md5 are plenty to notice a change of one record, and half the memory.
    return exp.Substring(this=exp.MD5(this=joined), start=lit(1), length=lit(HASH_CHARS))


def _sizes_query(membership: Membership, members_table: str) -> exp.Select:
    holdout: exp.Expression = lit(0)
    if membership.holdout_column:
        holdout = count_if(exp.func("coalesce", col(membership.holdout_column), exp.false()))
    return exp.select(count_star(), holdout).from_(table(members_table, None))


def _fields(spec: DiffSpec, values: Sequence[Any]) -> dict[str, Any]:
    pairs: Iterable[tuple[str, Any]]
    if spec.one_to_one:
        pairs = zip(spec.destinations, values, strict=False)
    else:
        pairs = ((dest, values[i]) for dest, i in spec.field_slots)
    if spec.skip_nulls:
        return {dest: value for dest, value in pairs if value is not None}
    return dict(pairs)
