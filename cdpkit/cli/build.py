"""`cdpkit build`: run the dbt project (seeds only with --demo, then models and tests)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from cdpkit import dbt_runner
from cdpkit.cli.common import ProjectDirOption, TargetOption, err, out, project_from


def register(app: typer.Typer) -> None:
    app.command("build")(build_command)


def build_command(
    ctx: typer.Context,
    select: Annotated[
        list[str] | None,
        typer.Option("--select", "-s", help="dbt node selection (repeatable), e.g. marts+."),
    ] = None,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Load the demo seeds into the raw schema first. Without it, raw is never touched.",
        ),
    ] = False,
    full_refresh: Annotated[
        bool,
        typer.Option(
            "--full-refresh",
            help="Rebuild incremental models from scratch (customer ids are kept; see README).",
        ),
    ] = False,
    project_dir: ProjectDirOption = None,
    target: TargetOption = None,
) -> None:
    """Build the dbt project: staging, identity and marts, with their tests."""
    project = project_from(ctx, project_dir, target)
    tgt = project.target()
    err.print(f"Building {project.root.name} on target '{tgt.name}' ({tgt.type})")
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("dbt", total=None)
        done = 0

        def on_node(unique_id: str, status: str) -> None:
            nonlocal done
            done += 1
            progress.update(task, description=f"{done} nodes done · {unique_id} {status}")

        outcome = dbt_runner.build(
            project, select=select or (), demo=demo, full_refresh=full_refresh, on_node=on_node
        )
    for step in outcome.steps:
        counts = ", ".join(f"{n} {s}" for s, n in sorted(step.counts().items())) or "nothing"
        seconds = sum(n.seconds for n in step.nodes)
        out.print(f"dbt {step.command}: {counts} ({seconds:.1f}s in nodes)")
    dbt_runner.require_success(outcome)
    out.print("Build complete.")
