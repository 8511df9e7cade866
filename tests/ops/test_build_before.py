"""`build_before: true` in a destination file makes `cdpkit schedule run` build (dbt) first."""

from __future__ import annotations

import io

import pytest

from cdpkit import dbt_runner
from cdpkit.ops.clock import ManualClock
from cdpkit.ops.events import EventLog
from cdpkit.ops.scheduler import Scheduler, SchedulerOptions
from cdpkit.ops.schedules import load_entries

from .conftest import OpsProject
from .helpers import hook_records, utc


def _run_scheduler(ops: OpsProject, monkeypatch: pytest.MonkeyPatch) -> tuple[Scheduler, list[str]]:
    from cdpkit.ops import tick

    calls: list[str] = []

    def build(project: object, **kw: object) -> dbt_runner.BuildOutcome:
        calls.append("build")
        return dbt_runner.BuildOutcome([dbt_runner.DbtResult("build", True, ())])

    monkeypatch.setattr(tick.dbt_runner, "build", build)
    s = Scheduler(
        ops.project,
        log=EventLog("json", io.StringIO()),
        clock=ManualClock(utc(2030, 1, 1, 10, 30)),
        options=SchedulerOptions(heartbeat_s=600, max_ticks=1),
    )
    s.run()
    return s, calls


@pytest.mark.parametrize(
    "where",
    [
        pytest.param("schedule", id="on-the-schedule"),
        pytest.param("sync", id="on-the-sync"),
    ],
)
def test_build_before_in_the_destination_file_builds_first(
    ops: OpsProject, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    if where == "sync":
        ops.write_destination(extra_sync="    build_before: true\n")
    else:
        text = ops.destination_file.read_text()
        flagged = text.replace('{cron: "0 * * * *"}', '{cron: "0 * * * *", build_before: true}')
        assert flagged != text
        ops.destination_file.write_text(flagged)
    [entry] = load_entries(ops.project)
    assert entry.build_before
    s, calls = _run_scheduler(ops, monkeypatch)
    assert calls == ["build"]
    events = [e["event"] for e in s.log.events]
    assert events.index("build_finished") < events.index("run_started")
    (finished,) = s.log.of("run_finished")
    assert finished["status"] == "success"
    assert len(hook_records(ops.sandbox, ops.destination)) == 30


def test_without_build_before_the_scheduler_does_not_build(
    ops: OpsProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    [entry] = load_entries(ops.project)
    assert not entry.build_before
    s, calls = _run_scheduler(ops, monkeypatch)
    assert calls == []
    assert s.log.of("build_started") == []
    assert [e["status"] for e in s.log.of("run_finished")] == ["success"]
