"""`cdpkit destinations list|validate|schema|types`: check destination files without syncing."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cdpkit.cli.common import ProjectDirOption, TargetOption, err, new_app, out, project_from

app = new_app("Destinations (destinations/*.yml): list, validate, JSON Schema, connector types.")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="destinations")


@app.command("list")
def list_command(
    ctx: typer.Context, project_dir: ProjectDirOption = None, target: TargetOption = None
) -> None:
    """Every sync of every destination: type, audience, mode, schedule."""
    from cdpkit.sync.loader import load_destinations

    loaded = load_destinations(project_from(ctx, project_dir, target))
    table = Table(box=None, header_style="bold", pad_edge=False)
    for name in ("sync", "type", "audience", "mode", "identifier", "schedule"):
        table.add_column(name, no_wrap=True)
    for dest, sync in loaded.syncs():
        schedule = sync.schedule.cron if sync.schedule else ""
        table.add_row(
            escape(dest.sync_id(sync)),
            dest.connector.type,
            escape(sync.audience),
            sync.mode,
            escape(sync.identifier),
            escape(schedule),
        )
    _print_table(table)
    if loaded.errors:
        err.print(
            f"{len(loaded.errors)} destination file error(s); run 'cdpkit destinations validate'"
        )


@app.command("validate")
def validate_command(
    ctx: typer.Context,
    output: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    project_dir: ProjectDirOption = None,
    target: TargetOption = None,
) -> None:
    """Check every destination file (exit 1 on errors). Audiences are checked when they load."""
    from cdpkit.spec.diagnostics import render, to_json
    from cdpkit.sync.loader import check_audiences, load_destinations

    project = project_from(ctx, project_dir, target)
    loaded = load_destinations(project)
    diagnostics = list(loaded.diagnostics)
    try:
        from cdpkit.audiences.loader import validate_project

        audiences = validate_project(project).audiences
    except Exception:  # audiences are validated by their own command
        audiences = None
    if audiences is not None:
        for dest in loaded.destinations.values():
            diagnostics.extend(check_audiences(dest, audiences))
    if output == "json":
        typer.echo(to_json(diagnostics))
    elif diagnostics:
        typer.echo(render(diagnostics, loaded.sources), err=True)
    else:
        out.print(
            f"{len(loaded.destinations)} destination file(s), {len(loaded.syncs())} sync(s): ok"
        )
    if any(d.is_error for d in diagnostics):
        raise typer.Exit(1)


@app.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of destination files (for editor autocompletion)."""
    from cdpkit.sync.schema import destination_json_schema

    typer.echo(json.dumps(destination_json_schema(), indent=2))


@app.command("types")
def types_command() -> None:
    """The destination types this installation knows, with their limits."""
    from cdpkit.destinations import registry

    table = Table(box=None, header_style="bold", pad_edge=False)
    for name in ("type", "max batch", "rate limit", "description"):
        table.add_column(name)
    for name in registry.types():
        cls = registry.get(name)
        rate = f"{cls.rate_limit.per_second:g}/s" if cls.rate_limit else "none"
        table.add_row(name, f"{cls.max_batch_size:,}", rate, escape(cls.description))
    _print_table(table)


def _print_table(table: Table) -> None:
    """Tables for a terminal fit its width; piped output is never truncated."""
    if out.is_terminal:
        out.print(table)
    else:
        Console(width=200, highlight=False).print(table)
