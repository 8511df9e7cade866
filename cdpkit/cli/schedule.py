"""`cdpkit schedule list|run|crontab`: scheduled syncs, the foreground scheduler, crontab lines."""

from __future__ import annotations

import datetime as dt
import json
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from cdpkit.cli.common import ProjectDirOption, TargetOption, err, new_app, project_from

app = new_app("Scheduled syncs: list them, run the scheduler, or print crontab lines.")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="schedule")


@contextmanager
def spec_errors(what: str = "destination configuration") -> Iterator[None]:
    """Located diagnostics printed verbatim (no markup), exit 1."""
    from cdpkit.spec.diagnostics import SpecError

    try:
        yield
    except SpecError as exc:
        err.print(f"Error: invalid {what}", markup=False, style="bold red")
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None


def local_time(when: dt.datetime, zone: str) -> str:
    """`2026-03-29 03:00 CEST` in the schedule's zone."""
    from zoneinfo import ZoneInfo

    shown = when.astimezone(ZoneInfo(zone))
    return f"{shown:%Y-%m-%d %H:%M} {shown.tzname()}"


@app.command("list")
def list_command(
    ctx: typer.Context,
    count: Annotated[
        int, typer.Option("--count", "-n", min=1, max=50, help="Run times shown.")
    ] = 3,
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    project_dir: ProjectDirOption = None,
    target: TargetOption = None,
) -> None:
    """Every scheduled sync with its cron expression, time zone and next run times."""
    from cdpkit.ops.schedules import upcoming

    if fmt not in ("text", "json"):
        raise typer.BadParameter("must be text or json", param_hint="--format")
    project = project_from(ctx, project_dir, target)
    now = dt.datetime.now(dt.UTC)
    with spec_errors():
        items = upcoming(project, now, count)
    if fmt == "json":
        document = [
            {
                "sync": u.entry.sync_id,
                "cron": u.entry.schedule.cron if u.entry.schedule else None,
                "timezone": u.entry.schedule.timezone if u.entry.schedule else None,
                "enabled": u.entry.enabled,
                "build_before": u.entry.build_before,
                "next_runs": [t.isoformat() for t in u.next_times],
            }
            for u in items
        ]
        typer.echo(json.dumps(document, indent=2))
        return
    if not items:
        typer.echo('No scheduled syncs (add `schedule: "0 * * * *"` to a sync in destinations/).')
        return
    for u in items:
        s = u.entry.schedule
        assert s is not None
        flags = [] if u.entry.enabled else ["disabled"]
        if u.entry.build_before:
            flags.append("build first")
        suffix = f"  [{', '.join(flags)}]" if flags else ""
        typer.echo(f"{u.entry.sync_id}  {s.cron}  ({s.timezone}){suffix}")
        for when in u.next_times:
            utc = "" if s.timezone == "UTC" else f"  = {when:%Y-%m-%d %H:%M} UTC"
            typer.echo(f"    {local_time(when, s.timezone)}{utc}")


@app.command("run")
def run_command(
    ctx: typer.Context,
    log_format: Annotated[
        str, typer.Option("--log-format", help="text, or json (one JSON object per line).")
    ] = "text",
    heartbeat: Annotated[
        float,
        typer.Option("--heartbeat-interval", min=1.0, help="Seconds between heartbeats."),
    ] = 30.0,
    build_before: Annotated[
        bool,
        typer.Option("--build-before", help="Run `cdpkit build` before every sync run."),
    ] = False,
    project_dir: ProjectDirOption = None,
    target: TargetOption = None,
) -> None:
    """Run due syncs on their schedules until stopped (for a server or a container).

    At most one run per sync at a time, even with several schedulers on one warehouse. A run
    missed while the scheduler was down runs once on start. SIGTERM or Ctrl-C: the batches in
    flight finish and are checkpointed, then the scheduler exits (a second signal stops
    retries too). `cdpkit status` tells whether a scheduler is alive.
    """
    from cdpkit.ops.events import FORMATS, EventLog
    from cdpkit.ops.scheduler import Scheduler, SchedulerOptions, install_signal_handlers

    if log_format not in FORMATS:
        raise typer.BadParameter("must be text or json", param_hint="--log-format")
    project = project_from(ctx, project_dir, target)
    log = EventLog(log_format, sys.stderr)
    stop = threading.Event()
    restore = install_signal_handlers(stop, log)
    try:
        with spec_errors():
            Scheduler(
                project,
                log=log,
                stop=stop,
                options=SchedulerOptions(heartbeat_s=heartbeat, force_build=build_before),
            ).run()
    finally:
        restore()


@app.command("crontab")
def crontab_command(
    ctx: typer.Context,
    env_file: Annotated[
        Path | None,
        typer.Option("--env-file", help="A file of VAR=value lines each job loads (secrets)."),
    ] = None,
    executable: Annotated[
        str | None,
        typer.Option("--cdpkit", help="Path of the cdpkit executable. Default: this one."),
    ] = None,
    project_dir: ProjectDirOption = None,
    target: TargetOption = None,
) -> None:
    """Print crontab lines for the scheduled syncs (flock overlap protection, logs/ output)."""
    from cdpkit.ops.crontab import render_crontab
    from cdpkit.ops.schedules import load_entries

    project = project_from(ctx, project_dir, target)
    with spec_errors():
        entries = load_entries(project)
    text = render_crontab(
        entries,
        root=project.root,
        target=project.target().name,
        executable=executable,
        env_file=env_file.resolve() if env_file else None,
    )
    typer.echo(text, nl=False)
