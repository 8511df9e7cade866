"""Audiences: YAML segments (`audiences/*.yml`) → validated specs → membership SQL → members.

Public API (stable; used by the sync engine):

    from cdpkit.audiences import load_audiences, membership_query, render

    audiences = load_audiences(project)            # dict[str, Audience]; raises SpecError
    query = membership_query(
        audiences["pricing_lurkers"], audiences,
        dialect=wh.dialect, schema=wh.schema, as_of=as_of, include_holdout=False,
    )                                              # sqlglot exp.Select
    sql = render(query, wh.dialect)

- `load_audiences(project, *, warehouse=None, catalog=None)`: every audience of the project by
  name. Names are checked against the real mart columns of `warehouse` (or of the project's
  warehouse when it is reachable and built; else the mart contract of ARCHITECTURE §4). Pass
  the open `warehouse` when you have one (DuckDB allows one writer).
- `membership_query(audience, audiences, *, dialect, schema, as_of, include_holdout=False)`:
  columns `customer_id`, then `audience.fields` in order; with include_holdout=True a last
  boolean column `in_holdout` (holdout members kept and flagged); otherwise holdout members
  are left out. `as_of=None` evaluates time windows against the warehouse's current time.
  `schema` is where the marts are (`Target.schema`, `main` on DuckDB).
- `render(query, dialect) -> str` for duckdb, postgres, snowflake, bigquery, databricks, redshift.
- `Audience` (= `cdpkit.spec.audience.AudienceSpec`): `.name`, `.description`, `.tags`,
  `.fields`, `.consent`, `.holdout_percent`, `.source` (file).

Holdout: a customer is held out of audience A when the first 8 hex characters of
md5(CAST(customer_id AS text) || ':' || A) are below percent/100 · 16^8 written as 8 lowercase
hex characters (`cdpkit.compiler.in_holdout_python` is the same rule in Python).
"""

from __future__ import annotations

from cdpkit.audiences.loader import load_audiences, resolve, validate_project
from cdpkit.compiler import HOLDOUT_COLUMN, membership_query, render
from cdpkit.spec.audience import AudienceSpec as Audience

__all__ = [
    "HOLDOUT_COLUMN",
    "Audience",
    "load_audiences",
    "membership_query",
    "render",
    "resolve",
    "validate_project",
]
