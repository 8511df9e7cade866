"""What a sync sends: an audience's membership query, and the project-wide suppression list.

The engine takes any sqlglot SELECT returning `customer_id` plus the audience's fields (and
optionally a boolean holdout column), so it runs on a fixture table as well as on a compiled
audience. `audience_membership()` builds it from `audiences/*.yml` with the compiler.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from cdpkit.sync.sql import col, lit, table, text

HOLDOUT_COLUMN = "in_holdout"


@dataclass(frozen=True)
class Membership:
    """An audience's members: `query` returns customer_id, then `fields`, then the holdout flag."""

    audience: str
    query: exp.Query
    fields: tuple[str, ...]
    holdout_column: str | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        return ("customer_id", *self.fields)


@dataclass(frozen=True)
class SuppressionEntry:
    """Customers to exclude from every sync: an audience, or a table of identifiers."""

    audience: str | None = None
    table: str | None = None  # "schema.table" or "table" (in the target schema)
    column: str = "identifier_value"
    identifier_type: str = "email"


def suppressed_customers(
    entry: SuppressionEntry,
    *,
    schema: str,
    audience_query: exp.Query | None = None,
) -> exp.Query:
    """A query returning the customer_id of everyone the entry suppresses (never NULL)."""
    if entry.audience is not None:
        if audience_query is None:
            raise ValueError("an audience suppression needs its membership query")
        return (
            exp.select(col("customer_id", "a"))
            .from_(
                exp.Subquery(this=audience_query, alias=exp.TableAlias(this=exp.to_identifier("a")))
            )
            .where(exp.Not(this=exp.Is(this=col("customer_id", "a"), expression=exp.Null())))
        )
    assert entry.table is not None
    db, _, name = entry.table.rpartition(".")
    source = table(name, db or schema, alias="t")
    value = text(col(entry.column, "t"))
    if entry.identifier_type == "customer_id":
        return (
            exp.select(exp.alias_(value, "customer_id", quoted=True))
            .from_(source)
            .where(exp.Not(this=exp.Is(this=col(entry.column, "t"), expression=exp.Null())))
        )
    normalized: exp.Expression = exp.Trim(this=value)
    if entry.identifier_type == "email":
        normalized = exp.Lower(this=normalized)
    identifiers = table("customer_identifiers", schema, alias="ci")
    return (
        exp.select(col("customer_id", "ci"))
        .from_(identifiers)
        .join(
            source,
            on=exp.and_(
                col("identifier_type", "ci").eq(lit(entry.identifier_type)),
                col("identifier_value", "ci").eq(normalized),
            ),
        )
        .where(exp.Not(this=exp.Is(this=col("customer_id", "ci"), expression=exp.Null())))
    )


def audience_membership(
    audience: str,
    specs: Mapping[str, Any],
    *,
    dialect: str,
    schema: str,
    as_of: dt.datetime | None,
) -> Membership:
    """The membership of a compiled audience, holdout members flagged (never synced)."""
    from cdpkit.compiler import membership_query

    spec = specs[audience]
    query = membership_query(
        spec, specs, dialect=dialect, schema=schema, as_of=as_of, include_holdout=True
    )
    fields = tuple(f for f in spec.fields if f != "customer_id")
    return Membership(audience, query, fields, HOLDOUT_COLUMN)


def fixture_membership(
    audience: str,
    source: str,
    fields: Sequence[str],
    *,
    schema: str | None = None,
    holdout_column: str | None = None,
    where: exp.Expression | None = None,
) -> Membership:
    """Membership read from a plain table (tests, benchmarks, hand-made audiences)."""
    columns = [col("customer_id"), *(col(f) for f in fields)]
    if holdout_column:
        columns.append(col(holdout_column))
    query = exp.select(*columns).from_(table(source, schema))
    if where is not None:
        query = query.where(where)
    return Membership(audience, query, tuple(fields), holdout_column)
