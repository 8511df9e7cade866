"""`cdpkit sync [NAMES] [--dry-run]` and its alias `cdpkit plan`: send audiences to destinations."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from cdpkit.cli.common import ProjectDirOption, TargetOption, err, out, project_from
from cdpkit.destinations.base import jsonable
from cdpkit.sync.jobs import ProgressEvent, SyncOutcome, exit_code

NamesArg = Annotated[
    list[str] | None,
    typer.Argument(
        help="Syncs to run: a destination (all its syncs), DEST.SYNC or a sync name. Default: all.",
        show_default=False,
    ),
]
OutputOption = Annotated[
    str, typer.Option("--output", "-o", help="text or json (for automation).", show_default=True)
]
AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of", help="Evaluate audiences as of this ISO date/time (UTC).", show_default=False
    ),
]


def register(app: typer.Typer) -> None:
    app.command("sync")(sync_command)
    app.command("plan")(plan_command)


def sync_command(
    ctx: typer.Context,
    names: NamesArg = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Show what would be sent (counts, samples); send nothing."),
    ] = False,
    allow_large_removals: Annotated[
        bool,
        typer.Option(
            "--allow-large-removals",
            help="Run even when a safety limit trips (mass removal, audience shrank to 0).",
        ),
    ] = False,
    full_resync: Annotated[
        bool,
        typer.Option(
            "--full-resync",
            help="Send every current member again, not only what changed (Meta replaces the "
            "audience; mirror mode still removes what this sync added and left).",
        ),
    ] = False,
    output: OutputOption = "text",
    as_of: AsOfOption = None,
    project_dir: ProjectDirOption = None,
    target: TargetOption = None,
) -> None:
    """Sync audiences to their destinations: only what changed since the last confirmed run.

    Exit codes (the worst sync decides): 0 every record confirmed; 1 a sync failed, was
    blocked by a safety limit or is running elsewhere; 4 deferred: a destination's daily quota
    ran out, the sync stopped cleanly and the next run resumes where it stopped (nothing lost;
    the message says when the quota resets, if known); 3 some records were rejected by the
    destination (see `cdpkit history show RUN_ID`).
    """
    _run(
        ctx,
        names or [],
        dry_run,
        allow_large_removals,
        output,
        as_of,
        project_dir,
        target,
        full_resync=full_resync,
    )


def plan_command(
    ctx: typer.Context,
    names: NamesArg = None,
    output: OutputOption = "text",
    as_of: AsOfOption = None,
    project_dir: ProjectDirOption = None,
    target: TargetOption = None,
) -> None:
    """Show what `cdpkit sync` would do (same as `cdpkit sync --dry-run`)."""
    _run(ctx, names or [], True, False, output, as_of, project_dir, target)


def _run(
    ctx: typer.Context,
    names: list[str],
    dry_run: bool,
    allow_large_removals: bool,
    output: str,
    as_of: str | None,
    project_dir: Any,
    target: str | None,
    *,
    full_resync: bool = False,
) -> None:
    from cdpkit.audiences.runtime import parse_as_of
    from cdpkit.sync.api import run_syncs

    if output not in ("text", "json"):
        raise typer.BadParameter("must be text or json", param_hint="--output")
    project = project_from(ctx, project_dir, target)
    when = parse_as_of(as_of) if as_of else None
    with _spec_errors(), _progress(enabled=output == "text" and not dry_run) as on_progress:
        outcomes = run_syncs(
            project,
            names,
            dry_run=dry_run,
            allow_large_removals=allow_large_removals,
            full_resync=full_resync,
            as_of=when,
            on_progress=on_progress,
        )
    code = exit_code(outcomes)
    if output == "json":
        document = {
            "dry_run": dry_run,
            "exit_code": code,
            "syncs": [jsonable(o.as_dict()) for o in outcomes],
        }
        typer.echo(json.dumps(document, indent=2))
    else:
        for outcome in outcomes:
            (_print_plan if dry_run else _print_result)(outcome)
        if not outcomes:
            out.print("No syncs configured (add destinations/*.yml).")
    raise typer.Exit(code)


@contextmanager
def _spec_errors() -> Iterator[None]:
    from cdpkit.spec.diagnostics import SpecError

    try:
        yield
    except SpecError as exc:
        err.print("Error: invalid destination configuration", markup=False, style="bold red")
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[ProgressEvent], None] | None]:
    """A progress bar per sync with records/s, on an interactive stderr only."""
    if not enabled or not err.is_terminal:
        yield None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} rec/s"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as progress:
        tasks: dict[str, TaskID] = {}

        def update(event: ProgressEvent) -> None:
            task = tasks.get(event.sync_id)
            if task is None:
                task = progress.add_task(escape(event.sync_id), total=event.total, rate="0")
                tasks[event.sync_id] = task
            elapsed = progress.tasks[task].elapsed or 0.0
            rate = f"{event.done / elapsed:,.0f}" if elapsed > 0 else "0"
            progress.update(task, completed=event.done, rate=rate)

        yield update


def _print_plan(o: SyncOutcome) -> None:
    p = o.plan
    what = f"{o.destination_type} ({o.mode}, audience {escape(o.audience)})"
    if o.full_resync:
        what += " — full resync"
    out.print(f"[bold]{escape(o.sync_id)}[/] → {what}")
    if o.status == "locked":
        out.print(f"  [yellow]{escape(o.error or '')}[/]")
        return
    out.print(
        f"  audience {p['audience_size']:,} (holdout {p['holdout_size']:,}), eligible "
        f"{p['eligible_size']:,}, in destination {p['destination_size']:,}"
    )
    reasons = _ineligible(p)
    if reasons:
        out.print(f"  not eligible: {escape(reasons)}")
    out.print(f"  plan: {p['add']:,} to add, {p['update']:,} to update, {p['remove']:,} to remove")
    for op in ("add", "update", "remove"):
        for sample in p.get("samples", {}).get(op, []):
            fields = json.dumps(jsonable(sample["fields"]), ensure_ascii=False)
            out.print(f"    {op:<6} {escape(str(sample['key']))} {escape(fields)}", soft_wrap=True)
    if p.get("blocked"):
        out.print(
            f"  [yellow]apply would be blocked: {escape(p['blocked'])} (--allow-large-removals)[/]"
        )


def _ineligible(p: dict[str, Any]) -> str:
    """'3 without an email, 2 without marketing consent, …' (only reasons that apply)."""
    counts = p.get("ineligible") or {}
    identifier = p.get("identifier") or "identifier"
    labels = {
        "no_identifier": f"without {identifier}",
        "no_consent": f"without {p.get('consent')} consent",
        "suppressed": "suppressed",
        "duplicate": f"with the same {identifier} as another member (sent once)",
    }
    return ", ".join(f"{counts[r]:,} {label}" for r, label in labels.items() if counts.get(r))


def _print_result(o: SyncOutcome) -> None:
    colour = {"success": "green", "partial": "yellow", "deferred": "yellow"}.get(o.status, "red")
    c, r = o.confirmed, o.rejected
    line = (
        f"[bold]{escape(o.sync_id)}[/]: [{colour}]{o.status}[/]"
        f" — confirmed {c['add']:,} added, {c['update']:,} updated, {c['remove']:,} removed"
    )
    if o.full_resync:
        line += " (full resync)"
    rejected = sum(r.values())
    if rejected:
        line += f"; {rejected:,} rejected"
    if o.run_id:
        line += f" ({o.seconds:.1f}s, {o.records_per_s:,.0f} rec/s, run {o.run_id})"
    out.print(line)
    for item in o.rejections[:5]:
        out.print(f"  rejected {escape(item['key'])}: {escape(item['reason'])}")
    if rejected > len(o.rejections[:5]):
        out.print(f"  … see `cdpkit history show {o.run_id}` for all rejections")
    if o.error and o.status == "deferred":
        err.print(f"[bold yellow]Deferred:[/] {escape(o.sync_id)}: {escape(o.error)}")
    elif o.error:
        err.print(f"[bold red]Error:[/] {escape(o.sync_id)}: {escape(o.error)}")
