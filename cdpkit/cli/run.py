"""`cdpkit run [--all]`: build, check audiences and destinations, run due syncs, one summary."""

from __future__ import annotations

import json
import threading
from typing import Annotated

import typer
from rich.markup import escape

from cdpkit.cli.common import ProjectDirOption, TargetOption, err, out, project_from

EXIT_CODES_HELP = """\
Exit codes: 0 success (or nothing due, or a due sync is already running elsewhere);
1 a step failed (dbt build, invalid audiences or destinations, a sync failed, was blocked by
a safety limit or cancelled); 2 usage error; 3 the syncs finished but some records were
rejected by the destination; 4 deferred: a destination's daily quota ran out, the sync stopped
cleanly and the next run resumes (nothing lost)."""


def register(app: typer.Typer) -> None:
    app.command("run", help=run_command.__doc__ + "\n\n" + EXIT_CODES_HELP)(run_command)


def run_command(
    ctx: typer.Context,
    everything: Annotated[
        bool, typer.Option("--all", help="Run every enabled sync, not only the due ones.")
    ] = False,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--sync", "-s", help="Run just this sync (DEST.SYNC, repeatable), due or not."
        ),
    ] = None,
    no_build: Annotated[bool, typer.Option("--no-build", help="Skip the dbt build.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Plan the syncs and send nothing.")
    ] = False,
    allow_large_removals: Annotated[
        bool,
        typer.Option("--allow-large-removals", help="Run even when a safety limit trips."),
    ] = False,
    output: Annotated[str, typer.Option("--output", "-o", help="text or json.")] = "text",
    project_dir: ProjectDirOption = None,
    target: TargetOption = None,
) -> None:
    """Run the pipeline once: dbt build, validate and compile audiences, then the due syncs."""
    from cdpkit.ops.pipeline import PipelineOptions, Step, run_pipeline
    from cdpkit.ops.scheduler import install_signal_handlers

    if output not in ("text", "json"):
        raise typer.BadParameter("must be text or json", param_hint="--output")
    project = project_from(ctx, project_dir, target)
    stop = threading.Event()
    restore = install_signal_handlers(stop)

    def on_step(step: Step) -> None:
        if output == "text":
            colour = {"ok": "green", "skipped": "dim"}.get(step.status, "red")
            headline = step.detail.splitlines()[0] if step.detail else ""
            err.print(f"{step.name:<13}[{colour}]{step.status:<8}[/]{escape(headline)}")

    try:
        result = run_pipeline(
            project,
            PipelineOptions(
                everything=everything,
                only=tuple(only or ()),
                build=not no_build,
                dry_run=dry_run,
                allow_large_removals=allow_large_removals,
                stop=stop,
            ),
            on_step=on_step,
        )
    finally:
        restore()
    code = result.exit_code
    if output == "json":
        from cdpkit.destinations.base import jsonable

        tick = result.tick
        document = {
            "exit_code": code,
            "steps": [
                {
                    "step": s.name,
                    "status": s.status,
                    "detail": s.detail,
                    "seconds": round(s.seconds, 3),
                }
                for s in result.steps
            ],
            "syncs": [jsonable(o.as_dict()) for o in tick.outcomes] if tick else [],
            "skipped": [{"sync": s, "reason": r} for s, r in tick.skipped] if tick else [],
            "failed": [{"sync": s, "error": e} for s, e in tick.failed] if tick else [],
        }
        typer.echo(json.dumps(document, indent=2))
        raise typer.Exit(code)
    for step in result.steps:
        if step.status == "failed" and "\n" in step.detail:
            typer.echo(step.detail, err=True)
    if result.tick:
        for outcome in result.tick.outcomes:
            c, r = sum(outcome.confirmed.values()), sum(outcome.rejected.values())
            line = f"  {outcome.sync_id}: {outcome.status}"
            if outcome.status == "planned":
                p = outcome.plan
                line += f" — would add {p['add']:,}, update {p['update']:,}, remove {p['remove']:,}"
            elif outcome.run_id:
                line += f" — {c:,} confirmed, {r:,} rejected (run {outcome.run_id})"
            if outcome.error:
                line += f": {outcome.error}"
            out.print(escape(line))
        for sync_id, error in result.tick.failed:
            out.print(escape(f"  {sync_id}: could not start: {error.splitlines()[0]}"))
        for sync_id, why in result.tick.skipped:
            out.print(escape(f"  {sync_id}: skipped ({why})"))
    meaning = {
        0: "success",
        1: "failed",
        3: "finished with rejected records",
        4: "deferred until the destination's quota resets",
    }[code]
    out.print(f"Result: {meaning} (exit {code})")
    raise typer.Exit(code)
