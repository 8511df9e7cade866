"""One run per sync at a time: the lease in the warehouse."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from cdpkit.sync import lease
from cdpkit.sync.state import ensure_schema
from cdpkit.warehouse import Warehouse

from .helpers import MemoryStore, memory_job, people, run, write_customers, write_members


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _plant(wh: Warehouse, sync_id: str, holder: str, expires_in_s: float) -> None:
    ensure_schema(wh)
    now = lease.utcnow()
    ph = "?" if wh.dialect == "duckdb" else "%s"
    wh.execute(
        f"insert into cdpkit.sync_leases values ({ph}, {ph}, {ph}, {ph}, {ph})",
        [sync_id, "r-other", holder, now, now + dt.timedelta(seconds=expires_in_s)],
    )


def test_a_live_holder_blocks_a_second_run_with_a_clear_message(wh: Warehouse, uid: str) -> None:
    write_customers(wh, wh.schema, people(3))
    write_members(wh, wh.schema, "members", people(3))
    store = MemoryStore()
    job = memory_job(store, schema=wh.schema, destination=uid)
    _plant(wh, job.sync_id, "otherhost:4242:1", expires_in_s=600)
    [out] = run(wh, job)
    assert out.status == "locked"
    assert f"sync '{job.sync_id}' is already running" in (out.error or "")
    assert "process 4242 on otherhost" in (out.error or "")
    assert store.calls == []
    [plan] = run(wh, job, dry_run=True)  # planning never needs the lease
    assert plan.status == "planned" and plan.plan["add"] == 3


def test_an_expired_lease_is_taken_over(wh: Warehouse, uid: str) -> None:
    write_customers(wh, wh.schema, people(3))
    write_members(wh, wh.schema, "members", people(3))
    store = MemoryStore()
    job = memory_job(store, schema=wh.schema, destination=uid)
    _plant(wh, job.sync_id, "otherhost:4242:1", expires_in_s=-1)
    [out] = run(wh, job)
    assert out.status == "success" and len(store.records) == 3


def test_a_lease_of_a_dead_local_process_is_taken_over_at_once(wh: Warehouse, uid: str) -> None:
    import socket

    write_customers(wh, wh.schema, people(3))
    write_members(wh, wh.schema, "members", people(3))
    store = MemoryStore()
    job = memory_job(store, schema=wh.schema, destination=uid)
    _plant(wh, job.sync_id, f"{socket.gethostname()}:{_dead_pid()}:1", expires_in_s=600)
    [out] = run(wh, job)
    assert out.status == "success"


def test_acquire_renew_release(duck: Warehouse) -> None:
    ensure_schema(duck)
    held = lease.acquire(duck, "a.b", "r1", seconds=60)
    with pytest.raises(lease.SyncLocked):
        lease.acquire(duck, "a.b", "r2", seconds=60)
    lease.renew(duck, held, seconds=120)
    lease.release(duck, held)
    again = lease.acquire(duck, "a.b", "r3", seconds=60)
    assert again.run_id == "r3"


def test_runs_left_running_by_a_crash_are_marked_interrupted(duck: Warehouse) -> None:
    write_customers(duck, duck.schema, people(2))
    write_members(duck, duck.schema, "members", people(2))
    job = memory_job(MemoryStore(), schema=duck.schema, destination="mem")
    ensure_schema(duck)
    duck.execute(
        "insert into cdpkit.sync_runs (run_id, sync_id, destination, destination_type, sync_name, "
        "audience, mode, status, started_at) values ('old', 'mem.fixture', 'mem', 'memory', "
        "'fixture', 'fixture', 'mirror', 'running', now())"
    )
    run(duck, job)
    assert duck.fetchone("select status from cdpkit.sync_runs where run_id = 'old'") == (
        "interrupted",
    )
