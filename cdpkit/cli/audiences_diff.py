"""`cdpkit audiences diff --base REF`: audiences whose definition or compiled SQL a branch changes.

The `audiences` sub-app belongs to cdpkit/cli/audiences.py; it registers this command with
`app.command("diff")(diff_command)`.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from cdpkit.cli.common import ProjectDirOption, TargetOption, project_from

FORMATS = ("text", "markdown", "json")


def diff_command(
    ctx: typer.Context,
    base: Annotated[str, typer.Option("--base", help="Git ref to compare with, e.g. origin/main.")],
    dialect: Annotated[
        str | None,
        typer.Option("--dialect", "-d", help="Compile for this dialect. Default: the target's."),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="text, markdown or json.")] = "text",
    exit_code: Annotated[
        bool, typer.Option("--exit-code", help="Exit 1 when any audience changed (like git diff).")
    ] = False,
    project_dir: ProjectDirOption = None,
    target: TargetOption = None,
) -> None:
    """Which audiences' definitions and compiled SQL differ between REF and the working tree.

    Exit 1 when an audience file on this side is invalid (and with --exit-code when anything
    changed). Markdown output suits a pull-request comment or $GITHUB_STEP_SUMMARY.
    """
    from cdpkit.ops.diff import as_json, as_markdown, as_text, diff_audiences

    if fmt not in FORMATS:
        raise typer.BadParameter("must be text, markdown or json", param_hint="--format")
    project = project_from(ctx, project_dir, target)
    result = diff_audiences(project, base, dialect=dialect)
    if fmt == "json":
        typer.echo(json.dumps(as_json(result), indent=2))
    elif fmt == "markdown":
        typer.echo(as_markdown(result), nl=False)
    else:
        typer.echo(as_text(result), nl=False)
        if result.errors:
            typer.echo(result.errors, err=True)
    if result.errors or (exit_code and result.changed):
        raise typer.Exit(1)


def register(audiences_app: typer.Typer) -> None:
    """For cdpkit/cli/audiences.py: `audiences_diff.register(app)`."""
    audiences_app.command("diff")(diff_command)
