"""`cdpkit status`: is a scheduler alive, and each sync's next and last run."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from cdpkit.cli.common import ProjectDirOption, TargetOption, project_from


def register(app: typer.Typer) -> None:
    app.command("status")(status_command)


def status_command(
    ctx: typer.Context,
    output: Annotated[str, typer.Option("--output", "-o", help="text or json.")] = "text",
    require_scheduler: Annotated[
        bool,
        typer.Option(
            "--require-scheduler", help="Exit 1 when no scheduler is alive (for health checks)."
        ),
    ] = False,
    project_dir: ProjectDirOption = None,
    target: TargetOption = None,
) -> None:
    """Whether `cdpkit schedule run` is alive, what it is doing, and every sync's last run."""
    from cdpkit.cli.schedule import local_time, spec_errors
    from cdpkit.ops.status import as_json, collect_status

    if output not in ("text", "json"):
        raise typer.BadParameter("must be text or json", param_hint="--output")
    project = project_from(ctx, project_dir, target)
    with spec_errors():
        status = collect_status(project)
    code = 1 if require_scheduler and not status.alive else 0
    if output == "json":
        typer.echo(json.dumps(as_json(status), indent=2))
        raise typer.Exit(code)
    if status.problem:
        typer.echo(f"(warehouse unavailable, showing heartbeat files: {status.problem})")
    if status.alive:
        for info in status.alive:
            b = info.beat
            doing = b.activity or b.state
            typer.echo(f"Scheduler: alive — {b.host} pid {b.pid}, {doing} ({info.liveness.reason})")
    elif status.schedulers:
        latest = status.schedulers[0]
        typer.echo(f"Scheduler: not running — last seen {latest.liveness.reason}")
    else:
        typer.echo("Scheduler: never started (`cdpkit schedule run`)")
    if not status.syncs:
        typer.echo("No syncs configured.")
    for s in status.syncs:
        schedule = s.entry.schedule
        head = f"{s.entry.sync_id}"
        if schedule:
            head += f"  {schedule.cron} ({schedule.timezone})"
        if not s.entry.enabled:
            head += "  [disabled]"
        typer.echo(head)
        if s.next_run and schedule:
            typer.echo(f"    next run  {local_time(s.next_run, schedule.timezone)}")
        run = s.last_run
        if run:
            when = f"{run['started_at']:%Y-%m-%d %H:%M} UTC"
            typer.echo(f"    last run  {when}  {run['status']}  (run {run['run_id']})")
            if run.get("error"):
                typer.echo(f"    error     {str(run['error']).splitlines()[0]}")
        elif status.source == "warehouse":
            typer.echo("    last run  never")
    raise typer.Exit(code)
