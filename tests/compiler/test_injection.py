"""Property tests: arbitrary strings in values never change the query's structure."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest
import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlglot import exp

from cdpkit.compiler import DIALECTS, membership_query, render
from cdpkit.spec.audience import AudienceSpec
from cdpkit.warehouse import Warehouse
from compiler.helpers import audience, member_ids
from compiler.marts import AS_OF

# Any text the YAML loader can hand us (surrogates cannot come from a UTF-8 file).
TEXT = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40).filter(
    lambda v: v != "any"  # `event: any` means every event
)


def _body(value: str) -> dict[str, Any]:
    """An audience using `value` as a literal in every kind of place."""
    return {
        "include": {
            "any": [
                {"trait": "country", "eq": value},
                {"trait": "email", "contains": value},
                {"trait": "email", "starts_with": value},
                {"trait": "city", "in": [value, "x"]},
                {"event": value, "where": {"page_path": {"ends_with": value}}},
                {"event": "any", "where": {"properties.plan": value}},
                {
                    "event": "product_added",
                    "not_followed_by": {"event": value, "within": "1d"},
                },
                {"order": {"where": {"status": value}}},
            ]
        },
        "exclude": {"trait": "last_name", "ne": value},
    }


def _compile(spec: dict[str, AudienceSpec], dialect: str) -> str:
    query = membership_query(spec["t"], spec, dialect=dialect, schema="s", as_of=AS_OF)
    return render(query, dialect)


def _skeleton(tree: exp.Expression) -> exp.Expression:
    """The tree with every literal replaced by the same placeholder (lengths vary with values)."""

    def blank(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Literal):
            return exp.Literal.string("?")
        return node

    return tree.copy().transform(blank)


BASELINE = {
    d: _skeleton(sqlglot.parse_one(_compile(audience(_body("x")), d), read=d)) for d in DIALECTS
}


@pytest.mark.parametrize("dialect", DIALECTS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=TEXT)
def test_values_never_change_structure(dialect: str, value: str) -> None:
    sql = _compile(audience(_body(value)), dialect)
    tree = sqlglot.parse_one(sql, read=dialect)
    assert _skeleton(tree) == BASELINE[dialect]
    literals = {n.this for n in tree.find_all(exp.Literal) if n.is_string}
    assert value in literals  # the value arrives intact, as a literal


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=TEXT.filter(lambda v: "\x00" not in v))
def test_values_run_safely_on_duckdb(duck: Warehouse, value: str) -> None:
    """The compiled SQL runs and matches nobody for a value nobody has (no syntax breakage)."""
    spec = audience({"include": {"trait": "last_name", "eq": value}})
    expected = {"c10"} if value == "O'Brien" else set()
    assert member_ids(duck, spec) == expected


def test_string_escape_round_trips_on_duckdb() -> None:
    nasty = "'); drop table customers; --\\' \" \n{{ x }} ${y} %_"
    con = duckdb.connect()
    literal = exp.convert(nasty).sql(dialect="duckdb")
    assert con.execute(f"select {literal}").fetchone() == (nasty,)
