"""`cdpkit demo-data`: write a realistic, deterministic demo data set with ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from cdpkit.cli.common import err, out


def register(app: typer.Typer) -> None:
    app.command("demo-data")(demo_data_command)


def demo_data_command(
    customers: Annotated[int, typer.Option("--customers", "-n", help="People to generate.")] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same bytes).")] = 42,
    out_dir: Annotated[
        Path,
        typer.Option("--out", "-o", help="Directory to write the tables into.", file_okay=False),
    ] = Path("demo_data"),
    fmt: Annotated[
        str, typer.Option("--format", help="csv or parquet (truth.csv is always CSV).")
    ] = "csv",
    events_scale: Annotated[
        float,
        typer.Option(
            "--events-scale", help="Browsing sessions per person relative to the default (1.0)."
        ),
    ] = 1.0,
) -> None:
    """Generate every raw input table (events, orders, CRM, email, consents) plus truth.csv."""
    from cdpkit.demo_data import generate

    if fmt not in ("csv", "parquet"):
        raise typer.BadParameter("must be csv or parquet", param_hint="--format")
    file_format: Literal["csv", "parquet"] = "csv" if fmt == "csv" else "parquet"
    with Progress(
        *Progress.get_default_columns()[:1],
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("people", total=customers)
        summary = generate(
            customers,
            seed,
            out_dir,
            file_format,
            progress=lambda n: progress.update(task, completed=n),
            events_scale=events_scale,
        )
    out.print(f"Wrote {summary.people:,} people to {out_dir} in {summary.seconds:.1f}s:")
    for table, rows in summary.rows.items():
        out.print(f"  {table:<14} {rows:>12,} rows")
