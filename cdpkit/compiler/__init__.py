"""Audience specs → sqlglot expression trees → SQL for duckdb, postgres, snowflake, bigquery,
databricks and redshift. Pure: no warehouse access.

    query = membership_query(audience, audiences, dialect="duckdb", schema="main", as_of=None)
    sql = render(query, "duckdb")
"""

from __future__ import annotations

from cdpkit.compiler.dialects import DIALECTS, holdout_threshold, in_holdout_python
from cdpkit.compiler.membership import HOLDOUT_COLUMN, check_dialect, membership_query, render
from cdpkit.compiler.predicates import CompileError

__all__ = [
    "DIALECTS",
    "HOLDOUT_COLUMN",
    "CompileError",
    "check_dialect",
    "holdout_threshold",
    "in_holdout_python",
    "membership_query",
    "render",
]
