"""Audience benchmark: compile speed, and compiled SQL vs hand-written SQL on big marts.

1. Validate + compile + render 500 generated audiences (time per audience, every dialect).
2. Synthesize mart-shaped tables in DuckDB (default 1M customers, ~30M events, ~3M orders;
   deterministic, SQL only), then run each demo audience (audiences/*.yml) compiled by cdpkit
   and its hand-written SQL equivalent in the same run, same as_of: both must return the same
   members; the ratio compiled/hand-written of the median time must be <= 1.5.

    .venv/bin/python benchmarks/audiences.py                      # full size
    .venv/bin/python benchmarks/audiences.py --customers 100000   # quick
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cdpkit.audiences.loader import validate_files  # noqa: E402
from cdpkit.compiler import DIALECTS, membership_query, render  # noqa: E402
from cdpkit.spec.audience import AudienceSpec  # noqa: E402
from cdpkit.spec.catalog import contract_catalog  # noqa: E402
from cdpkit.spec.validation import validate_doc  # noqa: E402
from cdpkit.spec.yamlpos import parse_yaml  # noqa: E402

AS_OF = datetime(2026, 10, 31)
AS_OF_SQL = "timestamp '2026-10-31 00:00:00'"
MAX_RATIO = 1.5

# Hand-written DuckDB SQL, the way an analyst would write each demo audience ({s} = schema).
HANDWRITTEN: dict[str, str] = {
    "pricing_lurkers": """
with lurkers as (
    select customer_id from {s}.customer_events
    where event_name = 'page_viewed' and page_path = '/pricing'
      and occurred_at >= {as_of} - interval 30 day and occurred_at <= {as_of}
    group by customer_id having count(*) >= 3
), buyers as (
    select distinct customer_id from {s}.customer_orders
    where status = 'completed' and ordered_at <= {as_of}
)
select c.customer_id, c.email, c.phone, c.first_name, c.total_revenue
from {s}.customers c
join lurkers l on l.customer_id = c.customer_id
left join buyers b on b.customer_id = c.customer_id
where b.customer_id is null and not coalesce(c.is_anonymous, false) and c.consent_marketing
""",
    "cart_abandoners": """
with adds as (
    select customer_id, occurred_at from {s}.customer_events
    where event_name = 'product_added'
      and occurred_at >= {as_of} - interval 7 day and occurred_at <= {as_of}
), abandoned as (
    select distinct a.customer_id from adds a
    where not exists (
        select 1 from {s}.customer_orders o
        where o.customer_id = a.customer_id and o.status = 'completed'
          and o.ordered_at > a.occurred_at and o.ordered_at <= a.occurred_at + interval 1 day
          and o.ordered_at <= {as_of}
    )
)
select c.customer_id, c.email, c.first_name
from {s}.customers c join abandoned a on a.customer_id = c.customer_id
where not coalesce(c.is_anonymous, false) and c.consent_marketing
  and substr(md5(c.customer_id || ':cart_abandoners'), 1, 8) >= '19999999'
""",
    "top_20pct_revenue": """
with ranked as (
    select customer_id,
           row_number() over (order by total_revenue desc, customer_id) as rn,
           count(*) over () as n
    from {s}.customers where total_revenue > 0
)
select c.customer_id, c.email, c.phone, c.first_name, c.last_name, c.total_revenue
from {s}.customers c join ranked r on r.customer_id = c.customer_id
where r.rn <= ceil(r.n * 0.20) and c.consent_advertising
""",
    "lapsed_buyers_90d": """
select customer_id, email, first_name, last_order_at, total_revenue
from {s}.customers
where order_count >= 1 and last_order_at < {as_of} - interval 90 day and consent_marketing
  and substr(md5(customer_id || ':lapsed_buyers_90d'), 1, 8) >= '19999999'
""",
    "engaged_email_no_order": """
