"""Two schedulers on one warehouse: every slot runs exactly once and runs never overlap."""

from __future__ import annotations

import datetime as dt
import io
import threading
from typing import Any

import pytest

from cdpkit.ops.clock import ManualClock
from cdpkit.ops.events import EventLog
from cdpkit.ops.heartbeat import Heartbeat
from cdpkit.ops.scheduler import Scheduler, SchedulerOptions
from cdpkit.project import Project, find_project
from cdpkit.warehouse import connect

from .conftest import OpsProject
from .helpers import hook_records, hook_stats, set_faults, utc

SLOTS = 3


class LockstepClock(ManualClock):
    """Manual time shared in spirit by two schedulers: each sleep waits for the other one."""

    def __init__(self, start: dt.datetime, barrier: threading.Barrier) -> None:
        super().__init__(start)
        self.barrier = barrier

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        self.barrier.wait(timeout=120)
        super().sleep(seconds, stop)


class InProcessHeartbeat(Heartbeat):
    """Two schedulers in one test process must not share a scheduler id."""

    def __init__(self, project: Project, tag: str) -> None:
        super().__init__(project, interval_s=3600)
        self.update(scheduler_id=f"{self.beat.scheduler_id}:{tag}")


def run_two(project: Project) -> list[Scheduler]:
    barrier = threading.Barrier(2)
    schedulers = [
        Scheduler(
            project,
            log=EventLog("json", io.StringIO()),
            clock=LockstepClock(utc(2030, 1, 1, 9, 59), barrier),
            options=SchedulerOptions(heartbeat_s=3600, max_ticks=SLOTS + 1),
            heartbeat=InProcessHeartbeat(project, tag),
        )
        for tag in ("a", "b")
    ]
    errors: list[BaseException] = []

    def go(s: Scheduler) -> None:
        try:
            s.run()
        except BaseException as exc:  # surfaced below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=go, args=(s,)) for s in schedulers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    return schedulers


def run_rows(project: Project, sync_id: str) -> list[tuple[Any, ...]]:
    with connect(project) as wh:
        ph = "?" if wh.dialect == "duckdb" else "%s"
        return wh.fetchall(
            "select sync_id, status, started_at, finished_at from cdpkit.sync_runs"
            f" where sync_id = {ph} order by started_at",
            [sync_id],
        )


def forget(project: Project, sync_id: str, schedulers: list[Scheduler]) -> None:
    """The `cdpkit` schema of a PostgreSQL database is shared: remove this test's rows."""
    with connect(project) as wh:
        for name in ("sync_state", "sync_runs", "sync_record_log", "schedule_state"):
            wh.execute(f"delete from cdpkit.{name} where sync_id = %s", [sync_id])
        wh.execute("delete from cdpkit.sync_leases where sync_id like %s", [f"{sync_id}%"])
        for s in schedulers:
            wh.execute(
                "delete from cdpkit.scheduler_heartbeats where scheduler_id = %s",
                [s.heartbeat.beat.scheduler_id],
            )


@pytest.mark.parametrize("engine", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_two_schedulers_never_double_run_or_overlap(
    ops: OpsProject, engine: str, request: pytest.FixtureRequest
) -> None:
    project = ops.project
    if engine == "postgres":
        from .helpers import copy_marts_to

        project = find_project(request.getfixturevalue("pg_project").root, "postgres")
        copy_marts_to(ops.warehouse, project)
    # Slow requests so that, had both schedulers run a slot, their runs would overlap.
    set_faults(ops.sandbox, latency_s=0.05)
    schedulers = run_two(project)
    rows = run_rows(project, ops.sync_id)
    if engine == "postgres":
        forget(project, ops.sync_id, schedulers)
    # 09:59 (never ran: runs once), then the slots at 10:00, 11:00, 12:00: one run each
    assert len(rows) == SLOTS + 1, rows
    assert all(status == "success" for _, status, _, _ in rows)
    for (_, _, _, finished), (_, _, started, _) in zip(rows, rows[1:], strict=False):
        assert finished <= started, "two runs of the sync overlapped"
    started = [e["sync"] for s in schedulers for e in s.log.of("run_started")]
    skipped = [e for s in schedulers for e in s.log.of("run_skipped")]
    assert len(started) == SLOTS + 1
    assert skipped, "the second scheduler never even competed"
    assert hook_stats(ops.sandbox, ops.destination).get("duplicate_batches", 0) == 0
    assert len(hook_records(ops.sandbox, ops.destination)) == 30
