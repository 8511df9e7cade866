"""Conditions → boolean sqlglot expressions over the `customers` row aliased `c`.

Pure functions of (condition, context). Event/order/percentile conditions become
`c.customer_id IN (SELECT … GROUP BY … HAVING …)` subqueries (semi joins); when the count
comparison also holds for zero events (`count: {lt: 3}`), the complement is used:
`c.customer_id NOT IN (… HAVING NOT <comparison>)`, so customers without any event match.
Negations are two-valued: `not:` and `exclude:` see a NULL comparison as false.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlglot import exp

from cdpkit.compiler.dialects import Clock, json_text, shift, timestamp_literal, to_double
from cdpkit.errors import CdpkitError
from cdpkit.spec.audience import (
    AllCondition,
    AnyCondition,
    AudienceRef,
    AudienceSpec,
    Comparison,
    EventCondition,
    FollowUp,
    NotCondition,
    Operators,
    OrderCondition,
    PercentileCondition,
    TraitCondition,
    Windowed,
)
from cdpkit.spec.catalog import Catalog, ColType
from cdpkit.spec.checks import ANY_EVENT, PROPERTY_PREFIX

CUSTOMER = "c"
PERCENT_SCALE = 10_000  # percentages have at most 2 decimals: compare in basis points


class CompileError(CdpkitError):
    """The audience cannot be compiled (a reference is missing or circular)."""


@dataclass(frozen=True)
class Context:
    """Everything a condition needs besides itself."""

    dialect: str
    schema: str
    clock: Clock
    catalog: Catalog
    audiences: Mapping[str, AudienceSpec]
    tables: Mapping[str, exp.Expression] = field(default_factory=dict)
    stack: tuple[str, ...] = ()

    def table(self, name: str, alias: str) -> exp.Expression:
        """The mart `name` (schema-qualified, quoted) aliased `alias`."""
        base = self.tables.get(name)
        if base is None:
            base = exp.Table(
                this=exp.to_identifier(name, quoted=True),
                db=exp.to_identifier(self.schema, quoted=True) if self.schema else None,
            )
        return exp.alias_(base.copy(), alias, table=True)


def col(name: str, table: str) -> exp.Column:
    return exp.column(name, table=table, quoted=True)


# -- audience ------------------------------------------------------------------------------


def audience_predicate(spec: AudienceSpec, ctx: Context) -> exp.Expression:
    """include AND NOT exclude AND consent: the audience's membership test for row `c`."""
    if spec.name in ctx.stack:
        chain = " -> ".join((*ctx.stack, spec.name))
        raise CompileError(f"audience reference cycle: {chain}")
    inner = Context(
        ctx.dialect, ctx.schema, ctx.clock, ctx.catalog, ctx.audiences, ctx.tables,
        (*ctx.stack, spec.name),
    )  # fmt: skip
    parts = [condition(spec.include, inner)]
    if spec.exclude is not None:
        parts.append(negate(condition(spec.exclude, inner)))
    if spec.consent is not None:
        parts.append(col(f"consent_{spec.consent}", CUSTOMER).eq(exp.true()))
    return exp.and_(*parts) if len(parts) > 1 else parts[0]


def negate(predicate: exp.Expression) -> exp.Expression:
    """NOT with NULL counted as false (a two-valued complement)."""
    if _never_null(predicate):
        return exp.Not(this=predicate)
    return exp.Not(this=exp.Coalesce(this=predicate, expressions=[exp.false()]))


def _never_null(predicate: exp.Expression) -> bool:
    """Subquery membership tests on the non-null customer_id are never NULL."""
    if isinstance(predicate, exp.In):
        return predicate.args.get("query") is not None
    if isinstance(predicate, exp.Exists | exp.Coalesce):
        return True
    if isinstance(predicate, exp.Not | exp.Paren):
        return _never_null(predicate.this)
    if isinstance(predicate, exp.And | exp.Or):
        return _never_null(predicate.left) and _never_null(predicate.right)
    return False


