"""An audience → its membership query: `customer_id`, then its `fields`, optionally `in_holdout`.

SELECT c.customer_id, c.email, …
FROM <schema>.customers AS c
WHERE <include> AND NOT COALESCE(<exclude>, FALSE) AND c.consent_<purpose> = TRUE
  AND NOT <in holdout>              -- unless include_holdout=True (then a column)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlglot import exp

from cdpkit.compiler.dialects import DIALECTS, Clock, in_holdout
from cdpkit.compiler.predicates import CUSTOMER, CompileError, Context, audience_predicate, col
from cdpkit.spec.audience import AudienceSpec
from cdpkit.spec.catalog import Catalog, contract_catalog

HOLDOUT_COLUMN = "in_holdout"


def check_dialect(dialect: str) -> str:
    if dialect not in DIALECTS:
        raise CompileError(f"unknown dialect '{dialect}'; choose one of: {', '.join(DIALECTS)}")
    return dialect


def membership_query(
    audience: AudienceSpec,
    audiences: Mapping[str, AudienceSpec],
    *,
    dialect: str,
    schema: str,
    as_of: datetime | None,
    include_holdout: bool = False,
    catalog: Catalog | None = None,
    tables: Mapping[str, exp.Expression] | None = None,
) -> exp.Select:
    """The members of `audience` as of `as_of` (None: the warehouse's current time).

    Columns: customer_id, then `audience.fields` in order; with include_holdout=True also a
    boolean `in_holdout` (holdout members kept), otherwise holdout members are left out.
    """
    ctx = Context(
        dialect=check_dialect(dialect),
        schema=schema,
        clock=Clock(as_of, dialect),
        catalog=catalog or contract_catalog(),
        audiences=audiences,
        tables=dict(tables or {}),
    )
    columns: list[exp.Expression] = [col("customer_id", CUSTOMER)]
    columns.extend(col(name, CUSTOMER) for name in audience.fields if name != "customer_id")
    where = audience_predicate(audience, ctx)
    percent = audience.holdout_percent
    held = (
        in_holdout(col("customer_id", CUSTOMER), audience.name, percent, dialect)
        if percent
        else None
    )
    if include_holdout:
        flag = held if held is not None else exp.false()
        columns.append(exp.alias_(flag, HOLDOUT_COLUMN, quoted=True))
    elif held is not None:
        where = exp.and_(where, exp.Not(this=held))
    return exp.select(*columns).from_(ctx.table("customers", CUSTOMER)).where(where)


def render(expr: exp.Expression, dialect: str, *, pretty: bool = True) -> str:
    """SQL text of `expr` for `dialect`."""
    return expr.sql(dialect=check_dialect(dialect), pretty=pretty)
