"""`cdpkit demo`: the whole pipeline on the demo data, with a readable summary."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from cdpkit.cli.common import ProjectDirOption, TargetOption, err, out, project_from

if TYPE_CHECKING:  # the demo pipeline (data generator, dbt, sandbox) loads when it runs
    from cdpkit.demo import DemoReport


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)


def demo_command(
    ctx: typer.Context, project_dir: ProjectDirOption = None, target: TargetOption = None
) -> None:
    """Load the demo data, resolve identities, size the audiences and sync them to a sandbox."""
    from cdpkit.demo import run_demo

    project = project_from(ctx, project_dir, target)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("starting", total=None)
        report = run_demo(
            project,
            on_step=lambda s: progress.update(task, description=s),
            on_node=lambda uid, status: progress.update(
                task, description=f"dbt: {uid.split('.')[-1]} {status}"
            ),
        )
    _render(report)
    raise typer.Exit(report.exit_code)


def _render(report: DemoReport) -> None:
    for step in report.build.steps:
        counts = ", ".join(f"{n} {s}" for s, n in sorted(step.counts().items()))
        out.print(f"dbt {step.command}: {counts}")
    ident = report.identity
    if ident is not None:
        types = ", ".join(f"{t} {n:,}" for t, n in ident.identifiers)
        out.print(
            f"\nIdentity: {ident.customers:,} customers "
            f"({ident.anonymous:,} anonymous) from identifiers: {types}"
        )
        blocked = ident.blocked or []
        if blocked:
            out.print(
                "Blocked (guardrails): " + "; ".join(f"{label} {n:,}" for label, n in blocked)
            )
    table = Table(title=f"Audiences as of {report.as_of:%Y-%m-%d %H:%M} UTC", title_justify="left")
    table.add_column("audience")
    table.add_column("members", justify="right")
    table.add_column("holdout", justify="right")
    for a in report.audiences:
        table.add_row(a.name, f"{a.size:,}", f"{a.holdout:,}")
    out.print()
    out.print(table)
    out.print("\nSyncs to the sandbox (confirmed: +added ~updated -removed):")
    width = max((len(o.sync_id) for o in report.syncs), default=0)
    for o in report.syncs:
        c, rejected = o.confirmed, sum(o.rejected.values())
        line = f"  {o.sync_id:<{width}}  {o.mode:<8} {o.status:<8} "
        line += f"+{c['add']} ~{c['update']} -{c['remove']}"
        if rejected:
            line += f"  ({rejected} rejected: cdpkit history show {o.run_id})"
        out.print(line, markup=False)
    for arrived in report.arrived:
        out.print(f"Arrived at {arrived.fake}: {arrived.detail}")
    out.print("\nNext: cdpkit audiences list · cdpkit history · cdpkit report --out report.html")
    as_of = f"{report.as_of:%Y-%m-%d}"
    out.print(
        f'The demo data ends on {as_of}: time windows ("in the last 30 days") are relative '
        f"to now unless you pass --as-of {as_of}, e.g. cdpkit audiences preview "
        f"lapsed_buyers_90d --as-of {as_of} · cdpkit plan --as-of {as_of}",
        markup=False,
    )