with engaged as (
    select customer_id from {s}.customer_events
    where event_name = 'email_opened'
      and occurred_at >= {as_of} - interval 60 day and occurred_at <= {as_of}
    group by customer_id having count(*) >= 2
    union
    select customer_id from {s}.customer_events
    where event_name = 'email_clicked'
      and occurred_at >= {as_of} - interval 60 day and occurred_at <= {as_of}
), buyers as (
    select distinct customer_id from {s}.customer_orders
    where status = 'completed' and ordered_at <= {as_of}
)
select c.customer_id, c.email, c.first_name
from {s}.customers c
join engaged e on e.customer_id = c.customer_id
left join buyers b on b.customer_id = c.customer_id
where b.customer_id is null and c.consent_marketing
""",
    "high_value_instore_only": """
with instore as (
    select customer_id from {s}.customer_orders
    where channel = 'pos' and status = 'completed' and ordered_at <= {as_of}
    group by customer_id having sum(total_amount) >= 250
), online as (
    select distinct customer_id from {s}.customer_orders
    where channel in ('web', 'app') and ordered_at <= {as_of}
)
select c.customer_id, c.email, c.phone, c.first_name, c.total_revenue
from {s}.customers c join instore i on i.customer_id = c.customer_id
where c.customer_id not in (select customer_id from online) and c.consent_marketing
""",
}


def handwritten(name: str, schema: str) -> str:
    return HANDWRITTEN[name].format(s=schema, as_of=AS_OF_SQL)


# -- 1. compile speed --------------------------------------------------------------------------

TEMPLATES = [
    "include: {{trait: total_revenue, gte: {n}}}\nconsent: marketing\nfields: [email]",
    "include:\n  event: page_viewed\n  where: {{page_path: /p{n}}}\n  count: {{gte: 3}}\n"
    "  within: {d}d\nexclude: {{trait: is_anonymous, eq: true}}",
    "include:\n  all:\n    - {{event: product_added, within: {d}d, not_followed_by: "
    "{{order: {{}}, within: 1d}}}}\n    - {{not: {{order: {{where: {{status: completed}}}}}}}}"
    "\nsplit: {{holdout_percent: 10}}",
    "include: {{percentile: {{trait: total_revenue, top_percent: {p}}}}}\nfields: [email, phone]",
    "include:\n  any:\n    - {{trait: country, in: [US, DE, FR]}}\n    - {{order: {{where: "
    "{{channel: pos}}, aggregate: {{sum: total_amount, gte: {n}}}}}}}\n"
    "    - {{event: product_viewed, where: {{properties.plan: pro, properties.price: "
    "{{gt: {n}}}}}}}",
]


def generated_audiences(count: int) -> list[str]:
    out = []
    for i in range(count):
        body = TEMPLATES[i % len(TEMPLATES)].format(n=10 + i, d=1 + i % 90, p=1 + i % 50)
        out.append(f"name: a{i:04d}\ndescription: generated {i}\n{body}\n")
    return out


def bench_compile(count: int) -> None:
    texts = generated_audiences(count)
    started = time.perf_counter()
    specs: list[AudienceSpec] = []
    for i, text in enumerate(texts):
        items, diagnostics = validate_doc(parse_yaml(text, f"a{i}.yml"), AudienceSpec, "A")
        assert items and not diagnostics, diagnostics
        specs.append(items[0].value)
    validated = time.perf_counter()
    by_name = {s.name: s for s in specs}
    for spec in specs:
        render(
            membership_query(spec, by_name, dialect="duckdb", schema="main", as_of=AS_OF), "duckdb"
        )
    compiled = time.perf_counter()
    for dialect in DIALECTS:
        for spec in specs:
            render(
                membership_query(spec, by_name, dialect=dialect, schema="main", as_of=None), dialect
            )
    all_dialects = time.perf_counter()
    per = lambda seconds: seconds / count * 1000  # noqa: E731
    print(f"compile: {count} audiences")
    print(f"  parse + validate            {per(validated - started):7.2f} ms/audience")
    print(f"  compile + render (duckdb)   {per(compiled - validated):7.2f} ms/audience")
    print(
        f"  compile + render ({len(DIALECTS)} dialects) {per(all_dialects - compiled):7.2f} "
        f"ms/audience ({per(all_dialects - compiled) / len(DIALECTS):.2f} per dialect)"
    )


# -- 2. evaluation on big marts ------------------------------------------------------------------

U = "((hash(i, {k}) % 1000000) / 1000000.0)"  # deterministic uniform [0, 1) per row and key


def u(k: int) -> str:
    return U.format(k=k)


def synthesize(con: duckdb.DuckDBPyConnection, customers: int, events: int, orders: int) -> None:
    """Mart-shaped tables (ARCHITECTURE §4) in schema main, from SQL alone."""
    cid = "'cus_' || lpad(cast({x} as varchar), 9, '0')"
    skewed = f"cast(floor({customers} * pow({{u}}, 1.6)) as bigint)"
    ref = AS_OF_SQL
    con.execute("set preserve_insertion_order = false")
    con.execute(f"""
        create or replace table customer_orders as
        select 'ord_' || cast(i as varchar) as order_id,
               {cid.format(x=skewed.format(u=u(1)))} as customer_id,
               case when {u(2)} < 0.5 then 'web' when {u(2)} < 0.7 then 'app' else 'pos' end
                   as channel,
               cast(round(5 + {u(3)} * 295, 2) as decimal(18, 2)) as total_amount,
               case when {u(4)} < 0.9 then 'completed' when {u(4)} < 0.95 then 'refunded'
                    else 'cancelled' end as status,
               {ref} - to_seconds(cast({u(5)} * 548 * 86400 as bigint)) as ordered_at
        from range({orders}) t(i)
    """)
    names = [
        (0.45, "page_viewed"),
        (0.65, "product_viewed"),
        (0.75, "product_added"),
        (0.80, "checkout_started"),
        (0.83, "order_completed"),
        (0.93, "email_opened"),
        (0.97, "email_clicked"),
        (1.01, "screen_viewed"),
    ]
    event_case = " ".join(f"when {u(12)} < {p} then '{n}'" for p, n in names)
    con.execute(f"""
        create or replace table customer_events as
        select 'evt_' || cast(i as varchar) as event_id,
               {cid.format(x=skewed.format(u=u(11)))} as customer_id,
               case when {u(12)} < 0.45 then 'page' else 'track' end as event_type,
               case {event_case} end as event_name,
               {ref} - to_seconds(cast(pow({u(13)}, 2) * 548 * 86400 as bigint)) as occurred_at,
               case when {u(14)} < 0.6 then 'web' when {u(14)} < 0.8 then 'ios' else 'android' end
                   as source,
               case when {u(12)} >= 0.45 then null
                    when {u(15)} < 0.08 then '/pricing'
                    else '/products/p' || cast(hash(i, 16) % 500 as varchar) end as page_path,
               case when {u(12)} between 0.45 and 0.75
                    then '{{"plan":"' || (case when {u(17)} < 0.3 then 'pro' else 'basic' end)
                         || '","price":' || cast(round({u(18)} * 200, 2) as varchar) || '}}'
                    else '{{}}' end as properties
        from range({events}) t(i)
    """)
    con.execute(f"""
        create or replace table customers as
        with o as (
            select customer_id,
                   count(*) filter (where status = 'completed') as order_count,
                   coalesce(sum(total_amount) filter (where status = 'completed'), 0)
                       as total_revenue,
                   min(ordered_at) filter (where status = 'completed') as first_order_at,
                   max(ordered_at) filter (where status = 'completed') as last_order_at
            from customer_orders group by customer_id
        ), base as (
            select i, {cid.format(x="i")} as customer_id,
                   {u(21)} < 0.4 as anonymous
            from range({customers}) t(i)
        )
        select b.customer_id,
               case when b.anonymous and o.customer_id is null then null
                    else 'p' || cast(b.i as varchar) || '@example.com' end as email,
               case when {u(22)} < 0.3 then '+1555' || lpad(cast(b.i as varchar), 7, '0') end
                   as phone,
               case when {u(23)} < 0.5 then 'First' || cast(b.i % 997 as varchar) end
                   as first_name,
               case when {u(23)} < 0.5 then 'Last' || cast(b.i % 991 as varchar) end
                   as last_name,
               'City' || cast(b.i % 200 as varchar) as city,
               (['US', 'DE', 'FR', 'GB', 'IE'])[1 + cast(b.i % 5 as integer)] as country,
               {ref} - to_seconds(cast({u(24)} * 548 * 86400 as bigint)) as first_seen_at,
               {ref} - to_seconds(cast({u(25)} * 30 * 86400 as bigint)) as last_seen_at,
               b.anonymous and o.customer_id is null as is_anonymous,
               case when coalesce(o.order_count, 0) > 0 then 'customer'
                    when b.anonymous then 'visitor' else 'lead' end as lifecycle_stage,
               coalesce(o.order_count, 0) as order_count,
               coalesce(o.total_revenue, 0) as total_revenue,
               o.first_order_at,
               o.last_order_at,
               {u(26)} < 0.35 as consent_marketing,
               {u(27)} < 0.2 as consent_advertising
        from base b left join o on o.customer_id = b.customer_id
    """)


def timed_pair(
    first: Callable[[], object], second: Callable[[], object], repeats: int
) -> tuple[float, object, float, object]:
    """Median seconds and result of each, runs interleaved so load spikes hit both alike."""
    times: tuple[list[float], list[float]] = ([], [])
    results: list[object] = [None, None]
    for _ in range(repeats):
        for k, run in enumerate((first, second)):
            started = time.perf_counter()
            results[k] = run()
            times[k].append(time.perf_counter() - started)
    return statistics.median(times[0]), results[0], statistics.median(times[1]), results[1]


def bench_evaluate(
    db: Path, customers: int, events: int, orders: int, repeats: int, threads: int
) -> bool:
    fresh = not db.exists()
    con = duckdb.connect(str(db), config={"threads": threads})
    sizes = None
    if not fresh:
        try:
            sizes = con.execute(
                "select (select count(*) from customers), (select count(*) from customer_events), "
                "(select count(*) from customer_orders)"
            ).fetchone()
        except duckdb.Error:
            sizes = None
    if sizes != (customers, events, orders):
        started = time.perf_counter()
        synthesize(con, customers, events, orders)
        con.execute("checkpoint")
        print(f"synthesized marts in {time.perf_counter() - started:.1f}s ({db})")
    print(f"marts: {customers:,} customers, {events:,} events, {orders:,} orders")
    validation = validate_files(sorted((ROOT / "audiences").glob("*.yml")), contract_catalog())
    assert not validation.errors, validation.errors
    ok = True
    print(f"{'audience':<26}{'members':>10}{'cdpkit s':>10}{'hand s':>10}{'ratio':>8}")
    for name in HANDWRITTEN:
        spec = validation.audiences[name]
        compiled = render(
            membership_query(
                spec, validation.audiences, dialect="duckdb", schema="main", as_of=AS_OF
            ),
            "duckdb",
        )
        hand = handwritten(name, "main")
        wrap = "select count(*), coalesce(sum(hash(customer_id)), 0) from ({q}) as m"
        run_compiled = wrap.format(q=compiled)
        run_hand = wrap.format(q=hand)
        t_compiled, r_compiled, t_hand, r_hand = timed_pair(
            lambda q=run_compiled: con.execute(q).fetchone(),
            lambda q=run_hand: con.execute(q).fetchone(),
            repeats,
        )
        ratio = t_compiled / t_hand if t_hand else float("inf")
        same = r_compiled == r_hand
        ok &= same and ratio <= MAX_RATIO
        flag = "" if same else "  MISMATCH"
        print(
            f"{name:<26}{r_compiled[0]:>10,}{t_compiled:>10.3f}{t_hand:>10.3f}{ratio:>8.2f}{flag}"
        )
    con.close()
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--audiences", type=int, default=500, help="audiences to compile")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--events-per-customer", type=int, default=30)
    parser.add_argument("--orders-per-customer", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=3, help="runs per query (median)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--db", type=Path, default=Path("/tmp/cdpkit_bench_audiences.duckdb"),
        help="DuckDB file for the synthetic marts (reused when the sizes match)",
    )  # fmt: skip
    args = parser.parse_args()
    bench_compile(args.audiences)
    events = args.customers * args.events_per_customer
    orders = int(args.customers * args.orders_per_customer)
    ok = bench_evaluate(args.db, args.customers, events, orders, args.repeats, args.threads)
    print(f"result: {'PASS' if ok else 'FAIL'} (same members everywhere, ratio <= {MAX_RATIO})")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
