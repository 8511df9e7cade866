"""A stop request mid-sync: the batches in flight finish and are checkpointed, the scheduler
exits, the slot stays due, and the next start sends exactly the rest."""

from __future__ import annotations

import io
import threading
import time

import duckdb

from cdpkit.ops.clock import ManualClock
from cdpkit.ops.events import EventLog
from cdpkit.ops.scheduler import Scheduler, SchedulerOptions

from .conftest import OpsProject
from .helpers import audience_emails, hook_records, hook_stats, set_faults, utc, write_marts


def test_stop_mid_sync_keeps_state_consistent_and_the_next_run_resumes(ops: OpsProject) -> None:
    write_marts(ops.warehouse, 200, big_every=2)  # 100 members in 20 batches of 5
    ops.write_destination(batch_size=5)
    set_faults(ops.sandbox, latency_s=0.1)
    clock = ManualClock(utc(2030, 1, 1, 10, 30))
    stop = threading.Event()
    first = Scheduler(
        ops.project,
        log=EventLog("json", io.StringIO()),
        stop=stop,
        clock=clock,
        options=SchedulerOptions(heartbeat_s=3600),
    )
    thread = threading.Thread(target=first.run)
    thread.start()
    deadline = time.monotonic() + 60
    while len(hook_records(ops.sandbox, ops.destination)) < 15 and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    thread.join(timeout=60)
    assert not thread.is_alive(), "the scheduler did not exit after the stop request"

    received = hook_records(ops.sandbox, ops.destination)
    con = duckdb.connect(str(ops.warehouse), read_only=True)
    try:
        (status, confirmed), *_ = con.execute(
            "select status, confirmed_add from cdpkit.sync_runs where sync_id = ?", [ops.sync_id]
        ).fetchall()
        synced = {r[0] for r in con.execute("select record_key from cdpkit.sync_state").fetchall()}
        slot = con.execute("select slot_at, status from cdpkit.schedule_state").fetchone()
    finally:
        con.close()
    assert status == "cancelled"
    assert 15 <= len(received) < 100, "stopped too late to test anything"
    # Everything the destination holds is checkpointed, and nothing more: no batch was lost
    # in flight, none was marked synced without a confirmation.
    assert synced == set(received) and confirmed == len(received)
    assert slot is not None and slot[1] == "cancelled"  # the slot is still due
    assert first.log.of("scheduler_stopped")

    resumed = Scheduler(
        ops.project,
        log=EventLog("json", io.StringIO()),
        clock=ManualClock(utc(2030, 1, 1, 10, 40)),  # same slot (10:00), ten minutes later
        options=SchedulerOptions(heartbeat_s=3600, max_ticks=1),
    )
    resumed.run()
    (finished,) = resumed.log.of("run_finished")
    assert finished["status"] == "success"
    assert finished["confirmed"] == 100 - len(received)  # exactly the rest
    assert hook_records(ops.sandbox, ops.destination) == audience_emails(ops.warehouse)
    assert hook_stats(ops.sandbox, ops.destination).get("duplicate_batches", 0) == 0
