"""CRM connectors (HubSpot, Salesforce): records/s through the whole sync engine against their
fakes over real HTTP, compared in the same run with the ceiling the API's limits allow.

Each scenario syncs the same audience (a DuckDB table of N people) with `cdpkit`'s engine
(plan in the warehouse, batches, workers, retries, checkpoints) into a fresh fake:

* `hubspot limited`: the fake enforces the Professional tier (190 requests per rolling 10 s)
  and answers after a realistic latency; the connector paces itself with its rolling window.
  Ceiling: 19 requests/s x 50 records per request (a batch of 100 is one upsert + one list
  add) = 950 records/s. Ratio = measured / ceiling.
* `salesforce rest` / `salesforce bulk`: Salesforce has no per-second limit; it meters API
  requests per rolling 24 h (Enterprise base: 100,000). Figures: records/s, requests per 1,000
  records, and the day-long ceiling (allocation x records per request / 86,400 s), plus how long
  this rate could run before the whole daily allocation is used.
* `... open`: no limits, no latency: the connector's and engine's own cost.

    .venv/bin/python benchmarks/crm.py                   # 10,000 records per scenario
    .venv/bin/python benchmarks/crm.py --records 3000    # quick
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cdpkit.destinations.base import Destination  # noqa: E402
from cdpkit.destinations.hubspot import HubSpotDestination  # noqa: E402
from cdpkit.destinations.salesforce import SalesforceDestination  # noqa: E402
from cdpkit.project import Target  # noqa: E402
from cdpkit.sandbox.fake import Fake  # noqa: E402
from cdpkit.sandbox.fakes_hubspot import HubSpotFake, sandbox_token  # noqa: E402
from cdpkit.sandbox.fakes_salesforce import (  # noqa: E402
    DEFAULT_CLIENT_ID,
    SalesforceFake,
    sandbox_client_secret,
)
from cdpkit.sandbox.fakes_salesforce_data import FieldDef  # noqa: E402
from cdpkit.sandbox.server import Sandbox  # noqa: E402
from cdpkit.sync.engine import run_jobs  # noqa: E402
from cdpkit.sync.jobs import EngineOptions, SyncJob  # noqa: E402
from cdpkit.sync.membership import fixture_membership  # noqa: E402
from cdpkit.warehouse import Warehouse  # noqa: E402

HUBSPOT_WINDOW = 190  # Professional: requests per rolling 10 s
SALESFORCE_DAILY = 100_000  # Enterprise base allocation per rolling 24 h
COLUMNS = (
    ("customer_id", "text"),
    ("email", "text"),
    ("first_name", "text"),
    ("last_name", "text"),
    ("total_revenue", "double"),
)


@dataclass(frozen=True)
class Result:
    name: str
    records: int
    seconds: float
    requests: int
    throttled: int
    ceiling: float | None  # records/s the API limits allow (None: no per-second limit)
    note: str = ""

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


def warehouse(path: Path, n: int) -> Warehouse:
    con = duckdb.connect(str(path))
    con.execute(
        "create or replace table audience as select "
        "'c' || lpad(i::text, 7, '0') as customer_id, "
        "'person' || i || '@example.com' as email, "
        "'First' || i as first_name, 'Last' || i as last_name, "
        "(i % 997) * 1.5 as total_revenue from range(?) t(i)",
        [n],
    )
    target = Target(name="dev", type="duckdb", settings={"path": str(path), "schema": "main"})
    return Warehouse(target, con, location=str(path))


def job(name: str, connector: type[Destination], config: dict[str, Any]) -> SyncJob:
    loaded = connector.config_model.model_validate(config)
    sync = loaded.syncs[0]
    fields = tuple(c for c, _ in COLUMNS[1:])
    return SyncJob(
        destination=name,
        config=loaded,
        sync=sync,
        connector=connector,
        membership=fixture_membership(sync.audience, "audience", fields, schema="main"),
    )


def run(name: str, fake: Fake, make_job: Any, n: int, ceiling: float | None, note: str) -> Result:
    with tempfile.TemporaryDirectory() as tmp, Sandbox(port=0, fakes=[fake]) as sandbox:
        os.environ["BENCH_SANDBOX"] = sandbox.base_url
        wh = warehouse(Path(tmp) / "bench.duckdb", n)
        started = time.monotonic()
        outcome = run_jobs(wh, [make_job()], EngineOptions(project_root=Path(tmp)))[0]
        seconds = time.monotonic() - started
        wh.close()
    if outcome.status != "success":
        raise SystemExit(f"{name}: {outcome.status}: {outcome.error}")
    done = sum(outcome.confirmed.values())
    assert done == n, (name, done, n)
    if isinstance(fake, HubSpotFake):
        requests = fake.limits.used_today + sum(
            v for k, v in fake.stats.items() if k.startswith("throttled_")
        )
    else:
        assert isinstance(fake, SalesforceFake)
        requests = fake.used_today + fake.stats["token"]
    return Result(name, n, seconds, requests, outcome.throttled, ceiling, note)


def hubspot(n: int, latency_s: float, limited: bool) -> Result:
    fake = HubSpotFake()
    fake.configure(
        {"ten_second_limit": HUBSPOT_WINDOW if limited else 1_000_000, "daily_limit": 10_000_000}
    )
    fake.faults.configure({"latency_s": latency_s})
    config = {
        "type": "hubspot",
        "base_url": "${BENCH_SANDBOX}/hubspot",
        "token": "${BENCH_HS_TOKEN}",
        "tier": "professional",
        "create_properties": True,
        "property_types": {"ltv": "number"},
        "syncs": [
            {
                "audience": "bench",
                "mode": "mirror",
                "identifier": "email",
                "mapping": {
                    "email": "email",
                    "firstname": "first_name",
                    "lastname": "last_name",
                    "ltv": "total_revenue",
                },
                "list": "Bench",
            }
        ],
    }
    if not limited:
        config["ten_second_limit"] = 10_000
    os.environ["BENCH_HS_TOKEN"] = sandbox_token()
    ceiling = HUBSPOT_WINDOW / 10.0 * 50 if limited else None
    name = "hubspot limited" if limited else "hubspot open"
    note = f"Professional 190/10 s, {latency_s * 1000:.0f} ms latency" if limited else "no limits"
    return run(name, fake, lambda: job("hs_bench", HubSpotDestination, config), n, ceiling, note)


def salesforce(n: int, latency_s: float, bulk: bool, open_: bool = False) -> Result:
    fake = SalesforceFake()
    fake.add_field("Contact", FieldDef("LTV__c", "double"))
    fake.configure({"daily_limit": 10_000_000, "processing_delay_s": 0.0 if open_ else 2.0})
    fake.faults.configure({"latency_s": 0.0 if open_ else latency_s})
    config: dict[str, Any] = {
        "type": "salesforce",
        "base_url": "${BENCH_SANDBOX}/salesforce",
        "client_id": "${BENCH_SF_ID}",
        "client_secret": "${BENCH_SF_SECRET}",
        "bulk_poll_interval_s": 1.0,
        "syncs": [
            {
                "audience": "bench",
                "mode": "mirror",
                "identifier": "email",
                "mapping": {
                    "Email": "email",
                    "FirstName": "first_name",
                    "LastName": "last_name",
                    "LTV__c": "total_revenue",
                },
                "list": "Bench",
            }
        ],
    }
    if bulk:
        config.update(bulk_threshold=1, batch_size=10_000)
    else:
        config.update(bulk_threshold=1_000_000_000)  # REST (sObject Collections) only
    os.environ["BENCH_SF_ID"] = DEFAULT_CLIENT_ID
    os.environ["BENCH_SF_SECRET"] = sandbox_client_secret()
    kind = "bulk" if bulk else "rest"
    name = f"salesforce {kind}" + (" open" if open_ else "")
    note = (
        "no latency"
        if open_
        else f"{latency_s * 1000:.0f} ms latency" + (", 2 s job processing" if bulk else "")
    )
    return run(name, fake, lambda: job("sf_bench", SalesforceDestination, config), n, None, note)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--hubspot-latency-ms", type=float, default=150)
    parser.add_argument("--salesforce-latency-ms", type=float, default=300)
    args = parser.parse_args()
    n = args.records
    results = [
        hubspot(n, args.hubspot_latency_ms / 1000, limited=True),
        hubspot(n, 0.0, limited=False),
        salesforce(n, args.salesforce_latency_ms / 1000, bulk=False),
        salesforce(n, args.salesforce_latency_ms / 1000, bulk=True),
        salesforce(n, 0.0, bulk=False, open_=True),
    ]
    print(f"\nCRM sync throughput, {n:,} records per scenario (engine + HTTP + fake)\n")
    print(
        f"{'scenario':<22}{'records/s':>11}{'seconds':>9}{'requests':>10}{'req/1k rec':>11}"
        f"{'429s':>6}  vs limit"
    )
    for r in results:
        per_k = 1000 * r.requests / r.records
        if r.ceiling:
            versus = f"{r.rate / r.ceiling:.0%} of {r.ceiling:,.0f} records/s allowed"
        elif r.name.startswith("salesforce") and "open" not in r.name:
            records_per_request = r.records / r.requests
            day = SALESFORCE_DAILY * records_per_request / 86_400
            hours = SALESFORCE_DAILY / (r.requests / r.seconds) / 3600
            versus = (
                f"{r.rate / day:.1f}x the {day:,.0f} records/s a 100k/day org sustains; "
                f"allocation used up after {hours:.1f} h at this rate"
            )
        else:
            versus = "-"
        print(
            f"{r.name:<22}{r.rate:>11,.0f}{r.seconds:>9.1f}{r.requests:>10}{per_k:>11.1f}"
            f"{r.throttled:>6}  {versus}  ({r.note})"
        )
    limited, unlimited = results[0], results[1]
    assert limited.ceiling is not None
    print(
        f"\nhubspot: without limits the connector does {unlimited.rate:,.0f} records/s "
        f"({unlimited.rate / limited.ceiling:.1f}x the API ceiling), so the limit bounds the "
        f"limited run, which reached {limited.rate / limited.ceiling:.0%} of it with "
        f"{limited.throttled} 429s"
    )


if __name__ == "__main__":
    main()
