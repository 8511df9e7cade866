"""Golden SQL per dialect, and every dialect's SQL parses back with sqlglot.

Regenerate the golden files after an intended change: CDPKIT_UPDATE_GOLDEN=1 pytest tests/compiler
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from cdpkit.compiler import DIALECTS, membership_query, render
from compiler.cases import CASES
from compiler.helpers import audiences_from

GOLDEN = Path(__file__).parent / "golden"
AS_OF = {"kitchen_sink": datetime(2026, 10, 31), "relative_windows": None}
UPDATE = os.environ.get("CDPKIT_UPDATE_GOLDEN") == "1"


def _compile(name: str, dialect: str) -> str:
    audiences = audiences_from((GOLDEN / f"{name}.yml").read_text(encoding="utf-8"))
    query = membership_query(
        audiences[name],
        audiences,
        dialect=dialect,
        schema="analytics",
        as_of=AS_OF[name],
        include_holdout=True,
    )
    return render(query, dialect) + "\n"


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("name", sorted(AS_OF))
def test_golden_sql(name: str, dialect: str) -> None:
    path = GOLDEN / f"{name}.{dialect}.sql"
    sql = _compile(name, dialect)
    if UPDATE:
        path.write_text(sql, encoding="utf-8")
    assert sql == path.read_text(encoding="utf-8")
    parsed = sqlglot.parse_one(sql, read=dialect)
    assert isinstance(parsed, exp.Select)
    assert not list(parsed.find_all(exp.Command))


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_case_parses_back(dialect: str) -> None:
    """All table-driven cases render for every dialect and parse back to an equivalent tree."""
    for case, body, _ in CASES:
        audiences = audiences_from(f"name: t\n{body}")
        for as_of in (datetime(2026, 10, 31), None):
            query = membership_query(
                audiences["t"], audiences, dialect=dialect, schema="s", as_of=as_of
            )
            sql = render(query, dialect)
            parsed = sqlglot.parse_one(sql, read=dialect)
            again = parsed.sql(dialect=dialect, pretty=True)
            assert sqlglot.parse_one(again, read=dialect) == parsed, (case, dialect)
            assert parsed.named_selects == ["customer_id"], (case, dialect)
