"""Audience membership over time: who entered and exited when, and the size at each run.

`cdpkit.audience_membership` holds one row per stay (exited_at NULL while a member), so

    -- when did this person enter?          -- size on a given day
    select entered_at from cdpkit.audience_membership
    where audience = 'vip' and customer_id = 'c_42' and exited_at is null;

Holdout members count as members here (they are in the audience, just never synced).
"""

from __future__ import annotations

import datetime as dt

from sqlglot import exp

from cdpkit.sync.sql import col, param, render, table
from cdpkit.warehouse import Warehouse


def record(
    wh: Warehouse,
    audience: str,
    members_table: str,
    run_id: str,
    now: dt.datetime,
    *,
    holdout_column: str | None = None,
) -> None:
    """Close stays of members who left, open stays for new ones, snapshot the size (one
    transaction)."""
    open_stay = exp.and_(
        col("audience", "a").eq(param()), exp.Is(this=col("exited_at", "a"), expression=exp.Null())
    )
    still_member = exp.Exists(
        this=exp.select(exp.Literal.number(1))
        .from_(table(members_table, None, alias="m"))
        .where(col("customer_id", "m").eq(col("customer_id", "a")))
    )
    is_open = exp.Exists(
        this=exp.select(exp.Literal.number(1))
        .from_(table("audience_membership", alias="a"))
        .where(exp.and_(open_stay, col("customer_id", "a").eq(col("customer_id", "m"))))
    )
    newcomers = (
        exp.select(param(), col("customer_id", "m"), param(), param())
        .distinct()
        .from_(table(members_table, None, alias="m"))
        .where(
            exp.and_(
                exp.Not(this=exp.Is(this=col("customer_id", "m"), expression=exp.Null())),
                exp.Not(this=is_open),
            )
        )
    )
    close = exp.update(
        table("audience_membership", alias="a"),
        {"exited_at": param(), "exited_run_id": param()},
        where=exp.and_(open_stay, exp.Not(this=still_member)),
    )
    insert = exp.insert(
        newcomers,
        table("audience_membership"),
        columns=[
            exp.to_identifier(c, quoted=True)
            for c in ("audience", "customer_id", "entered_at", "entered_run_id")
        ],
    )
    holdout: exp.Expression = exp.Literal.number(0)
    if holdout_column:
        holdout = exp.Sum(
            this=exp.Case(
                ifs=[
                    exp.If(
                        this=exp.func("coalesce", col(holdout_column), exp.false()),
                        true=exp.Literal.number(1),
                    )
                ],
                default=exp.Literal.number(0),
            )
        )
    snapshot = exp.insert(
        exp.select(
            param(),
            param(),
            param(),
            exp.Count(this=exp.Star()),
            exp.func("coalesce", holdout, exp.Literal.number(0)),
        ).from_(table(members_table, None)),
        table("audience_snapshots"),
        columns=[
            exp.to_identifier(c, quoted=True)
            for c in ("audience", "run_id", "measured_at", "members", "holdout")
        ],
    )
    with wh.transaction():
        wh.execute(render(close, wh.dialect), [now, run_id, audience])
        wh.execute(render(insert, wh.dialect), [audience, now, run_id, audience])
        wh.execute(render(snapshot, wh.dialect), [audience, run_id, now])
