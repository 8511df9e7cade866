"""The engine on real warehouses (DuckDB file, PostgreSQL) with an in-memory destination.

Diff semantics per mode, consent, holdout, suppression, retries, bisection, terminal errors,
ownership of removals, safety limits, plan == apply, run history and membership history.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from decimal import Decimal

import pytest
from sqlglot import exp

from cdpkit.sync.membership import SuppressionEntry, suppressed_customers
from cdpkit.warehouse import Warehouse

from .helpers import (
    MemoryStore,
    Person,
    duckdb_warehouse,
    expected_fields,
    memory_job,
    people,
    run,
    state_rows,
    with_sync,
    write_customers,
    write_members,
)


def setup(wh: Warehouse, persons: list[Person], holdout: tuple[str, ...] = ()) -> None:
    write_customers(wh, wh.schema, persons)
    write_members(wh, wh.schema, "members", persons, holdout=holdout)


def test_first_sync_sends_exactly_the_eligible_members(wh: Warehouse, uid: str) -> None:
    crowd = people(40)
    crowd[3] = replace(crowd[3], consent_marketing=False)  # no consent
    crowd[4] = replace(crowd[4], email=None)  # no identifier
    crowd[5] = replace(crowd[5], email=crowd[6].email)  # same key as c0007: c0006 wins
    crowd[7] = replace(crowd[7], first_name=None)  # null skipped, not sent as null
    setup(wh, crowd, holdout=("c0009", "c0010"))
    store = MemoryStore()
    job = memory_job(
        store, schema=wh.schema, destination=uid, sync={"require_consent": "marketing"}
    )
    [plan] = run(wh, job, dry_run=True)
    assert store.calls == [] and plan.status == "planned"
    [out] = run(wh, job)
    eligible = [
        p for p in crowd if p.customer_id not in ("c0004", "c0005", "c0007", "c0009", "c0010")
    ]
    assert out.status == "success", out.error
    assert store.records == {p.email: expected_fields(p) for p in eligible}
    assert "name" not in store.records[crowd[7].email]
    assert out.confirmed == {"add": len(eligible), "update": 0, "remove": 0}
    assert plan.plan["add"] == out.plan["add"] == len(eligible)
    assert plan.plan["audience_size"] == 40 and plan.plan["holdout_size"] == 2
    assert plan.plan["eligible_size"] == len(eligible)
    # each excluded member under the first test it fails; c0006 and c0007 share one email
    assert plan.plan["ineligible"] == {
        "no_identifier": 1,
        "no_consent": 1,
        "suppressed": 0,
        "duplicate": 1,
    }
    state = state_rows(wh, job.sync_id)
    assert set(state) == set(store.records)
    assert state[crowd[5].email][0] == "c0006"
    # every batch respects the connector's limit
    assert all(len(keys) <= job.batch_size for _, keys in store.calls)
    [again] = run(wh, job)
    assert again.plan["add"] == again.plan["update"] == again.plan["remove"] == 0
    assert len(store.calls) == len(set(map(tuple, (k for _, k in store.calls))))


@pytest.mark.parametrize("mode", ["mirror", "upsert", "add_only"])
def test_incremental_changes_per_mode(wh: Warehouse, uid: str, mode: str) -> None:
    crowd = people(30)
    setup(wh, crowd)
    store = MemoryStore()
    job = memory_job(store, schema=wh.schema, destination=uid, sync={"mode": mode})
    run(wh, job)
    changed = [replace(p, first_name="Changed") for p in crowd[:2]]
    newcomers = people(3, start=100)
    stayers = crowd[2:26]
    leavers = crowd[26:]
    setup(wh, changed + stayers + newcomers)
    [plan] = run(wh, job, dry_run=True)
    [out] = run(wh, job)
    expected_plan = {
        "mirror": (3, 2, 4),
        "upsert": (3, 2, 0),
        "add_only": (3, 0, 0),
    }[mode]
    assert (plan.plan["add"], plan.plan["update"], plan.plan["remove"]) == expected_plan
    assert (out.confirmed["add"], out.confirmed["update"], out.confirmed["remove"]) == expected_plan
    for p in newcomers:
        assert store.records[p.email] == expected_fields(p)
    for p in changed:
        want = "Changed" if mode != "add_only" else p.email and "Name" + str(int(p.customer_id[1:]))
        assert store.records[p.email]["name"] == want
    for p in leavers:
        assert (p.email in store.records) == (mode != "mirror")
    if mode == "mirror":
        assert set(store.records) == {p.email for p in changed + stayers + newcomers}


def test_consent_revoked_is_removed_in_mirror_mode(wh: Warehouse, uid: str) -> None:
    crowd = people(10)
    setup(wh, crowd)
    store = MemoryStore()
    job = memory_job(
        store, schema=wh.schema, destination=uid, sync={"require_consent": "marketing"}
    )
    run(wh, job)
    revoked = [
        replace(p, consent_marketing=False) if p.customer_id == "c0003" else p for p in crowd
    ]
    write_customers(wh, wh.schema, revoked)
    [out] = run(wh, job)
    assert out.confirmed == {"add": 0, "update": 0, "remove": 1}
    assert crowd[2].email not in store.records and len(store.records) == 9


def test_only_mapped_fields_count_and_a_new_mapping_resends(wh: Warehouse, uid: str) -> None:
    crowd = people(8)
    setup(wh, crowd)
    store = MemoryStore()
    job = memory_job(
        store,
        schema=wh.schema,
        destination=uid,
        sync={"mapping": {"email": "email", "name": "first_name"}},
    )
    run(wh, job)
    richer = [replace(p, total_revenue=Decimal("999")) for p in crowd]  # not mapped
    setup(wh, richer)
    [out] = run(wh, job)
    assert out.plan["update"] == 0
    remapped = with_sync(
        job, mapping={"email": "email", "name": "first_name", "ltv": "total_revenue"}
    )
    [out] = run(wh, remapped)
    assert out.confirmed["update"] == 8
    assert all(r["ltv"] == Decimal("999") for r in store.records.values())


def test_rejected_records_are_retried_with_their_latest_data(wh: Warehouse, uid: str) -> None:
    crowd = people(12)
    setup(wh, crowd)
    store = MemoryStore(reject={crowd[4].email: "invalid email domain"})
    job = memory_job(store, schema=wh.schema, destination=uid)
    [out] = run(wh, job)
    assert out.status == "partial"
    assert out.rejected["add"] == 1 and out.confirmed["add"] == 11
    assert out.rejections == [
        {"key": crowd[4].email, "change": "add", "reason": "invalid email domain"}
    ]
    assert crowd[4].email not in state_rows(wh, job.sync_id)
    store.reject.clear()
    fixed = [replace(p, first_name="Fixed") if p.customer_id == "c0005" else p for p in crowd]
    setup(wh, fixed)
    [out] = run(wh, job)
    assert out.status == "success"
    assert out.confirmed == {"add": 1, "update": 0, "remove": 0}
    assert store.records[crowd[4].email]["name"] == "Fixed"


def test_a_poisoned_record_is_isolated_by_bisection(wh: Warehouse, uid: str) -> None:
    crowd = people(64)
    setup(wh, crowd)
    poisoned = crowd[37].email
    store = MemoryStore(poison={poisoned: "field 'email' failed validation"})
    job = memory_job(store, schema=wh.schema, destination=uid, config={"batch_size": 64})
    [out] = run(wh, job)
    assert out.status == "partial"
    assert out.confirmed["add"] == 63 and out.rejected["add"] == 1
    assert out.rejections[0]["key"] == poisoned
    assert "failed validation" in out.rejections[0]["reason"]
    assert set(store.records) == {p.email for p in crowd} - {poisoned}
    assert len(store.calls) <= 1 + 2 * 6  # log2(64) levels of halves


def test_transient_failures_are_retried(wh: Warehouse, uid: str) -> None:
    setup(wh, people(10))
    store = MemoryStore(transient=3)
    job = memory_job(
        store,
        schema=wh.schema,
        destination=uid,
        config={"retry": {"base_delay_s": 0.01, "max_delay_s": 0.02}},
    )
    [out] = run(wh, job)
    assert out.status == "success" and out.retries == 3 and len(store.records) == 10


def test_transient_failures_past_the_policy_fail_the_sync(wh: Warehouse, uid: str) -> None:
    setup(wh, people(10))
    store = MemoryStore(transient=100)
    job = memory_job(
        store,
        schema=wh.schema,
        destination=uid,
        config={"retry": {"max_attempts": 3, "base_delay_s": 0.01, "max_delay_s": 0.02}},
    )
    [out] = run(wh, job)
    assert out.status == "failed" and "gave up after 3 attempts" in (out.error or "")
    assert state_rows(wh, job.sync_id) == {}


def test_terminal_error_stops_the_sync_and_keeps_only_confirmed_batches(
    wh: Warehouse, uid: str
) -> None:
    crowd = people(250)
    setup(wh, crowd)
    store = MemoryStore(terminal_after=0)
    job = memory_job(store, schema=wh.schema, destination=uid, config={"concurrency": 1})
    [out] = run(wh, job)
    assert out.status == "failed"
    assert "credentials revoked" in (out.error or "") and uid in (out.error or "")
    assert state_rows(wh, job.sync_id) == {} and sum(out.confirmed.values()) == 0
    store.terminal_after = 1  # one batch (100 records) goes through, then the account is revoked
    [out] = run(wh, job)
    assert out.status == "failed" and out.confirmed["add"] == 100
    assert set(state_rows(wh, job.sync_id)) == set(store.records)
    store.terminal_after = None
    [out] = run(wh, job)
    assert out.status == "success" and out.confirmed["add"] == 150
    assert len(store.records) == 250


def test_mirror_removes_only_what_this_sync_added(wh: Warehouse, uid: str) -> None:
    crowd = people(10)
    setup(wh, crowd)
    store = MemoryStore(preexisting={crowd[0].email})
    job = memory_job(store, schema=wh.schema, destination=uid)
    run(wh, job)
    assert state_rows(wh, job.sync_id)[crowd[0].email][3] is False
    setup(wh, crowd[2:])
    [out] = run(wh, job, allow_large_removals=True)
    assert out.confirmed["remove"] == 1  # crowd[1] only; crowd[0] was there before us
    assert crowd[0].email in store.records and crowd[1].email not in store.records


def test_destination_ids_are_kept_and_handed_back(wh: Warehouse, uid: str) -> None:
    crowd = people(5)
    setup(wh, crowd)
    store = MemoryStore(ids=True)
    job = memory_job(store, schema=wh.schema, destination=uid)
    run(wh, job)
    assert state_rows(wh, job.sync_id)[crowd[0].email][2] == f"id-{crowd[0].email}"
    seen: list[str | None] = []

    class Spy(job.connector):  # type: ignore[misc,valid-type]
        def remove(self, batch):  # type: ignore[no-untyped-def]
            seen.extend(r.destination_id for r in batch.records)
            return super().remove(batch)

    setup(wh, crowd[1:])
    run(wh, replace(job, connector=Spy))
    assert seen == [f"id-{crowd[0].email}"]


def test_safety_limits_block_apply_unless_allowed(wh: Warehouse, uid: str) -> None:
    crowd = people(20)
    setup(wh, crowd)
    store = MemoryStore()
    job = memory_job(store, schema=wh.schema, destination=uid)
    run(wh, job)
    setup(wh, crowd[:15])  # 5 of 20 = 25% > 20%
    [plan] = run(wh, job, dry_run=True)
    assert plan.plan["blocked"] and "25.0%" in plan.plan["blocked"]
    [out] = run(wh, job)
    assert out.status == "blocked" and "--allow-large-removals" in (out.error or "")
    assert len(store.records) == 20
    setup(wh, [])
    [out] = run(wh, job)
    assert out.status == "blocked" and "audience is empty" in (out.error or "")
    setup(wh, crowd[:15])
    [out] = run(wh, job, allow_large_removals=True)
    assert out.status == "success" and len(store.records) == 15
    loose = with_sync(job, safety={"max_removal_percent": 50})
    setup(wh, crowd[:10])
    [out] = run(wh, loose)
    assert out.status == "success" and len(store.records) == 10


def test_a_run_that_will_not_send_stops_checking_the_destination(wh: Warehouse, uid: str) -> None:
    crowd = people(20)
    setup(wh, crowd)
    store = MemoryStore()
    job = memory_job(store, schema=wh.schema, destination=uid)
    run(wh, job)
    setup(wh, crowd[:10])  # half of them leave: blocked by the safety limit
    store.check_transient, store.check_retry_after = 10**6, 5.0  # the check retries for long
    [out] = run(wh, job)
    assert out.status == "blocked"
    checks = [t for t in threading.enumerate() if t.name.startswith("cdpkit-check")]
    for thread in checks:
        thread.join(timeout=3)  # not the 5 s retry wait, nor the process's exit, waits for it
        assert not thread.is_alive()


def test_suppression_list_is_excluded_and_removed(wh: Warehouse, uid: str) -> None:
    crowd = people(10)
    setup(wh, crowd)
    store = MemoryStore()
    job = memory_job(store, schema=wh.schema, destination=uid)
    run(wh, job)
    wh.execute(f'create table "{wh.schema}"."dnc" (email varchar)')
    wh.execute(
        f'insert into "{wh.schema}"."dnc" values ('
        + ("?" if wh.dialect == "duckdb" else "%s")
        + ")",
        ["  USER0002@example.com "],
    )
    entry = SuppressionEntry(table=f"{wh.schema}.dnc", column="email", identifier_type="email")
    suppressed = replace(job, suppression=(suppressed_customers(entry, schema=wh.schema),))
    [out] = run(wh, suppressed)
    assert out.confirmed["remove"] == 1 and crowd[1].email not in store.records
    by_audience = SuppressionEntry(audience="vip")
    query = (
        exp.select("customer_id")
        .from_(exp.table_("members", db=wh.schema))
        .where("customer_id = 'c0005'")
    )
    both = replace(
        suppressed,
        suppression=(
            *suppressed.suppression,
            suppressed_customers(by_audience, schema=wh.schema, audience_query=query),
        ),
    )
    [out] = run(wh, both)
    assert out.confirmed["remove"] == 1 and crowd[4].email not in store.records
    assert out.plan["ineligible"]["suppressed"] == 2  # one per list, each member once


def test_run_history_and_record_log(wh: Warehouse, uid: str) -> None:
    crowd = people(6)
    setup(wh, crowd)
    store = MemoryStore(reject={crowd[1].email: "bad"})
    job = memory_job(store, schema=wh.schema, destination=uid)
    [out] = run(wh, job)
    ph = "?" if wh.dialect == "duckdb" else "%s"
    row = wh.fetchone(
        "select status, planned_add, sent_add, confirmed_add, rejected_add, "
        "finished_at is not null "
        f"from cdpkit.sync_runs where run_id = {ph}",
        [out.run_id],
    )
    assert row == ("partial", 6, 6, 5, 1, True)
    log = wh.fetchall(
        f"select outcome, count(*) from cdpkit.sync_record_log where run_id = {ph} "
        "group by outcome order by 1",
        [out.run_id],
    )
    assert log == [("confirmed", 5), ("rejected", 1)]
    reason = wh.fetchone(
        "select record_key, reason from cdpkit.sync_record_log "
        f"where run_id = {ph} and outcome = 'rejected'",
        [out.run_id],
    )
    assert reason == (crowd[1].email, "bad")


def test_membership_history_records_entries_and_exits(wh: Warehouse, uid: str) -> None:
    crowd = people(6)
    setup(wh, crowd, holdout=("c0001",))
    store = MemoryStore()
    audience = f"aud_{uid}"
    job = memory_job(store, schema=wh.schema, destination=uid)
    job = replace(job, membership=replace(job.membership, audience=audience))
    run(wh, job)
    setup(wh, crowd[2:] + people(1, start=50), holdout=("c0001",))
    run(wh, job)
    ph = "?" if wh.dialect == "duckdb" else "%s"
    rows = wh.fetchall(
        "select customer_id, exited_at is not null from cdpkit.audience_membership "
        f"where audience = {ph} order by customer_id",
        [audience],
    )
    assert rows == [
        ("c0001", True),
        ("c0002", True),
        ("c0003", False),
        ("c0004", False),
        ("c0005", False),
        ("c0006", False),
        ("c0050", False),
    ]
    sizes = wh.fetchall(
        "select members, holdout from cdpkit.audience_snapshots "
        f"where audience = {ph} order by measured_at",
        [audience],
    )
    assert sizes == [(6, 1), (5, 0)]


def test_membership_history_is_recorded_when_the_destination_check_fails(
    wh: Warehouse, uid: str
) -> None:
    crowd = people(5)
    setup(wh, crowd)
    store = MemoryStore(check_fails="invalid API key")
    audience = f"aud_{uid}"
    job = memory_job(store, schema=wh.schema, destination=uid)
    job = replace(job, membership=replace(job.membership, audience=audience))
    [out] = run(wh, job)
    assert out.status == "failed" and "invalid API key" in (out.error or "")
    assert store.calls == [] and store.records == {}
    ph = "?" if wh.dialect == "duckdb" else "%s"
    entered = wh.fetchone(
        f"select count(*) from cdpkit.audience_membership where audience = {ph}", [audience]
    )
    assert entered == (5,)
    assert state_rows(wh, job.sync_id) == {}


def test_duckdb_checkpoints_after_sending_and_restores_its_threshold(tmp_path, uid) -> None:
    path = tmp_path / "warehouse.duckdb"
    wh = duckdb_warehouse(path)
    try:
        crowd = people(30)
        setup(wh, crowd)
        wh.execute("set checkpoint_threshold = '512MiB'")  # DuckDB would not checkpoint
        before = wh.fetchone("select current_setting('checkpoint_threshold')")
        store = MemoryStore()
        job = memory_job(store, schema=wh.schema, destination=uid, config={"batch_size": 2})
        [out] = run(wh, job)
        assert out.status == "success" and len(store.records) == 30
        assert wh.fetchone("select current_setting('checkpoint_threshold')") == before
        wal = path.with_name(path.name + ".wal")
        assert not wal.exists() or wal.stat().st_size == 0  # checkpointed at the end
    finally:
        wh.close()
