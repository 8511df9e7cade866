"""Engine hooks the connectors use: quota exhausted -> deferred, full resync, removals with their
last-synced fields, check()/open() retries, config-dependent rate limits and batch sizes.

On a real DuckDB file and on PostgreSQL, with the in-memory destination of helpers.py.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import replace
from decimal import Decimal
from typing import Any, ClassVar, Literal

import pytest

from cdpkit.destinations.base import PlanInfo, RateLimit
from cdpkit.sync.config import DestinationConfig
from cdpkit.sync.jobs import exit_code
from cdpkit.sync.ratelimit import LIMITERS, SlidingWindow, TokenBucket
from cdpkit.warehouse import Warehouse

from .helpers import (
    MemoryConfig,
    MemoryDestination,
    MemoryStore,
    Person,
    expected_fields,
    memory_job,
    people,
    run,
    state_rows,
    write_customers,
    write_members,
)

FAST_RETRY = {"base_delay_s": 0.01, "max_delay_s": 0.02}


def setup(wh: Warehouse, persons: list[Person]) -> None:
    write_customers(wh, wh.schema, persons)
    write_members(wh, wh.schema, "members", persons)


def run_row(wh: Warehouse, run_id: str | None, *columns: str) -> tuple[Any, ...] | None:
    ph = "?" if wh.dialect == "duckdb" else "%s"
    return wh.fetchone(
        f"select {', '.join(columns)} from cdpkit.sync_runs where run_id = {ph}", [run_id]
    )


# -- 1. quota exhausted ----------------------------------------------------------------------
def test_a_used_up_quota_defers_the_run_and_the_next_run_resumes(wh: Warehouse, uid: str) -> None:
    crowd = people(250)
    setup(wh, crowd)
    resets = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=5)).replace(microsecond=0)
    store = MemoryStore(quota_after=2, quota_resets_at=resets)  # check() + one batch of 100
    job = memory_job(store, schema=wh.schema, destination=uid, config={"concurrency": 1})
    [out] = run(wh, job)
    assert out.status == "deferred", out.error
    assert exit_code([out]) == 4
    assert out.confirmed == {"add": 100, "update": 0, "remove": 0}
    error = out.error or ""
    assert "daily quota is used up" in error
    assert f"resets at {resets:%Y-%m-%d %H:%M} UTC (in 4h 5" in error
    assert "150 record(s) not sent yet go out on the next run" in error
    assert out.resets_at == resets
    assert len(state_rows(wh, job.sync_id)) == 100 == len(store.records)
    assert [s.status for s in store.closed] == ["deferred"]
    status, stored_reset, err = run_row(wh, out.run_id, "status", "resets_at", "error") or ()
    assert status == "deferred" and stored_reset == resets.replace(tzinfo=None)
    assert "not sent yet" in err
    store.quota_after = None  # the quota is back
    [again] = run(wh, job)
    assert again.status == "success" and again.confirmed["add"] == 150
    assert exit_code([again]) == 0
    assert set(store.records) == {p.email for p in crowd}
    sent = [key for _, keys in store.calls for key in keys]
    assert len(sent) == len(set(sent)) == 250  # nothing was sent twice


def test_a_quota_used_up_before_the_first_batch_sends_nothing(wh: Warehouse, uid: str) -> None:
    setup(wh, people(20))
    store = MemoryStore(quota_after=0)
    job = memory_job(store, schema=wh.schema, destination=uid)
    [out] = run(wh, job)
    assert out.status == "deferred" and "daily quota" in (out.error or "")
    assert out.resets_at is None and "resets at" not in (out.error or "")
    assert store.calls == [] and store.opened == [] and state_rows(wh, job.sync_id) == {}


def test_a_retry_after_beyond_the_retry_budget_defers_instead_of_waiting(
    wh: Warehouse, uid: str
) -> None:
    setup(wh, people(10))
    store = MemoryStore(transient=1, transient_retry_after=7200.0)
    job = memory_job(
        store,
        schema=wh.schema,
        destination=uid,
        config={"retry": {**FAST_RETRY, "max_elapsed_s": 600}},
    )
    started = time.monotonic()
    [out] = run(wh, job)
    assert time.monotonic() - started < 30
    assert out.status == "deferred"
    assert "asked to wait 7,200s" in (out.error or "") and "resets at" in (out.error or "")
    assert out.resets_at is not None


def test_a_failure_outranks_a_deferral(wh: Warehouse, uid: str) -> None:
    setup(wh, people(10))
    job = memory_job(MemoryStore(quota_after=0), schema=wh.schema, destination=uid)
    broken = memory_job(MemoryStore(terminal_after=0), schema=wh.schema, destination=f"{uid}b")
    outcomes = run(wh, job, broken)
    assert [o.status for o in outcomes] == ["deferred", "failed"]
    assert exit_code(outcomes) == 1


# -- 2. full resync ---------------------------------------------------------------------------
def test_full_resync_resends_every_member_and_mirror_still_removes(wh: Warehouse, uid: str) -> None:
    crowd = people(30)
    setup(wh, crowd)
    store = MemoryStore()
    job = memory_job(store, schema=wh.schema, destination=uid)
    run(wh, job)
    for p in crowd[:5]:  # someone emptied part of the list by hand
        del store.records[p.email]
    now = [replace(crowd[7], first_name="Changed"), *crowd[2:7], *crowd[8:28], *people(2, 100)]
    setup(wh, now)
    [normal] = run(wh, job, dry_run=True)
    assert (normal.plan["add"], normal.plan["update"], normal.plan["remove"]) == (2, 1, 4)
    [plan] = run(wh, job, dry_run=True, full_resync=True)
    assert plan.full_resync
    assert (plan.plan["add"], plan.plan["update"], plan.plan["remove"]) == (2, 26, 4)
    [out] = run(wh, job, full_resync=True)
    assert out.status == "success" and out.full_resync
    assert out.confirmed == {"add": 2, "update": 26, "remove": 4}
    assert store.records == {p.email: expected_fields(p) for p in now}
    assert store.opened[-1].full_resync and not store.opened[0].full_resync
    assert run_row(wh, out.run_id, "full_resync") == (True,)
    [after] = run(wh, job)
    assert not after.full_resync and sum(after.sent.values()) == 0


@pytest.mark.parametrize("mode", ["upsert", "add_only"])
def test_full_resync_in_other_modes_sends_everyone_and_removes_nothing(
    wh: Warehouse, uid: str, mode: str
) -> None:
    crowd = people(12)
    setup(wh, crowd)
    store = MemoryStore()
    job = memory_job(store, schema=wh.schema, destination=uid, sync={"mode": mode})
    run(wh, job)
    setup(wh, crowd[2:])
    [out] = run(wh, job, full_resync=True)
    assert out.confirmed == {"add": 0, "update": 10, "remove": 0}
    assert len(store.records) == 12


class ReplacingDestination(MemoryDestination):
    """Replaces its list on a full resync, only when the run completes (like Meta)."""

    replaces_on_full_resync = True


def test_an_unfinished_replace_resync_is_repeated_until_it_completes(
    wh: Warehouse, uid: str
) -> None:
    crowd = people(250)
    setup(wh, crowd)
    store = MemoryStore()
    job = memory_job(store, schema=wh.schema, destination=uid, config={"concurrency": 1})
    job = replace(job, connector=type("R", (ReplacingDestination,), {"store": store}))
    run(wh, job)
    store.terminal_after = 1  # the resync dies after one batch
    [broken] = run(wh, job, full_resync=True)
    assert broken.status == "failed" and broken.full_resync
    store.terminal_after = None
    [plan] = run(wh, job, dry_run=True)
    assert plan.full_resync and plan.plan["update"] == 250  # the replace never happened
    [again] = run(wh, job)
    assert again.status == "success" and again.full_resync
    assert store.opened[-1].full_resync
    [calm] = run(wh, job)
    assert not calm.full_resync and sum(calm.sent.values()) == 0


# -- 5. removals carry the last-synced fields -------------------------------------------------
def test_removals_carry_the_fields_last_confirmed(wh: Warehouse, uid: str) -> None:
    crowd = people(6)
    crowd[3] = replace(crowd[3], first_name=None)
    setup(wh, crowd)
    store = MemoryStore()
    job = memory_job(store, schema=wh.schema, destination=uid)
    run(wh, job)
    renamed = replace(crowd[0], first_name="Renamed", total_revenue=Decimal("12.50"))
    setup(wh, [renamed, *crowd[1:]])
    run(wh, job)
    # A state row written before the state kept fields: the removal knows the key only.
    ph = "?" if wh.dialect == "duckdb" else "%s"
    wh.execute(
        f"update cdpkit.sync_state set fields = null where sync_id = {ph} and record_key = {ph}",
        [job.sync_id, crowd[2].email],
    )
    setup(wh, crowd[4:])
    [out] = run(wh, job, allow_large_removals=True)
    assert out.confirmed["remove"] == 4
    removed = dict(store.removed)
    assert removed[crowd[0].email] == {
        "email": crowd[0].email,
        "name": "Renamed",
        "ltv": Decimal("12.50"),
    }
    assert removed[crowd[1].email] == expected_fields(crowd[1])
    assert removed[crowd[2].email] == {}
    assert removed[crowd[3].email] == {"email": crowd[3].email, "ltv": crowd[3].total_revenue}


# -- 4. check() and open() are retried like batches --------------------------------------------
def test_check_and_open_are_retried_on_transient_errors(wh: Warehouse, uid: str) -> None:
    setup(wh, people(10))
    store = MemoryStore(check_transient=2, open_transient=2)
    job = memory_job(store, schema=wh.schema, destination=uid, config={"retry": FAST_RETRY})
    [out] = run(wh, job)
    assert out.status == "success", out.error
    assert store.checks == 3 and len(store.opened) == 1 and len(store.records) == 10
    assert out.retries == 4


def test_check_retries_stop_per_the_policy(wh: Warehouse, uid: str) -> None:
    setup(wh, people(10))
    store = MemoryStore(check_transient=100)
    retry = {**FAST_RETRY, "max_attempts": 3}
    job = memory_job(store, schema=wh.schema, destination=uid, config={"retry": retry})
    [out] = run(wh, job)
    assert out.status == "failed" and "gave up after 3 attempts" in (out.error or "")
    assert store.checks == 3 and store.calls == []


# -- 3. rate limits and batch sizes that depend on the config --------------------------------
class TieredConfig(MemoryConfig):
    tier: Literal["small", "large"] = "small"


class TieredDestination(MemoryDestination):
    config_model = TieredConfig
    max_batch_size = 100
    store: ClassVar[MemoryStore] = MemoryStore()

    @classmethod
    def rate_limit_for(cls, config: DestinationConfig) -> RateLimit | None:
        assert isinstance(config, TieredConfig)
        return RateLimit.rolling(3 if config.tier == "small" else 1000, 0.4)

    @classmethod
    def max_batch_size_for(cls, config: DestinationConfig) -> int:
        assert isinstance(config, TieredConfig)
        return 5 if config.tier == "small" else 100


def tiered_job(wh: Warehouse, uid: str, store: MemoryStore, **config: Any) -> Any:
    job = memory_job(store, schema=wh.schema, destination=uid, config={"concurrency": 2})
    cfg = TieredConfig.model_validate({**job.config.model_dump(exclude_unset=True), **config})
    cls = type("T", (TieredDestination,), {"store": store})
    return replace(job, config=cfg, sync=cfg.syncs[0], connector=cls)


def test_the_engine_paces_and_batches_by_the_connectors_config_hooks(
    duck: Warehouse, uid: str
) -> None:
    setup(duck, people(20))
    store = MemoryStore()
    job = tiered_job(duck, uid, store)
    assert job.batch_size == 5 and job.rate == RateLimit.rolling(3, 0.4)
    stamps: list[float] = []

    class Timed(job.connector):  # type: ignore[misc,valid-type]
        def upsert(self, batch):  # type: ignore[no-untyped-def]
            self.http.limiter.acquire()  # what HttpClient.request does before each request
            stamps.append(time.monotonic())
            return super().upsert(batch)

    [out] = run(duck, replace(job, connector=Timed))
    assert out.status == "success" and len(store.records) == 20
    assert [len(keys) for _, keys in store.calls] == [5, 5, 5, 5]
    assert isinstance(LIMITERS.get(f"memory:{id(store)}", *_pace(job.rate)), SlidingWindow)
    # 4 batches at 3 per rolling 0.4 s: the window never holds more than 3
    assert all(sum(1 for u in stamps if t <= u < t + 0.4) <= 3 for t in stamps)
    assert stamps[3] - stamps[0] >= 0.4
    large = tiered_job(duck, f"{uid}l", MemoryStore(), tier="large")
    assert large.batch_size == 100 and large.rate == RateLimit.rolling(1000, 0.4)
    own = tiered_job(duck, f"{uid}o", MemoryStore(), rate_limit={"requests_per_second": 7})
    assert own.rate == RateLimit(7, 1)  # the file's rate_limit wins
    assert isinstance(LIMITERS.get(f"own{uid}", *_pace(own.rate)), TokenBucket)


def _pace(rate: RateLimit | None) -> tuple[Any, ...]:
    assert rate is not None
    return rate.per_second, rate.burst, rate.window_s


def test_plan_info_defaults() -> None:
    assert PlanInfo(1, 2, 3, 4).full_resync is False


def test_hubspot_is_paced_by_the_engine_limiter_sized_by_its_tier(
    monkeypatch: pytest.MonkeyPatch, uid: str
) -> None:
    from cdpkit.destinations.hubspot import (
        HubSpotConfig,
        HubSpotDestination,
        account_key,
        make_api,
    )
    from cdpkit.sync.http import HttpClient
    from cdpkit.sync.jobs import SyncJob
    from cdpkit.sync.membership import fixture_membership

    monkeypatch.setenv("HS_HOOK_TOKEN", f"pat-{uid}")
    base = {
        "type": "hubspot",
        "base_url": "http://127.0.0.1:9/hubspot",
        "token": "${HS_HOOK_TOKEN}",
        "syncs": [{"audience": "vip", "identifier": "email", "mapping": {"email": "email"}}],
    }
    pro = HubSpotConfig.model_validate({**base, "tier": "professional"})
    job = SyncJob(
        "hs", pro, pro.syncs[0], HubSpotDestination, fixture_membership("vip", "m", ["email"])
    )
    assert job.rate == HubSpotDestination.rate_limit_for(pro) == RateLimit.rolling(190, 10)
    assert job.batch_size == 100
    http = HttpClient(pro.base_url.resolve())  # no limiter, as `cdpkit import hubspot` builds it
    api = make_api(pro, http, "hs")
    assert not hasattr(api, "window")  # no pacing of its own left
    limiter = http.limiter
    assert isinstance(limiter, SlidingWindow) and (limiter.limit, limiter.window_s) == (190, 10)
    assert limiter is LIMITERS.get(account_key(pro), *_pace(job.rate))  # what the engine uses
    packs = HubSpotConfig.model_validate({**base, "tier": "enterprise", "limit_increase_packs": 1})
    assert HubSpotDestination.rate_limit_for(packs) == RateLimit.rolling(250, 10)
    own = HubSpotConfig.model_validate({**base, "ten_second_limit": 50})
    assert LIMITERS.get(account_key(own), *_pace(HubSpotDestination.rate_limit_for(own))) is limiter
    assert limiter.limit == 50  # the same account, its limit edited: reconfigured in place


def test_connectors_that_remove_by_key_keep_no_fields_in_the_state(wh: Warehouse, uid: str) -> None:
    crowd = people(5)
    setup(wh, crowd)
    store = MemoryStore()
    job = memory_job(store, schema=wh.schema, destination=uid)
    bare = type("Bare", (job.connector,), {"removals_with_fields": False})
    job = replace(job, connector=bare)
    run(wh, job)
    ph = "?" if wh.dialect == "duckdb" else "%s"
    stored = wh.fetchall(
        f"select fields from cdpkit.sync_state where sync_id = {ph}", [job.sync_id]
    )
    assert stored == [(None,)] * 5
    setup(wh, crowd[1:])
    [out] = run(wh, job, allow_large_removals=True)
    assert out.confirmed["remove"] == 1 and store.removed == [(crowd[0].email, {})]
