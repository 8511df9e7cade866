"""`cdpkit schedule run` as a real process: a one-minute schedule against the sandbox, SIGTERM
mid-sync, a restart that resumes, and the next minute's slot picking up new members."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cdpkit.ops.clock import OFFSET_ENV
from cdpkit.warehouse import connect

from .conftest import OpsProject
from .helpers import (
    HOOK_SECRET,
    HOOK_SECRET_ENV,
    audience_emails,
    hook_records,
    hook_stats,
    set_faults,
    write_marts,
)

CDPKIT = str(Path(sys.executable).with_name("cdpkit"))


class Process:
    """A `cdpkit schedule run` child with its JSON-lines log."""

    def __init__(self, ops: OpsProject, log: Path, offset_s: float = 0.0) -> None:
        env = {
            **os.environ,
            "CDPKIT_WAREHOUSE": str(ops.warehouse),
            HOOK_SECRET_ENV: HOOK_SECRET,
            OFFSET_ENV: str(offset_s),
        }
        self.log = log
        self.handle = log.open("w")
        self.proc = subprocess.Popen(
            [
                CDPKIT,
                "--project-dir",
                str(ops.root),
                "schedule",
                "run",
                "--log-format",
                "json",
                "--heartbeat-interval",
                "1",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self.handle,
        )

    def events(self) -> list[dict[str, Any]]:
        lines = self.log.read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def wait_for(self, what: Callable[[], bool], timeout: float, doing: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if what():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"scheduler exited while {doing}:\n{self.log.read_text()}")
            time.sleep(0.05)
        raise AssertionError(f"timed out {doing}:\n{self.log.read_text()}")

    def finished(self, status: str) -> list[dict[str, Any]]:
        return [e for e in self.events() if e["event"] == "run_finished" and e["status"] == status]

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        finally:
            self.handle.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.handle.close()


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    """Children still running when a test fails are killed, never left behind."""
    started: list[Process] = []
    yield started
    for process in started:
        process.kill()


def run_statuses(ops: OpsProject) -> list[str]:
    with connect(ops.project) as wh:
        return [
            r[0] for r in wh.fetchall("select status from cdpkit.sync_runs order by started_at")
        ]


@pytest.mark.slow
def test_sigterm_mid_sync_then_restart_resumes_and_the_minute_schedule_keeps_going(
    ops: OpsProject, tmp_path: Path, processes: list[Process]
) -> None:
    write_marts(ops.warehouse, 400, big_every=2)  # 200 members, 20 batches of 10
    ops.write_destination(cron="* * * * *", batch_size=10)
    set_faults(ops.sandbox, latency_s=0.15)

    # 1. Never ran: it syncs at once. SIGTERM once a few batches have arrived.
    first = Process(ops, tmp_path / "first.log")
    processes.append(first)
    first.wait_for(
        lambda: len(hook_records(ops.sandbox, ops.destination)) >= 30, 90, "waiting for batches"
    )
    assert first.terminate() == 0
    events = [e["event"] for e in first.events()]
    assert "shutdown_requested" in events and events[-1] == "scheduler_stopped"
    (cancelled,) = first.finished("cancelled")
    partial = hook_records(ops.sandbox, ops.destination)
    assert cancelled["confirmed"] == len(partial) < 200
    with connect(ops.project) as wh:
        synced = wh.fetchall("select count(*) from cdpkit.sync_state")[0][0]
    assert synced == len(partial), "checkpoint and destination disagree after SIGTERM"

    # 2. Restart with the clock 20 s before a minute boundary: the cancelled slot resumes
    #    at once, then the next minute's slot runs on time.
    now = dt.datetime.now(dt.UTC)
    offset = (60 - now.second - now.microsecond / 1e6 - 20) % 60
    second = Process(ops, tmp_path / "second.log", offset)
    processes.append(second)
    second.wait_for(lambda: bool(second.finished("success")), 90, "waiting for the resumed run")
    resumed = second.finished("success")[0]
    assert resumed["confirmed"] == 200 - len(partial)
    assert hook_records(ops.sandbox, ops.destination) == audience_emails(ops.warehouse)

    # 3. New members arrive; the next one-minute slot sends them (without a restart).
    write_marts(ops.warehouse, 440, big_every=2)
    second.wait_for(
        lambda: len(hook_records(ops.sandbox, ops.destination)) == 220,
        100,
        "waiting for the next slot",
    )
    assert second.terminate() == 0
    assert hook_records(ops.sandbox, ops.destination) == audience_emails(ops.warehouse)
    assert hook_stats(ops.sandbox, ops.destination).get("duplicate_batches", 0) == 0
    statuses = run_statuses(ops)
    assert statuses[0] == "cancelled" and set(statuses[1:]) == {"success"} and len(statuses) >= 3
    slots = [
        dt.datetime.fromisoformat(e["slot"]) for e in second.events() if e["event"] == "run_started"
    ]
    assert all(
        later - earlier >= dt.timedelta(minutes=1)
        for earlier, later in zip(slots, slots[1:], strict=False)
    )
    assert all(s.second == 0 for s in slots[1:])  # on the minute