def condition(cond: Any, ctx: Context) -> exp.Expression:
    if isinstance(cond, TraitCondition):
        column = col(cond.trait, CUSTOMER)
        return operators(column, cond, ctx, ctx.catalog.column_type("customers", cond.trait))
    if isinstance(cond, EventCondition):
        return activity(cond, "customer_events", "occurred_at", ctx, event=cond)
    if isinstance(cond, OrderCondition):
        return activity(cond.order, "customer_orders", "ordered_at", ctx)
    if isinstance(cond, PercentileCondition):
        return percentile(cond, ctx)
    if isinstance(cond, AudienceRef):
        other = ctx.audiences.get(cond.audience)
        if other is None:
            raise CompileError(f"unknown audience '{cond.audience}'")
        return exp.paren(audience_predicate(other, ctx), copy=False)
    if isinstance(cond, AllCondition):
        return exp.and_(*(condition(c, ctx) for c in cond.all))
    if isinstance(cond, AnyCondition):
        return exp.paren(exp.or_(*(condition(c, ctx) for c in cond.any)), copy=False)
    if isinstance(cond, NotCondition):
        return negate(condition(cond.not_, ctx))
    raise CompileError(f"cannot compile condition {type(cond).__name__}")


# -- leaf comparisons -----------------------------------------------------------------------


def literal(value: Any, ctx: Context, col_type: ColType | None = None) -> exp.Expression:
    """A value as a literal of the right kind (timestamps cast, everything else exp.convert)."""
    if isinstance(value, datetime | date):
        return timestamp_literal(value, ctx.dialect)
    if col_type in ("timestamp", "date") and isinstance(value, str):
        try:
            return timestamp_literal(datetime.fromisoformat(value), ctx.dialect)
        except ValueError:
            pass
    return exp.convert(value)


def operators(
    column: exp.Expression, ops: Operators, ctx: Context, col_type: ColType | None
) -> exp.Expression:
    """One operator applied to `column`."""
    op = ops.operator
    value = ops.operand
    if op == "is_null":
        test = exp.Is(this=column, expression=exp.null())
        return test if value else exp.Not(this=test)
    if op == "within":
        return exp.and_(column >= ctx.clock.ago(value), column <= ctx.clock.now())
    if op == "older_than":
        return column < ctx.clock.ago(value)
    if op == "contains":
        found = exp.StrPosition(this=column, substr=exp.convert(value))
        return exp.GT(this=found, expression=exp.Literal.number(0))
    if op == "starts_with":
        head = exp.Left(this=column, expression=exp.Literal.number(len(value)))
        return head.eq(exp.convert(value))
    if op == "ends_with":
        tail = exp.Right(this=column, expression=exp.Literal.number(len(value)))
        return tail.eq(exp.convert(value))
    return compare(column, op, value, ctx, col_type)


def compare(
    column: exp.Expression, op: str, value: Any, ctx: Context, col_type: ColType | None
) -> exp.Expression:
    """eq ne gt gte lt lte in not_in between."""
    if op in ("in", "not_in"):
        test = column.isin(*(literal(v, ctx, col_type) for v in value))
        return test if op == "in" else exp.Not(this=test)
    if op == "between":
        low, high = (literal(v, ctx, col_type) for v in value)
        return exp.Between(this=column, low=low, high=high)
    node = {
        "eq": exp.EQ,
        "ne": exp.NEQ,
        "gt": exp.GT,
        "gte": exp.GTE,
        "lt": exp.LT,
        "lte": exp.LTE,
    }[op]
    return node(this=column, expression=literal(value, ctx, col_type))


