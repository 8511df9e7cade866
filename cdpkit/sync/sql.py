"""Small sqlglot helpers shared by the sync modules: names, parameters, rendering, DDL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

STATE_SCHEMA = "cdpkit"


def table(name: str, schema: str | None = STATE_SCHEMA, alias: str | None = None) -> exp.Table:
    """A quoted table reference (`schema=None` for temporary tables)."""
    return exp.table_(name, db=schema, quoted=True, alias=alias)


def col(name: str, tbl: str | None = None) -> exp.Column:
    return exp.column(name, table=tbl, quoted=True)


def param() -> exp.Placeholder:
    """A positional parameter (`?` on DuckDB, `%s` on PostgreSQL once rendered)."""
    return exp.Placeholder()


def lit(value: object) -> exp.Expression:
    return exp.convert(value)


def text(expression: exp.Expression) -> exp.Cast:
    return exp.cast(expression, exp.DataType.build("text"))


def render(expression: exp.Expression, dialect: str) -> str:
    return expression.sql(dialect=dialect, identify=True)


@dataclass(frozen=True)
class Statement:
    """A rendered statement and its parameters (`many`: `params` is rows, for executemany)."""

    sql: str
    params: Sequence[Any] = ()
    many: bool = False


@dataclass(frozen=True)
class Column:
    """One column of a state table."""

    name: str
    type: str
    not_null: bool = False


def create_table(
    name: str,
    columns: Sequence[Column],
    primary_key: Sequence[str] = (),
    *,
    schema: str | None = STATE_SCHEMA,
) -> exp.Create:
    """CREATE TABLE IF NOT EXISTS with the given columns and (optional) primary key."""
    defs: list[exp.Expression] = []
    for c in columns:
        constraints = (
            [exp.ColumnConstraint(kind=exp.NotNullColumnConstraint())] if c.not_null else []
        )
        defs.append(
            exp.ColumnDef(
                this=exp.to_identifier(c.name, quoted=True),
                kind=exp.DataType.build(c.type),
                constraints=constraints,
            )
        )
    if primary_key:
        defs.append(
            exp.PrimaryKey(expressions=[exp.to_identifier(k, quoted=True) for k in primary_key])
        )
    return exp.Create(
        this=exp.Schema(this=table(name, schema), expressions=defs),
        kind="TABLE",
        exists=True,
    )


def create_temp_as(name: str, query: exp.Query) -> exp.Create:
    return exp.Create(
        this=table(name, None),
        kind="TABLE",
        expression=query,
        properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
    )


def drop_temp(name: str) -> exp.Drop:
    return exp.Drop(tables=[table(name, None)], kind="TABLE", exists=True)


def count_star() -> exp.Count:
    return exp.Count(this=exp.Star())


def count_if(condition: exp.Expression) -> exp.Sum:
    """SUM(CASE WHEN condition THEN 1 ELSE 0 END), portable across dialects."""
    return exp.Sum(this=exp.Case(ifs=[exp.If(this=condition, true=lit(1))], default=lit(0)))
