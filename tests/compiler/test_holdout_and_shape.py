"""Holdout split (portable hash: DuckDB = PostgreSQL = Python), output columns, as_of=None."""

from __future__ import annotations

import pytest

from cdpkit.compiler import HOLDOUT_COLUMN, holdout_threshold, in_holdout_python
from cdpkit.warehouse import Warehouse
from compiler.helpers import audiences_from, members

N = 4000
HOLDOUT = """name: held_{tag}
include: {{trait: customer_id, is_null: false}}
split: {{holdout_percent: {percent}}}
fields: [email]
"""


def _many_customers(wh: Warehouse, schema: str) -> None:
    """customers(customer_id, email) with N ids of two shapes, in `schema` (same on both)."""
    series = (
        "range(0, {n}) as t(i)" if wh.dialect == "duckdb" else "generate_series(0, {n} - 1) as t(i)"
    )
    wh.execute(f'create schema if not exists "{schema}"')
    wh.execute(f'drop table if exists "{schema}"."customers"')
    wh.execute(
        f'create table "{schema}"."customers" as select '
        "case when i % 3 = 0 then md5(cast(i as varchar)) "
        "else 'cus_' || lpad(cast(i as varchar), 5, '0') end as customer_id, "
        "'p' || cast(i as varchar) || '@x.io' as email "
        f"from {series.format(n=N)}"
    )


def _flags(wh: Warehouse, schema: str, text: str) -> dict[str, bool]:
    from cdpkit.compiler import membership_query, render

    audiences = audiences_from(text)
    spec = next(iter(audiences.values()))
    query = membership_query(
        spec, audiences, dialect=wh.dialect, schema=schema, as_of=None, include_holdout=True
    )
    return {row[0]: bool(row[2]) for row in wh.fetchall(render(query, wh.dialect))}


def test_threshold_is_fixed_width_hex() -> None:
    assert holdout_threshold(10) == "19999999"
    assert holdout_threshold(50) == "80000000"
    assert holdout_threshold(0.01) == "00068db8"
    assert holdout_threshold(99.99) == "fff97247"


@pytest.mark.parametrize("percent", [10, 33.33])
def test_duckdb_holdout_matches_python(duck: Warehouse, percent: float) -> None:
    _many_customers(duck, "holdout")
    flags = _flags(duck, "holdout", HOLDOUT.format(tag="a", percent=percent))
    assert len(flags) == N
    expected = {cid: in_holdout_python(cid, "held_a", percent) for cid in flags}
    assert flags == expected
    share = sum(flags.values()) / N
    assert abs(share - percent / 100) < 0.03


def test_holdout_depends_on_audience_name(duck: Warehouse) -> None:
    _many_customers(duck, "holdout")
    a = _flags(duck, "holdout", HOLDOUT.format(tag="a", percent=20))
    b = _flags(duck, "holdout", HOLDOUT.format(tag="b", percent=20))
    both = sum(1 for k in a if a[k] and b[k])
    assert 0 < both < sum(a.values()) * 0.5  # independent splits overlap ~20 %


@pytest.mark.postgres
def test_postgres_holdout_matches_duckdb(duck: Warehouse, pg: Warehouse) -> None:
    schema = f"{pg.schema}_holdout"
    _many_customers(duck, "holdout")
    _many_customers(pg, schema)
    try:
        text = HOLDOUT.format(tag="a", percent=10)
        assert _flags(pg, schema, text) == _flags(duck, "holdout", text)
    finally:
        pg.execute(f'drop schema if exists "{schema}" cascade')


def test_members_exclude_holdout_and_keep_field_order(duck: Warehouse) -> None:
    text = """name: shaped
include: {trait: is_anonymous, eq: false}
fields: [last_name, email, total_revenue]
split: {holdout_percent: 50}
"""
    audiences = audiences_from(text)
    kept = members(duck, audiences)
    flagged = members(duck, audiences, include_holdout=True)
    assert len(flagged) == 9 and all(len(r) == 5 for r in flagged)
    assert {r[0] for r in kept} == {r[0] for r in flagged if not r[4]}
    assert all(len(r) == 4 for r in kept)
    row = next(r for r in flagged if r[0] == "c10")
    assert row[:3] == ("c10", "O'Brien", "ivy@example.ie")
    assert row[4] is in_holdout_python("c10", "shaped", 50)


def test_column_names(duck: Warehouse) -> None:
    from cdpkit.compiler import membership_query, render

    audiences = audiences_from("name: n\ninclude: {order: {}}\nfields: [email, phone]\n")
    query = membership_query(
        audiences["n"], audiences, dialect="duckdb", schema="main", as_of=None, include_holdout=True
    )
    names, _ = duck.query(render(query, "duckdb"))
    assert names == ["customer_id", "email", "phone", HOLDOUT_COLUMN]
    assert query.named_selects == names


@pytest.mark.parametrize("name", ["duck", "pg"])
def test_as_of_none_uses_the_warehouse_clock(request: pytest.FixtureRequest, name: str) -> None:
    """Without as_of, windows are relative to the warehouse's now (the fixture lies in 2026)."""
    wh: Warehouse = request.getfixturevalue(name)
    recent = audiences_from("name: r\ninclude: {event: any, within: 3650d}\n")
    got = {row[0] for row in members(wh, recent, as_of=None)}
    from datetime import UTC, datetime

    if datetime.now(UTC).year < 2026:
        assert got == set()  # every fixture event is still in the future
    else:
        assert got  # events within the last ten years
