"""`cdpkit init DIR`: scaffold a new project."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cdpkit.cli.common import out
from cdpkit.scaffold import init_project


def register(app: typer.Typer) -> None:
    app.command("init")(init_command)


def init_command(
    directory: Annotated[Path, typer.Argument(help="New or empty directory for the project.")],
) -> None:
    """Create a cdpkit project: dbt models, demo seeds, an example audience and destination."""
    made = init_project(directory)
    out.print(f"Created a cdpkit project in {made.root} ({made.files} files). Next:")
    out.print(f"  cd {directory} && cdpkit build --demo")