def property_filter(
    props: exp.Expression, keys: list[str], ops: Operators, ctx: Context
) -> exp.Expression:
    """A filter on a JSON property: numbers compare numerically, everything else as text."""
    text = json_text(props, keys, ctx.dialect)
    op = ops.operator
    values = ops.operand if op in ("in", "not_in", "between") else [ops.operand]
    numeric = op not in ("is_null", "contains", "starts_with", "ends_with") and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    )
    if numeric:
        return operators(to_double(text, ctx.dialect), ops, ctx, "number")
    if op in ("is_null", "contains", "starts_with", "ends_with"):
        return operators(text, ops, ctx, "string")
    as_text = [_json_scalar_text(v) for v in values]
    operand: Any = as_text if op in ("in", "not_in", "between") else as_text[0]
    return compare(text, op, operand, ctx, "string")


def _json_scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


# -- events and orders ----------------------------------------------------------------------


def _filters(
    where: Mapping[str, Operators] | None, alias: str, table: str, ctx: Context
) -> list[exp.Expression]:
    out: list[exp.Expression] = []
    for name, ops in (where or {}).items():
        if name.startswith(PROPERTY_PREFIX):
            keys = name[len(PROPERTY_PREFIX) :].split(".")
            out.append(property_filter(col("properties", alias), keys, ops, ctx))
        else:
            out.append(operators(col(name, alias), ops, ctx, ctx.catalog.column_type(table, name)))
    return out


def _window(spec: Windowed, ts: exp.Expression, ctx: Context) -> list[exp.Expression]:
    out: list[exp.Expression] = [ts <= ctx.clock.now()]
    if spec.within is not None:
        out.append(ts >= ctx.clock.ago(spec.within))
    if spec.between is not None:
        out.append(ts >= ctx.clock.ago(spec.between.from_))
        out.append(ts < ctx.clock.ago(spec.between.to))
    if spec.after is not None:
        out.append(ts >= timestamp_literal(spec.after, ctx.dialect))
    if spec.before is not None:
        out.append(ts < timestamp_literal(spec.before, ctx.dialect))
    return out


def _follow_up(follow: FollowUp, alias: str, ts: exp.Expression, ctx: Context) -> exp.Expression:
    """EXISTS a later event/order of the same customer (within the follow-up's window)."""
    f = "f"
    if follow.event is not None:
        table, ts_name, where = "customer_events", "occurred_at", follow.where
    else:
        table, ts_name, where = (
            "customer_orders",
            "ordered_at",
            follow.order.where if follow.order else None,
        )
    f_ts = col(ts_name, f)
    conds: list[exp.Expression] = [
        col("customer_id", f).eq(col("customer_id", alias)),
        f_ts > ts,
        f_ts <= ctx.clock.now(),
    ]
    if follow.event is not None and follow.event != ANY_EVENT:
        conds.append(col("event_name", f).eq(exp.convert(follow.event)))
    conds.extend(_filters(where, f, table, ctx))
    if follow.within is not None:
        conds.append(f_ts <= shift(ts, follow.within, 1, ctx.dialect))
    sub = exp.select(exp.Literal.number(1)).from_(ctx.table(table, f)).where(exp.and_(*conds))
    return exp.Exists(this=sub)


def _holds_for_zero(cmp: Comparison) -> bool:
    op, v = cmp.operator, cmp.operand
    if op == "between":
        return v[0] <= 0 <= v[1]
    return {
        "eq": v == 0,
        "ne": v != 0,
        "gt": v < 0,
        "gte": v <= 0,
        "lt": v > 0,
        "lte": v >= 0,
    }[op]


def _comparison(value: exp.Expression, cmp: Comparison, ctx: Context) -> exp.Expression:
    return compare(value, cmp.operator, cmp.operand, ctx, "number")


