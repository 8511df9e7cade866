"""`cdpkit history [--sync S]` and `cdpkit history show RUN_ID`: sync runs from the warehouse."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cdpkit.cli.common import CdpkitGroup, ProjectDirOption, TargetOption, out, project_from
from cdpkit.destinations.base import jsonable

app = typer.Typer(
    help="Past sync runs: status, counts, errors and rejected records.",
    cls=CdpkitGroup,
    invoke_without_command=True,
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)
OutputOption = Annotated[str, typer.Option("--output", "-o", help="text or json.")]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="history")


@app.callback()
def history_command(
    ctx: typer.Context,
    sync: Annotated[
        str | None,
        typer.Option("--sync", "-s", help="Only this sync (DEST.SYNC, sync or destination name)."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many runs.")] = 20,
    output: OutputOption = "text",
    project_dir: ProjectDirOption = None,
    target: TargetOption = None,
) -> None:
    """List recent sync runs, newest first (`cdpkit history show RUN_ID` for one run)."""
    if ctx.invoked_subcommand is not None:
        return
    from cdpkit.sync.history import recent_runs

    _check_output(output)
    runs = recent_runs(project_from(ctx, project_dir, target), sync=sync, limit=limit)
    if output == "json":
        typer.echo(json.dumps(jsonable(runs), indent=2))
        return
    if not runs:
        out.print("No sync runs yet.")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    numeric = ("secs", "add", "upd", "rem", "rej")
    for name in ("run", "sync", "status", "started (UTC)", *numeric):
        table.add_column(name, justify="right" if name in numeric else "left", no_wrap=True)
    for run in runs:
        c = run["confirmed"]
        table.add_row(
            run["run_id"],
            escape(run["sync"]),
            run["status"],
            f"{run['started_at']:%Y-%m-%d %H:%M:%S}" if run["started_at"] else "",
            f"{run['seconds']:.1f}" if run["seconds"] is not None else "",
            f"{c['add']:,}",
            f"{c['update']:,}",
            f"{c['remove']:,}",
            f"{sum(run['rejected'].values()):,}",
        )
    _print_table(table)


@app.command("show")
def show_command(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="The run id (from `cdpkit history`).")],
    output: OutputOption = "text",
    project_dir: ProjectDirOption = None,
    target: TargetOption = None,
) -> None:
    """One run in detail: plan, what was sent/confirmed/rejected, errors, rejected records."""
    from cdpkit.sync.history import run_details

    _check_output(output)
    run = run_details(project_from(ctx, project_dir, target), run_id)
    if output == "json":
        typer.echo(json.dumps(jsonable(run), indent=2))
        return
    _print_run(run)


def _check_output(output: str) -> None:
    if output not in ("text", "json"):
        raise typer.BadParameter("must be text or json", param_hint="--output")


def _print_run(run: dict[str, Any]) -> None:
    kind = f"{run['destination_type']}, {run['mode']}"
    out.print(f"[bold]run {run['run_id']}[/] — {escape(run['sync'])} ({kind})")
    status = run["status"] + (" (full resync)" if run.get("full_resync") else "")
    if run.get("resets_at"):
        status += f", the destination's quota resets at {run['resets_at']} UTC"
    out.print(f"  status: {status}")
    out.print(f"  started {run['started_at']}, finished {run['finished_at'] or '—'}")
    sizes = {k: run[k] or 0 for k in ("audience_size", "holdout_size", "eligible_size")}
    out.print(
        f"  audience {sizes['audience_size']:,} (holdout {sizes['holdout_size']:,}), eligible "
        f"{sizes['eligible_size']:,}, in destination before {run['destination_size'] or 0:,}"
    )
    for stage in ("planned", "sent", "confirmed", "rejected"):
        n = run[stage]
        out.print(
            f"  {stage:<9} {n['add']:>9,} add {n['update']:>9,} update {n['remove']:>9,} remove"
        )
    calls = f"requests {run['requests']:,}, retries {run['retries']:,}"
    out.print(f"  {calls}, throttled {run['throttled']:,}")
    if run["error"] and run["status"] == "deferred":
        out.print(f"  [yellow]deferred: {escape(run['error'])}[/]")
    elif run["error"]:
        out.print(f"  [red]error: {escape(run['error'])}[/]")
    if run["rejected_total"]:
        out.print(f"  rejected records ({run['rejected_total']:,}):")
        for item in run["rejections"]:
            out.print(
                f"    {escape(str(item['key']))} ({item['change']}): {escape(str(item['reason']))}"
            )
        if run["rejected_total"] > len(run["rejections"]):
            more = run["rejected_total"] - len(run["rejections"])
            out.print(f"    … and {more:,} more (cdpkit.sync_record_log)")


def _print_table(table: Table) -> None:
    """Tables for a terminal fit its width; piped output is never truncated."""
    if out.is_terminal:
        out.print(table)
    else:
        Console(width=200, highlight=False).print(table)
