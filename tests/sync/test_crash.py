"""Crash safety: `cdpkit sync` as a subprocess against a slow fake, `kill -9` at 20 random
points (half at random times — startup, planning, sending, committing — half at a random
point of the send stream), rerun to completion after each kill. After every rerun the
destination equals the audience, and at most one batch per kill was sent twice."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import replace
from decimal import Decimal

import pytest

from cdpkit.project import Project
from cdpkit.sandbox.server import Sandbox

from .cli_project import CliProject, expected, setup_project
from .helpers import Person, people

pytestmark = pytest.mark.slow

KILLS = 20
BATCH = 40
SEED = int(os.environ.get("CDPKIT_CRASH_SEED", "20261129"))


# The `sync` command exactly as `cdpkit sync` runs it, in an app without the other commands
# (their imports would only add start-up time to each of the 40 processes).
SYNC_APP = (
    "import sys; from cdpkit.cli.common import new_app; from cdpkit.cli import sync; "
    "app = new_app('sync'); sync.register(app); app(sys.argv[1:], prog_name='cdpkit')"
)


def _cdpkit(cp: CliProject) -> list[str]:
    return [sys.executable, "-c", SYNC_APP]


def _churn(rng: random.Random, crowd: list[Person], round_no: int) -> list[Person]:
    """Rename ~30%, drop ~5% below the revenue bar, bring back ~5%, add a few newcomers."""
    out = []
    for p in crowd:
        roll = rng.random()
        if roll < 0.30:
            p = replace(p, first_name=f"R{round_no}-{rng.randrange(1000)}")
        elif roll < 0.35:
            p = replace(p, total_revenue=Decimal(50))
        elif roll < 0.40:
            p = replace(p, total_revenue=Decimal(200 + rng.randrange(100)))
        out.append(p)
    start = 10_000 + round_no * 100
    return out + people(rng.randrange(5, 30), start=start)


def _received(cp: CliProject) -> int:
    return int(cp.stats().get("records_received", 0))


def test_kill_9_anywhere_loses_nothing_and_resends_at_most_one_batch(
    scratch_project: Project, sandbox: Sandbox, uid: str
) -> None:
    rng = random.Random(SEED)
    cp = setup_project(scratch_project, sandbox, uid)
    cp.write_destination(batch_size=BATCH, concurrency=1, timeout_s=10)
    cp.faults(latency_s=0.07)  # a slow destination: every request takes 70 ms
    crowd = people(900)
    env = {**os.environ, "CDPKIT_LOCK_TIMEOUT": "60"}
    effective = 0
    report = []
    for round_no in range(KILLS + 10):
        if effective == KILLS:
            break
        crowd = crowd if round_no == 0 else _churn(rng, crowd, round_no)
        cp.set_customers(crowd)
        held, wanted = cp.records(), expected(crowd)  # the fake holds the last audience
        planned = len(wanted.keys() ^ held.keys()) + sum(
            1 for k in wanted.keys() & held.keys() if wanted[k] != held[k]
        )
        before = _received(cp)
        proc = subprocess.Popen(
            [*_cdpkit(cp), "sync", "--project-dir", str(cp.root)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if round_no % 2 == 0:  # any moment at all
            deadline = time.monotonic() + rng.uniform(0.3, 3.5)
            while time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.005)
        else:  # a random point of the send stream
            target = before + rng.randrange(1, max(2, planned))
            deadline = time.monotonic() + 20
            while _received(cp) < target and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
        killed = proc.poll() is None
        if killed:
            os.kill(proc.pid, signal.SIGKILL)
            effective += 1
        proc.wait()
        rerun = subprocess.run(
            [*_cdpkit(cp), "sync", "--project-dir", str(cp.root)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert rerun.returncode == 0, rerun.stderr
        resent = _received(cp) - before - planned
        report.append((round_no, planned, killed, resent))
        assert cp.records() == expected(crowd), (
            f"round {round_no}: destination differs from audience"
        )
        assert 0 <= resent <= (BATCH if killed else 0), (
            f"round {round_no}: {resent} records re-sent"
        )
    print(f"seed {SEED}: (round, planned, killed, re-sent) {report}")
    assert effective == KILLS  # kills that landed after a run had finished do not count
