"""The `cdpkit` command: a thin shell over the library."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cdpkit import __version__
from cdpkit.cli import (
    audiences,
    build,
    crm_import,
    demo,
    demo_data,
    destinations,
    history,
    identity,
    init,
    report,
    run,
    sandbox,
    schedule,
    status,
    sync,
)
from cdpkit.cli.common import new_app

app = new_app(
    "cdpkit: warehouse-native customer data platform. Identity resolution in dbt, "
    "audiences as YAML, syncs to CRMs, ad platforms and messaging tools."
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cdpkit {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    project_dir: Annotated[
        Path | None,
        typer.Option(
            "--project-dir",
            help="The cdpkit project (dbt project root). Default: the current directory.",
            file_okay=False,
        ),
    ] = None,
    target: Annotated[
        str | None, typer.Option("--target", "-t", help="profiles.yml target (default: dev).")
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Global options apply to every command."""
    ctx.obj = {"project_dir": project_dir, "target": target, "debug": debug}


build.register(app)
demo_data.register(app)
demo.register(app)
init.register(app)
audiences.register(app)
sync.register(app)
history.register(app)
sandbox.register(app)
destinations.register(app)
identity.register(app)
schedule.register(app)
run.register(app)
status.register(app)
report.register(app)
crm_import.register(app)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="cdpkit")
