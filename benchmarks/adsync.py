"""Ad-platform and messaging connectors: records/s against their fakes, and match keys per record.

For each connector (Meta, Google Data Manager, Klaviyo, Braze) the same synthetic customers
(realistic fill rates: every record has an email, 60% a phone, 50% names/city/country) are
delivered in batches of the connector's maximum, with its worker count, through the engine's
`deliver()` and a token bucket, over real HTTP to its fake, twice in the same run:

* `limited`: the fake enforces the vendor's published limits and the connector paces itself
  with its default rate limit; compared with the ceiling those limits allow (ratio);
* `open`: no limits anywhere: the connector's own cost (normalize, hash, encode, parse).

A third figure compares normalize+hash per record with a bare `hashlib.sha256(email)` loop
(the cheapest possible upload), as a ratio. Match keys per record are counted on the fake's
side (what arrived), so they show what the normalization lets through.

    .venv/bin/python benchmarks/adsync.py                 # 30,000 records per connector
    .venv/bin/python benchmarks/adsync.py --records 5000  # quick
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cdpkit.destinations.base import Batch, Destination, Record, SyncContext  # noqa: E402
from cdpkit.destinations.braze import BrazeDestination  # noqa: E402
from cdpkit.destinations.google_customer_match import GoogleCustomerMatchDestination  # noqa: E402
from cdpkit.destinations.klaviyo import KlaviyoDestination  # noqa: E402
from cdpkit.destinations.meta_custom_audience import MetaCustomAudienceDestination  # noqa: E402
from cdpkit.matchkeys import build_meta_row  # noqa: E402
from cdpkit.sandbox.fake import Fake  # noqa: E402
from cdpkit.sandbox.fakes_braze import BrazeFake  # noqa: E402
from cdpkit.sandbox.fakes_google import GoogleFake  # noqa: E402
from cdpkit.sandbox.fakes_klaviyo import KlaviyoFake  # noqa: E402
from cdpkit.sandbox.fakes_meta import MetaFake  # noqa: E402
from cdpkit.sandbox.server import Sandbox  # noqa: E402
from cdpkit.sync.delivery import deliver  # noqa: E402
from cdpkit.sync.http import HttpClient  # noqa: E402
from cdpkit.sync.ratelimit import TokenBucket  # noqa: E402
from cdpkit.sync.retry import RetryPolicy  # noqa: E402

RETRY = RetryPolicy(max_attempts=20, base_delay_s=0.2, max_delay_s=5, max_elapsed_s=600)
CITIES = ("New York", "Chicago", "London", "Berlin", "Toronto")
COUNTRIES = ("US", "US", "GB", "DE", "CA")
PHONES = (
    "+1 (212) 8{a:02d}-{b:04d}",
    "+44 20 7{a:03d} {b:04d}",
    "+49 30 {a:02d}{b:04d}0",
    "+1 416 8{a:02d} {b:04d}",
)


def people(n: int) -> list[dict[str, Any]]:
    """Deterministic customers with realistic gaps."""
    rows = []
    for i in range(n):
        k = i % 5
        rows.append(
            {
                "customer_id": f"c{i:07d}",
                "email": f" Person.{i}@Example.com",
                "phone": PHONES[i % 4].format(a=i // 10_000 % 100, b=i % 10_000)
                if i % 10 < 6
                else None,
                "first_name": "Zoë" if i % 2 else None,
                "last_name": f"O'Doe{i % 97}" if i % 2 else None,
                "city": CITIES[k] if i % 2 else None,
                "country": COUNTRIES[k] if i % 2 else None,
            }
        )
    return rows


@dataclass(frozen=True)
class Case:
    name: str
    connector: type[Destination]
    fake: Callable[[bool], Fake]
    config: Callable[[str], dict[str, Any]]
    fields: dict[str, str]  # destination field <- person column
    ceiling: float  # records/s the published limits allow
    limits: str


def sync(mapping: dict[str, str], identifier: str, **extra: Any) -> dict[str, Any]:
    return {
        "audience": "bench",
        "mode": "mirror",
        "identifier": identifier,
        "mapping": mapping,
        **extra,
    }


META_FIELDS = {
    "EMAIL": "email",
    "PHONE": "phone",
    "FN": "first_name",
    "LN": "last_name",
    "CT": "city",
    "COUNTRY": "country",
}
GOOGLE_FIELDS = {
    "email": "email",
    "phone": "phone",
    "first_name": "first_name",
    "last_name": "last_name",
    "country": "country",
}
KLAVIYO_FIELDS = {
    "email": "email",
    "phone_number": "phone",
    "first_name": "first_name",
    "last_name": "last_name",
    "location.city": "city",
    "location.country": "country",
}
BRAZE_FIELDS = {
    "external_id": "customer_id",
    "email": "email",
    "phone": "phone",
    "first_name": "first_name",
    "last_name": "last_name",
    "country": "country",
}

CASES = [
    Case(
        "meta_custom_audience",
        MetaCustomAudienceDestination,
        lambda limited: MetaFake(calls_per_window=600 if limited else None, window_s=3600),
        lambda url: {
            "type": "meta_custom_audience",
            "base_url": url,
            "access_token": "${BENCH_META}",
            "ad_account_id": "1000000001",
            "on_invalid_value": "drop",
            "syncs": [sync({**META_FIELDS}, "email", list="bench")],
        },
        META_FIELDS,
        2 * 10_000,
        "connector 2 req/s (no published number; BUC 80003 beyond), 10,000 rows/request",
    ),
    Case(
        "google_customer_match",
        GoogleCustomerMatchDestination,
        lambda limited: GoogleFake(per_minute=300 if limited else None, per_day=None),
        lambda url: {
            "type": "google_customer_match",
            "base_url": url,
            "ads_base_url": url,
            "token_url": f"{url}/token",
            "customer_id": "1234567890",
            "access_token": "${BENCH_GOOGLE}",
            "developer_token": "${BENCH_GOOGLE_DEV}",
            "on_invalid_value": "drop",
            "syncs": [sync({**GOOGLE_FIELDS}, "email", list="bench")],
        },
        GOOGLE_FIELDS,
        5 * 10_000,
        "Data Manager 300 requests/min, 10,000 members/request",
    ),
    Case(
        "klaviyo",
        KlaviyoDestination,
        lambda limited: KlaviyoFake(
            processing_delay_s=0.2,
            tiers=None if limited else {"M": (10**6, 10**7), "L": (10**6, 10**7)},
        ),
        lambda url: {
            "type": "klaviyo",
            "base_url": url,
            "api_key": "${BENCH_KLAVIYO}",
            "job_poll_s": 0.25,
            "on_invalid_value": "drop",
            "syncs": [sync({**KLAVIYO_FIELDS}, "email", list="bench")],
        },
        KLAVIYO_FIELDS,
        2.5 * 10_000,
        "bulk import 10/s burst, 150/min steady, 10,000 profiles/job (+ job polling)",
    ),
    Case(
        "braze",
        BrazeDestination,
        lambda limited: BrazeFake(requests_per_window=3000 if limited else 10**9, window_s=3.0),
        lambda url: {
            "type": "braze",
            "base_url": url,
            "api_key": "${BENCH_BRAZE}",
            "on_invalid_value": "drop",
            "syncs": [sync({**BRAZE_FIELDS}, "customer_id")],
        },
        BRAZE_FIELDS,
        200 * 75,
        "/users/track 3,000 req/3 s (connector paces 200 req/s), 75 objects/request",
    ),
]


def build(case: Case, url: str, limited: bool) -> Destination:
    config = case.connector.config_model.model_validate(case.config(url))
    s = config.syncs[0]
    context = SyncContext(
        "bench.bench",
        "bench",
        s.sync_name,
        s.audience,
        s.mode,
        s.list_name,
        s.identifier,
        tuple(s.mapping),
        "bench",
        ROOT,
    )
    rate = case.connector.rate_limit
    bucket = TokenBucket(rate.per_second, rate.burst) if (limited and rate) else TokenBucket(None)
    return case.connector(config, context, HttpClient(url, limiter=bucket, timeout_s=60))


def batches(case: Case, rows: list[dict[str, Any]], size: int) -> list[Batch]:
    identifier = {"braze": "customer_id"}.get(case.name, "email")
    records = [
        Record(
            key=row[identifier],
            change="add",
            fields={dest: row[src] for dest, src in case.fields.items() if row[src] is not None},
        )
        for row in rows
    ]
    return [
        Batch("bench.bench", "upsert", tuple(records[i : i + size]))
        for i in range(0, len(records), size)
    ]


def run(case: Case, rows: list[dict[str, Any]], limited: bool) -> tuple[float, int, float, Fake]:
    fake = case.fake(limited)
    with Sandbox(port=0, fakes=[fake]) as server:
        connector = build(case, server.url(fake.name), limited)
        connector.check()
        from cdpkit.destinations.base import PlanInfo

        connector.open(PlanInfo(len(rows), 0, 0, len(rows)))
        work = batches(case, rows, case.connector.max_batch_size)
        started = time.perf_counter()
        with ThreadPoolExecutor(case.connector.max_concurrency) as pool:
            deliveries = list(pool.map(lambda b: deliver(connector, b, RETRY), work))
        from cdpkit.destinations.base import RunSummary

        connector.close(RunSummary("success", len(rows), 0))
        seconds = time.perf_counter() - started
    errors = [d.error for d in deliveries if d.error is not None]
    if errors:
        raise SystemExit(f"{case.name}: delivery failed: {errors[0]}")
    confirmed = sum(len(d.confirmed) for d in deliveries)
    throttled = sum(d.retries for d in deliveries)
    return seconds, confirmed, throttled, fake


def keys_per_record(case: Case, fake: Fake) -> float:
    if isinstance(fake, MetaFake):
        audience = fake.audience_named("bench")
        persons = audience.members.persons() if audience else []
    elif isinstance(fake, GoogleFake):
        user_list = fake.list_named("bench")
        persons = user_list.members.persons() if user_list else []
    elif isinstance(fake, KlaviyoFake):
        ids = ("email", "phone_number", "external_id")
        profiles = list(fake.profiles.values())
        return sum(sum(1 for k in ids if p.attributes.get(k)) for p in profiles) / max(
            1, len(profiles)
        )
    elif isinstance(fake, BrazeFake):
        ids = ("external_id", "email", "phone")
        users = list(fake.users.values())
        return sum(sum(1 for k in ids if u.get(k)) for u in users) / max(1, len(users))
    else:
        return 0.0
    return sum(len(p) for p in persons) / max(1, len(persons))


def hashing_ratio(rows: list[dict[str, Any]]) -> tuple[float, float]:
    emails = [row["email"] for row in rows]
    started = time.perf_counter()
    for email in emails:
        hashlib.sha256(email.strip().lower().encode()).hexdigest()
    bare = len(emails) / (time.perf_counter() - started)
    schema = tuple(META_FIELDS)
    started = time.perf_counter()
    for row in rows:
        build_meta_row(schema, {k: row[v] for k, v in META_FIELDS.items()}, default_region="US")
    full = len(rows) / (time.perf_counter() - started)
    return bare, full


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=30_000)
    parser.add_argument("--only", choices=[c.name for c in CASES], action="append")
    args = parser.parse_args()
    for var, value in {
        "BENCH_META": "sandbox-meta-token",
        "BENCH_GOOGLE": "sandbox-google-token",
        "BENCH_GOOGLE_DEV": "sandbox-dev-token",
        "BENCH_KLAVIYO": "pk_sandbox_klaviyo",
        "BENCH_BRAZE": "sandbox-braze-key",
    }.items():
        os.environ[var] = value
    rows = people(args.records)
    print(
        f"{args.records:,} records per connector, batches of the connector's maximum, "
        "its worker count\n"
    )
    print(
        f"{'connector':<22} {'limited rec/s':>13} {'ceiling':>9} {'ratio':>6} {'retries':>7} "
        f"{'open rec/s':>11} {'keys/rec':>8}"
    )
    for case in CASES:
        if args.only and case.name not in args.only:
            continue
        seconds, confirmed, retries, fake = run(case, rows, limited=True)
        limited_rate = confirmed / seconds
        keys = keys_per_record(case, fake)
        open_seconds, open_confirmed, _, _ = run(case, rows, limited=False)
        open_rate = open_confirmed / open_seconds
        print(
            f"{case.name:<22} {limited_rate:>13,.0f} {case.ceiling:>9,.0f} "
            f"{limited_rate / case.ceiling:>6.2f} {retries:>7} {open_rate:>11,.0f} {keys:>8.2f}"
        )
        print(f"{'':<22} limits: {case.limits}")
    bare, full = hashing_ratio(rows)
    print(
        f"\nnormalize+hash a Meta row (6 keys, phonenumbers): {full:,.0f} rows/s; "
        f"bare sha256(email): {bare:,.0f}/s; ratio {full / bare:.3f}"
    )


if __name__ == "__main__":
    main()
