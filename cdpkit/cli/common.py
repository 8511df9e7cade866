"""What every CLI command shares: project/target options, consoles, the error handler."""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from cdpkit.errors import CdpkitError
from cdpkit.project import Project, find_project

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

ProjectDirOption = Annotated[
    Path | None,
    typer.Option(
        "--project-dir",
        help="The cdpkit project (dbt project root). Default: the current directory.",
        file_okay=False,
        show_default=False,
    ),
]
TargetOption = Annotated[
    str | None,
    typer.Option("--target", "-t", help="profiles.yml target. Default: the profile's default."),
]


def project_from(ctx: typer.Context, project_dir: Path | None, target: str | None) -> Project:
    """The project a command works on: its own options win over the global ones."""
    state = _root_state(ctx)
    return find_project(project_dir or state.get("project_dir"), target or state.get("target"))


def debug_enabled(ctx: click.Context | None) -> bool:
    return bool(ctx and _root_state(ctx).get("debug")) or os.environ.get("CDPKIT_DEBUG") == "1"


def _root_state(ctx: click.Context) -> dict[str, Any]:
    root = ctx.find_root()
    if not isinstance(root.obj, dict):
        root.obj = {}
    return root.obj


class CdpkitGroup(TyperGroup):
    """Turns cdpkit's own errors into `Error: …` on stderr and exit 1 (traceback with --debug)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CdpkitError as exc:
            if debug_enabled(ctx):
                traceback.print_exc(file=sys.stderr)
            err.print(f"[bold red]Error:[/] {escape(str(exc))}", markup=True, highlight=False)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err.print("Interrupted.")
            raise typer.Exit(130) from None


def new_app(help_text: str) -> typer.Typer:
    """A typer app (or sub-app) with cdpkit's error handling and no locals in tracebacks."""
    return typer.Typer(
        help=help_text,
        cls=CdpkitGroup,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        pretty_exceptions_show_locals=False,
        rich_markup_mode=None,
    )
