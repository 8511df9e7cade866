"""`cdpkit demo`: the whole pipeline on the demo data, end to end, on this machine.

Seeds the demo sources, builds identity and the marts, sizes every audience as of the demo
data's reference time, and syncs the demo destinations to an in-process sandbox of fake
destination APIs (loopback only), then reports what arrived there.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from cdpkit import dbt_runner
from cdpkit.demo_data import REFERENCE_TIME
from cdpkit.project import Project

if TYPE_CHECKING:
    from cdpkit.ops.report.collect import IdentityStats
    from cdpkit.sync.jobs import SyncOutcome


@dataclass(frozen=True)
class AudienceSize:
    name: str
    size: int
    holdout: int


@dataclass(frozen=True)
class ArrivedAt:
    """What one sandbox fake holds after the demo syncs."""

    fake: str
    detail: str


@dataclass
class DemoReport:
    """Everything `make demo` prints."""

    build: dbt_runner.BuildOutcome
    as_of: datetime
    identity: IdentityStats | None = None
    audiences: list[AudienceSize] = field(default_factory=list)
    syncs: list[SyncOutcome] = field(default_factory=list)
    arrived: list[ArrivedAt] = field(default_factory=list)
    exit_code: int = 0


def run_demo(
    project: Project,
    *,
    on_node: Callable[[str, str], None] | None = None,
    on_step: Callable[[str], None] | None = None,
) -> DemoReport:
    """Build with the demo seeds, size the audiences, sync to the sandbox; raise on failure."""
    step = on_step or (lambda _s: None)
    step("Loading the demo data and building identity and the marts (dbt)")
    outcome = dbt_runner.build(project, demo=True, on_node=on_node)
    dbt_runner.require_success(outcome)
    report = DemoReport(build=outcome, as_of=REFERENCE_TIME)

    step("Summarising identity resolution")
    from cdpkit.ops.report.collect import identity_stats
    from cdpkit.warehouse import connect

    with connect(project) as wh:
        report.identity = identity_stats(wh)

    step(f"Sizing the audiences as of {REFERENCE_TIME:%Y-%m-%d}")
    from cdpkit.audiences import load_audiences
    from cdpkit.audiences.runtime import preview

    for name in sorted(load_audiences(project)):
        p = preview(project, name, limit=0, as_of=REFERENCE_TIME)
        report.audiences.append(AudienceSize(name, p.size, p.holdout_size))

    step("Syncing the demo destinations to the local sandbox")
    _sync_to_sandbox(project, report)
    return report


def _sync_to_sandbox(project: Project, report: DemoReport) -> None:
    import requests

    from cdpkit.sandbox.credentials import WEBHOOK_SECRET, credential
    from cdpkit.sandbox.server import Sandbox
    from cdpkit.sync.api import run_syncs
    from cdpkit.sync.jobs import exit_code

    credential(WEBHOOK_SECRET)  # made up unless set: the demo's webhook file signs with it
    with Sandbox(port=0) as sandbox:
        os.environ["CDPKIT_SANDBOX_URL"] = sandbox.base_url
        # The sandbox starts empty each time: send every member again, as after a reset.
        outcomes = run_syncs(project, as_of=REFERENCE_TIME, full_resync=True)
        report.syncs = list(outcomes)
        report.exit_code = exit_code(outcomes)
        control = sandbox.control_url("webhook")
        stats = requests.get(f"{control}/stats", timeout=10).json()
        for hook, counts in sorted(stats.get("hooks", {}).items()):
            held = requests.get(f"{control}/records", params={"hook": hook}, timeout=10).json()
            report.arrived.append(
                ArrivedAt(
                    f"webhook /{hook}",
                    f"{counts.get('batches', 0)} signed batches, "
                    f"{counts.get('records_received', 0)} records received, {len(held)} held",
                )
            )