def activity(
    spec: Windowed,
    table: str,
    ts_name: str,
    ctx: Context,
    *,
    event: EventCondition | None = None,
) -> exp.Expression:
    """Customers with matching events/orders (count, aggregate, window, sequence)."""
    alias = "e" if table == "customer_events" else "o"
    ts = col(ts_name, alias)
    conds: list[exp.Expression] = [
        exp.Not(this=exp.Is(this=col("customer_id", alias), expression=exp.null()))
    ]
    if event is not None and event.event != ANY_EVENT:
        conds.append(col("event_name", alias).eq(exp.convert(event.event)))
    conds.extend(_filters(spec.where, alias, table, ctx))
    conds.extend(_window(spec, ts, ctx))
    if event is not None:
        if event.followed_by is not None:
            conds.append(_follow_up(event.followed_by, alias, ts, ctx))
        if event.not_followed_by is not None:
            conds.append(exp.Not(this=_follow_up(event.not_followed_by, alias, ts, ctx)))
    having: list[exp.Expression] = []
    count = exp.Count(this=exp.Star())
    complement = False
    if spec.count is not None:
        cmp = spec.count
        trivial = cmp.operator == "gte" and cmp.operand <= 1 and spec.aggregate is None
        if _holds_for_zero(cmp) and spec.aggregate is None:
            complement = True
            having.append(exp.Not(this=exp.paren(_comparison(count, cmp, ctx), copy=False)))
        elif not trivial:
            having.append(_comparison(count, cmp, ctx))
    if spec.aggregate is not None:
        agg = spec.aggregate
        if agg.column.startswith(PROPERTY_PREFIX):
            keys = agg.column[len(PROPERTY_PREFIX) :].split(".")
            value = to_double(json_text(col("properties", alias), keys, ctx.dialect), ctx.dialect)
            col_type: ColType | None = "number"
        else:
            value = col(agg.column, alias)
            col_type = ctx.catalog.column_type(table, agg.column)
        fn = {"sum": exp.Sum, "avg": exp.Avg, "min": exp.Min, "max": exp.Max}[agg.function]
        having.append(compare(fn(this=value), agg.operator, agg.operand, ctx, col_type))
    customer = col("customer_id", alias)
    sub = exp.select(customer).from_(ctx.table(table, alias)).where(exp.and_(*conds))
    if having:
        sub = sub.group_by(customer.copy()).having(exp.and_(*having))
    test = col("customer_id", CUSTOMER).isin(query=sub)
    return exp.Not(this=test) if complement else test


# -- percentile -------------------------------------------------------------------------------


def percentile(cond: PercentileCondition, ctx: Context) -> exp.Expression:
    """Top/bottom N or N % of customers by a trait; ties broken by customer_id ascending."""
    spec = cond.percentile
    p, r = "p", "r"
    value = col(spec.trait, p)
    rank = exp.Window(
        this=exp.RowNumber(),
        order=exp.Order(
            expressions=[
                exp.Ordered(this=value.copy(), desc=spec.descending, nulls_first=False),
                exp.Ordered(this=col("customer_id", p), desc=False, nulls_first=False),
            ]
        ),
    )
    total = exp.Window(this=exp.Count(this=exp.Star()))
    ranked = (
        exp.select(
            col("customer_id", p),
            exp.alias_(rank, "cdpkit_rank", quoted=True),
            exp.alias_(total, "cdpkit_total", quoted=True),
        )
        .from_(ctx.table("customers", p))
        .where(
            exp.and_(
                exp.Not(this=exp.Is(this=value.copy(), expression=exp.null())),
                *_filters(spec.where, p, "customers", ctx),
            )
        )
    )
    rank_col, total_col = col("cdpkit_rank", r), col("cdpkit_total", r)
    key = spec.rank
    amount = getattr(spec, key)
    if key.endswith("_percent"):
        # (rank - 1) / total < percent / 100, in integers: exact on every engine.
        keep = exp.LT(
            this=exp.Mul(
                this=exp.paren(exp.Sub(this=rank_col, expression=exp.Literal.number(1))),
                expression=exp.Literal.number(PERCENT_SCALE),
            ),
            expression=exp.Mul(this=total_col, expression=exp.Literal.number(round(amount * 100))),
        )
    else:
        keep = exp.LTE(this=rank_col, expression=exp.Literal.number(int(amount)))
    sub = exp.select(col("customer_id", r)).from_(ranked.subquery(r)).where(keep)
    return col("customer_id", CUSTOMER).isin(query=sub)
