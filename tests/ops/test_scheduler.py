"""The scheduler loop with a manual clock: due slots, missed runs, no backfill burst."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import duckdb
import pytest

from cdpkit.ops.clock import ManualClock
from cdpkit.ops.due import is_due
from cdpkit.ops.events import EventLog
from cdpkit.ops.scheduler import Scheduler, SchedulerOptions
from cdpkit.ops.state import SlotState

from .conftest import OpsProject
from .helpers import audience_emails, hook_records, utc, write_marts


def scheduler(ops: OpsProject, clock: ManualClock, ticks: int, **kw: Any) -> Scheduler:
    return Scheduler(
        ops.project,
        log=EventLog("json", io.StringIO()),
        clock=clock,
        options=SchedulerOptions(heartbeat_s=7 * 24 * 3600, max_ticks=ticks, **kw),
    )


def runs(ops: OpsProject) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(ops.warehouse), read_only=True)
    try:
        return con.execute(
            "select run_id, status, started_at, finished_at from cdpkit.sync_runs"
            " order by started_at"
        ).fetchall()
    finally:
        con.close()


def slot_state(ops: OpsProject) -> tuple[Any, ...]:
    con = duckdb.connect(str(ops.warehouse), read_only=True)
    try:
        row = con.execute("select slot_at, status from cdpkit.schedule_state").fetchone()
    finally:
        con.close()
    assert row is not None
    return row


def state(slot: dt.datetime, status: str) -> SlotState:
    return SlotState("d.s", slot, "r1", status, None, slot)


@pytest.mark.parametrize(
    ("slot", "current", "expected"),
    [
        (utc(2026, 1, 1, 10), None, True),  # never ran under the scheduler
        (utc(2026, 1, 1, 10), state(utc(2026, 1, 1, 9), "success"), True),  # a newer slot
        (utc(2026, 1, 1, 10), state(utc(2026, 1, 1, 10), "success"), False),  # done
        (utc(2026, 1, 1, 10), state(utc(2026, 1, 1, 10), "failed"), False),  # failed: next slot
        (utc(2026, 1, 1, 10), state(utc(2026, 1, 1, 10), "blocked"), False),
        (utc(2026, 1, 1, 10), state(utc(2026, 1, 1, 10), "cancelled"), True),  # resume it
        (utc(2026, 1, 1, 10), state(utc(2026, 1, 1, 11), "success"), False),  # clock went back
        (None, None, False),  # the schedule never fired
    ],
)
def test_is_due(slot: dt.datetime | None, current: SlotState | None, expected: bool) -> None:
    assert is_due(slot, current) is expected


def test_runs_once_on_start_then_once_per_slot(ops: OpsProject) -> None:
    clock = ManualClock(utc(2030, 1, 1, 10, 30))
    s = scheduler(ops, clock, ticks=4)
    s.run()
    # 10:30 (never ran: runs at once), then it sleeps exactly to 11:00, 12:00, 13:00
    assert [round(x, 2) for x in clock.sleeps] == [1800.05, 3600.0, 3600.0]
    assert [r[1] for r in runs(ops)] == ["success"] * 4
    slot, status = slot_state(ops)
    assert (slot, status) == (dt.datetime(2030, 1, 1, 13), "success")
    assert hook_records(ops.sandbox, ops.destination) == audience_emails(ops.warehouse)
    slots = [e["slot"] for e in s.log.of("run_started")]
    assert slots == [f"2030-01-01T{h}:00:00+00:00" for h in (10, 11, 12, 13)]


def test_a_missed_run_runs_once_on_start_without_backfill(ops: OpsProject) -> None:
    scheduler(ops, ManualClock(utc(2030, 1, 1, 10, 30)), ticks=1).run()
    assert len(runs(ops)) == 1
    write_marts(ops.warehouse, 80, big_every=2)  # the audience grew while we were down
    # Down from 10:30 to 16:10: slots 11:00 … 16:00 were missed; exactly one run catches up.
    s = scheduler(ops, ManualClock(utc(2030, 1, 1, 16, 10)), ticks=1)
    s.run()
    assert [r[1] for r in runs(ops)] == ["success", "success"]
    assert slot_state(ops) == (dt.datetime(2030, 1, 1, 16), "success")
    assert hook_records(ops.sandbox, ops.destination) == audience_emails(ops.warehouse)
    assert len(hook_records(ops.sandbox, ops.destination)) == 40
    # Started again within the same hour: nothing is due.
    again = scheduler(ops, ManualClock(utc(2030, 1, 1, 16, 40)), ticks=1)
    again.run()
    assert len(runs(ops)) == 2 and again.log.of("run_started") == []


def test_disabled_and_unscheduled_syncs_never_run(ops: OpsProject) -> None:
    from .helpers import write_destination

    ops.write_destination(cron="* * * * *", enabled=False)
    write_destination(ops.root, ops.sandbox.base_url, name="manual", hook="manual", cron=None)
    s = scheduler(ops, ManualClock(utc(2030, 1, 1, 10, 30)), ticks=3)
    s.run()
    assert runs(ops) == []
    # With nothing scheduled it only wakes for heartbeats.
    assert s.clock.sleeps == [7 * 24 * 3600.0] * 2  # type: ignore[attr-defined]


def test_an_invalid_edit_is_logged_and_the_scheduler_keeps_going(ops: OpsProject) -> None:
    clock = ManualClock(utc(2030, 1, 1, 10, 30))
    edits: list[int] = []

    def on_tick(_: object) -> None:
        edits.append(1)
        path = ops.destination_file
        if len(edits) == 1:  # break the file after the first tick ...
            path.write_text(path.read_text().replace("mode: mirror", "mode: mirorr"))

    s = scheduler(ops, clock, ticks=3)
    s.on_tick = on_tick
    s.run()
    problems = s.log.of("config_invalid")
    message = problems[0]["message"] if problems else ""
    assert f"{ops.destination}.yml:" in message and "mirorr" in message
    assert len(runs(ops)) == 1  # the first tick ran; the broken ones ran nothing


def test_build_before_runs_dbt_first_and_a_failed_build_skips_the_sync(
    ops: OpsProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cdpkit import dbt_runner
    from cdpkit.ops import tick

    calls: list[str] = []

    def build(project: object, **kw: object) -> dbt_runner.BuildOutcome:
        calls.append("build")
        failed = dbt_runner.NodeResult("model.x.customers", "error", "boom")
        return dbt_runner.BuildOutcome([dbt_runner.DbtResult("build", False, (failed,))])

    monkeypatch.setattr(tick.dbt_runner, "build", build)
    s = Scheduler(
        ops.project,
        log=EventLog("json", io.StringIO()),
        clock=ManualClock(utc(2030, 1, 1, 10, 30)),
        options=SchedulerOptions(heartbeat_s=600, max_ticks=3, force_build=True),
    )
    s.run()  # ticks at 10:30, 10:40, 10:50: all in the 10:00 slot
    assert calls == ["build"]  # once: the failed slot is not retried every tick
    assert runs(ops) == []  # nothing synced on top of a failed build
    assert slot_state(ops) == (dt.datetime(2030, 1, 1, 10), "failed")
    (failed,) = s.log.of("run_failed")
    assert "dbt build failed" in failed["message"]
    assert "model.x.customers: error: boom" in s.log.of("build_failed")[0]["message"]


def test_build_before_from_the_sync_config() -> None:
    """`build_before: true` on the schedule (or the sync) is honoured once the model has it."""
    from types import SimpleNamespace

    from cdpkit.ops.schedules import _build_before

    assert _build_before(SimpleNamespace(schedule=SimpleNamespace(build_before=True)))
    assert _build_before(SimpleNamespace(schedule=None, build_before=True))
    assert not _build_before(SimpleNamespace(schedule=SimpleNamespace(cron="* * * * *")))
