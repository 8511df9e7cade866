"""Run dbt in-process with the project's own profiles.yml, with progress and a concise result."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cdpkit.errors import CdpkitError
from cdpkit.project import Project

DEMO_VAR = "cdpkit_demo"
MAX_FAILURES_SHOWN = 8


@dataclass(frozen=True)
class NodeResult:
    """The outcome of one dbt node (model, seed, test)."""

    unique_id: str
    status: str
    message: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class DbtResult:
    """The outcome of one dbt command."""

    command: str
    success: bool
    nodes: tuple[NodeResult, ...] = ()
    error: str = ""

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for n in self.nodes:
            out[n.status] = out.get(n.status, 0) + 1
        return out

    def failures(self) -> list[NodeResult]:
        return [n for n in self.nodes if n.status in {"error", "fail", "runtime error"}]


@dataclass
class BuildOutcome:
    """Every dbt command a `cdpkit build` ran, in order."""

    steps: list[DbtResult] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return all(s.success for s in self.steps)


@contextlib.contextmanager
def _cwd(path: Path) -> Iterator[None]:
    # Relative paths in profiles.yml (the DuckDB file) resolve against the project directory.
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def run_dbt(
    project: Project,
    command: str,
    args: Sequence[str] = (),
    *,
    dbt_vars: dict[str, Any] | None = None,
    on_node: Callable[[str, str], None] | None = None,
) -> DbtResult:
    """Invoke `dbt <command>` on the project; `on_node(unique_id, status)` reports progress."""
    from dbt.cli.main import dbtRunner

    def callback(event: Any) -> None:
        if on_node is None or event.info.name != "NodeFinished":
            return
        data = event.data
        on_node(data.node_info.unique_id, str(data.run_result.status))

    argv = [
        command,
        "--project-dir",
        str(project.root),
        "--profiles-dir",
        str(project.root),
        "--log-level",
        "none",
        "--log-level-file",
        "debug",
        "--no-use-colors",
        "--log-path",
        str(project.root / "logs"),
        "--target-path",
        str(project.root / "target"),
    ]
    if project.target_name:
        argv += ["--target", project.target_name]
    if dbt_vars:
        argv += ["--vars", json.dumps(dbt_vars)]
    argv += list(args)
    with _cwd(project.root):
        res = dbtRunner(callbacks=[callback]).invoke(argv)
    nodes = tuple(_node_results(res.result))
    error = ""
    if res.exception is not None:
        error = str(res.exception).strip()
    elif not res.success and not nodes:
        error = f"dbt {command} failed; see {project.root / 'logs' / 'dbt.log'}"
    return DbtResult(command=command, success=bool(res.success), nodes=nodes, error=error)


def _node_results(result: Any) -> Iterator[NodeResult]:
    for r in getattr(result, "results", None) or []:
        node = getattr(r, "node", None)
        yield NodeResult(
            unique_id=getattr(node, "unique_id", "?"),
            status=str(getattr(r.status, "value", r.status)),
            message=str(r.message or ""),
            seconds=float(getattr(r, "execution_time", 0.0) or 0.0),
        )


def build(
    project: Project,
    *,
    select: Sequence[str] = (),
    demo: bool = False,
    full_refresh: bool = False,
    on_node: Callable[[str, str], None] | None = None,
) -> BuildOutcome:
    """`dbt seed` (only with demo=True, into the raw schema), then `dbt build` incl. tests."""
    outcome = BuildOutcome()
    dbt_vars = {DEMO_VAR: True} if demo else {}
    if demo:
        seeded = run_dbt(project, "seed", ["--full-refresh"], dbt_vars=dbt_vars, on_node=on_node)
        outcome.steps.append(seeded)
        if not seeded.success:
            return outcome
    args: list[str] = ["--exclude-resource-type", "seed"]
    if select:
        args += ["--select", *select]
    if full_refresh:
        args.append("--full-refresh")
    outcome.steps.append(run_dbt(project, "build", args, dbt_vars=dbt_vars, on_node=on_node))
    return outcome


def require_success(outcome: BuildOutcome) -> None:
    """Raise a CdpkitError that names each failed node and its message."""
    if outcome.success:
        return
    lines: list[str] = []
    for step in outcome.steps:
        if step.success:
            continue
        if step.error:
            lines.append(f"dbt {step.command}: {step.error}")
        for n in step.failures():
            first = n.message.strip().splitlines()
            detail = " ".join(line.strip() for line in first[:3])
            lines.append(f"{n.unique_id}: {n.status}: {detail}")
    shown = lines[:MAX_FAILURES_SHOWN]
    if len(lines) > MAX_FAILURES_SHOWN:
        shown.append(f"… and {len(lines) - MAX_FAILURES_SHOWN} more (see logs/dbt.log)")
    raise CdpkitError("dbt build failed:\n  " + "\n  ".join(shown or ["unknown failure"]))
