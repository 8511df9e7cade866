"""`cdpkit status`: scheduler liveness from heartbeats, and each sync's last and next run."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from cdpkit.cli.main import app
from cdpkit.ops.heartbeat import Beat, Heartbeat, liveness
from cdpkit.ops.status import collect_status
from cdpkit.sync import lease

from .conftest import OpsProject

NOW = dt.datetime(2030, 1, 1, 12, 0, 0)
LOCK_HOLDER = """
import sys, time, duckdb
deadline = time.monotonic() + 30
while True:
    try:
        con = duckdb.connect(sys.argv[1])
        break
    except duckdb.IOException:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.01)
print("locked", flush=True)
time.sleep(60)
"""


def beat(**kw: object) -> Beat:
    values: dict[str, object] = {
        "scheduler_id": "other-host:123:456",
        "host": "other-host",
        "pid": 123,
        "started_at": NOW - dt.timedelta(hours=1),
        "beat_at": NOW - dt.timedelta(seconds=20),
        "interval_s": 30.0,
        "state": "idle",
    }
    values.update(kw)
    return Beat(**values)  # type: ignore[arg-type]


def test_liveness_rules() -> None:
    import socket

    here = socket.gethostname()
    now = NOW.replace(tzinfo=dt.UTC)
    assert liveness(beat(), now).alive  # another host, beat 20 s ago, every 30 s
    stale = liveness(beat(beat_at=NOW - dt.timedelta(seconds=91)), now)
    assert not stale.alive and "no beat for" in stale.reason
    assert not liveness(beat(state="stopped"), now).alive
    me = liveness(
        beat(
            scheduler_id=lease.holder_id(),
            host=here,
            pid=os.getpid(),
            beat_at=NOW - dt.timedelta(hours=5),
        ),
        now,
    )
    assert me.alive, "a live process on this host is alive however old its last beat"
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(gone.stdout)
    dead = liveness(beat(scheduler_id=f"{here}:{pid}:1", host=here, pid=pid, beat_at=NOW), now)
    assert not dead.alive and "gone" in dead.reason


def test_status_follows_a_heartbeat_and_reports_runs(cli: CliRunner, ops: OpsProject) -> None:
    args = ["--project-dir", str(ops.root), "status"]
    result = cli.invoke(app, [*args, "--require-scheduler"])
    assert result.exit_code == 1 and "never started" in result.stdout
    assert cli.invoke(app, ["--project-dir", str(ops.root), "run", "--no-build"]).exit_code == 0
    heart = Heartbeat(ops.project, interval_s=0.2)
    heart.update(state="idle", activity="waiting")
    heart.start()
    try:
        time.sleep(0.5)
        result = cli.invoke(app, [*args, "--require-scheduler", "--output", "json"])
        assert result.exit_code == 0, result.stdout
        document = json.loads(result.stdout)
        assert document["scheduler_alive"] is True
        (sync,) = document["syncs"]
        assert sync["sync"] == ops.sync_id and sync["last_run"]["status"] == "success"
        assert sync["last_run"]["confirmed"] == 30 and sync["last_slot_status"] == "success"
        assert sync["next_run_at"].endswith(":00:00+00:00")
    finally:
        heart.stop()
    result = cli.invoke(app, [*args, "--require-scheduler"])
    assert result.exit_code == 1 and "not running" in result.stdout and "stopped" in result.stdout


@pytest.mark.slow
def test_status_reads_heartbeat_files_while_the_warehouse_is_locked(
    cli: CliRunner, ops: OpsProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    heart = Heartbeat(ops.project, interval_s=0.2, on_error=lambda m: None)
    heart.update(state="running", activity="syncing hook")
    heart.start()
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(ops.warehouse)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        monkeypatch.setenv("CDPKIT_LOCK_TIMEOUT", "0.3")
        time.sleep(0.5)
        status = collect_status(ops.project)
        assert status.source == "heartbeat files" and "locked" in (status.problem or "")
        assert [b.beat.activity for b in status.alive] == ["syncing hook"]
        shown = cli.invoke(app, ["--project-dir", str(ops.root), "status"]).stdout
        assert "warehouse unavailable" in shown and "alive" in shown and "syncing hook" in shown
    finally:
        holder.kill()
        holder.wait()
        heart.stop()
