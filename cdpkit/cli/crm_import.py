"""`cdpkit import hubspot|salesforce --destination NAME`: CRM contacts into raw.crm_contacts."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from cdpkit.cli.common import ProjectDirOption, TargetOption, err, new_app, out, project_from
from cdpkit.destinations.base import jsonable

if TYPE_CHECKING:  # the import machinery (pyarrow, the CRM clients) loads when it runs
    from cdpkit.crm_import import ImportSummary

app = new_app(
    "Import CRM contacts into the raw crm_contacts table (then `cdpkit build` merges them "
    "with the other identities)."
)

DestinationOption = Annotated[
    str,
    typer.Option(
        "--destination",
        "-d",
        help="The destination file (destinations/NAME.yml) with the CRM's credentials.",
        show_default=False,
    ),
]
FullOption = Annotated[
    bool, typer.Option("--full", help="Read every contact, ignoring the last import's watermark.")
]
OutputOption = Annotated[str, typer.Option("--output", "-o", help="text or json.")]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="import")


@app.command("hubspot")
def hubspot_command(
    ctx: typer.Context,
    destination: DestinationOption,
    full: FullOption = False,
    output: OutputOption = "text",
    project_dir: ProjectDirOption = None,
    target: TargetOption = None,
) -> None:
    """Page through every HubSpot contact; load the ones updated since the last import."""
    _run(ctx, "hubspot", destination, full, output, project_dir, target)


@app.command("salesforce")
def salesforce_command(
    ctx: typer.Context,
    destination: DestinationOption,
    full: FullOption = False,
    output: OutputOption = "text",
    project_dir: ProjectDirOption = None,
    target: TargetOption = None,
) -> None:
    """Query Salesforce Contacts (or Leads, per the destination's `object`) changed since the
    last import and load them."""
    _run(ctx, "salesforce", destination, full, output, project_dir, target)


def _run(
    ctx: typer.Context,
    source: Any,
    destination: str,
    full: bool,
    output: str,
    project_dir: Any,
    target: Any,
) -> None:
    project = project_from(ctx, project_dir, target)
    with_progress = output == "text" and err.is_terminal

    def on_page(pages: int, loaded: int) -> None:
        if with_progress:
            err.print(f"  page {pages}: {loaded} contacts loaded", end="\r")

    from cdpkit.crm_import import import_contacts

    summary = import_contacts(project, source, destination, full=full, on_page=on_page)
    if output == "json":
        out.print_json(json.dumps(jsonable(summary.__dict__)))
    else:
        _print(summary)
    if summary.status != "success":
        raise typer.Exit(1)


def _print(s: ImportSummary) -> None:
    out.print(
        f"{s.source} -> {escape(s.table)}: {s.loaded} contacts loaded, {s.unchanged} unchanged "
        f"({s.fetched} read in {s.pages} pages, {s.requests} requests, {s.seconds:.1f}s)"
    )
    if s.watermark_after is not None:
        out.print(f"watermark: {s.watermark_after.isoformat(sep=' ')} UTC")
    if s.status != "success":
        err.print(f"[bold yellow]Stopped:[/] {escape(s.message or s.status)}", markup=True)
