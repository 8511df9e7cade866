"""`cdpkit report [--out FILE]`: write a self-contained HTML status page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cdpkit.cli.common import ProjectDirOption, TargetOption, out, project_from


def register(app: typer.Typer) -> None:
    app.command("report")(report_command)


def report_command(
    ctx: typer.Context,
    out_file: Annotated[
        Path, typer.Option("--out", "-o", help="Where to write the page.", dir_okay=False)
    ] = Path("cdpkit-report.html"),
    project_dir: ProjectDirOption = None,
    target: TargetOption = None,
) -> None:
    """Write a static HTML status page: identity, audience sizes over time, sync runs.

    One file with inline charts and no external references: open it in a browser, attach it
    to a message or publish it as a CI artifact.
    """
    from cdpkit.ops.report import write_report

    project = project_from(ctx, project_dir, target)
    path = write_report(project, out_file)
    out.print(f"Wrote {path}", markup=False, highlight=False)
