"""Table-driven: every condition kind and operator returns the obvious members of the fixture,
on DuckDB and on the real PostgreSQL server."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cdpkit.warehouse import Warehouse
from compiler.cases import CASES, REFERENCE_CASES
from compiler.helpers import audiences_from, member_ids, members


def _audiences(body: str) -> dict:
    return audiences_from(f"name: t\n{body}")


@pytest.mark.parametrize(("case", "body", "expected"), CASES, ids=[c[0] for c in CASES])
def test_duckdb_members(duck: Warehouse, case: str, body: str, expected: set[str]) -> None:
    assert member_ids(duck, _audiences(body)) == expected


@pytest.mark.parametrize(
    ("case", "text", "name", "expected"), REFERENCE_CASES, ids=[c[0] for c in REFERENCE_CASES]
)
def test_duckdb_references(
    duck: Warehouse, case: str, text: str, name: str, expected: set[str]
) -> None:
    assert member_ids(duck, audiences_from(text), name) == expected


@pytest.mark.postgres
def test_postgres_returns_the_same_members(duck: Warehouse, pg: Warehouse) -> None:
    """Every case compiled for PostgreSQL runs on the real server and matches DuckDB."""
    mismatches = []
    for case, body, expected in CASES:
        audiences = _audiences(body)
        got_pg, got_duck = member_ids(pg, audiences), member_ids(duck, audiences)
        if not got_pg == got_duck == expected:
            mismatches.append((case, sorted(got_duck), sorted(got_pg), sorted(expected)))
    for case, text, name, expected in REFERENCE_CASES:
        audiences = audiences_from(text)
        got_pg, got_duck = member_ids(pg, audiences, name), member_ids(duck, audiences, name)
        if not got_pg == got_duck == expected:
            mismatches.append((case, sorted(got_duck), sorted(got_pg), sorted(expected)))
    assert mismatches == []


@pytest.mark.postgres
def test_kitchen_sink_same_rows_on_both(duck: Warehouse, pg: Warehouse) -> None:
    """The golden all-kinds audience (holdout flagged) gives identical rows on both engines."""
    text = (Path(__file__).parent / "golden" / "kitchen_sink.yml").read_text(encoding="utf-8")
    sink, base = yaml.safe_load(text)
    # its `any:` part (the `all:` around it matches nobody on the fixture)
    sink = {**sink, "name": "sink_any", "include": sink["include"]["all"][2]}
    audiences = audiences_from(yaml.safe_dump([sink, base], sort_keys=False))
    on_duck = members(duck, audiences, "sink_any", include_holdout=True)
    on_pg = members(pg, audiences, "sink_any", include_holdout=True)
    assert [r[0] for r in on_duck] == [r[0] for r in on_pg]
    assert [(r[0], r[1], r[2], r[4]) for r in on_duck] == [(r[0], r[1], r[2], r[4]) for r in on_pg]
    assert on_duck  # not vacuous
