"""`cdpkit audiences …`: list, validate, compile, preview, members, overlap, schema."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from cdpkit.cli import audiences_diff
from cdpkit.cli.common import ProjectDirOption, TargetOption, err, out, project_from
from cdpkit.cli.common import new_app as _new_app
from cdpkit.errors import ConfigError

app = _new_app("Define, check, compile and preview audiences (audiences/*.yml).")

NameArg = Annotated[
    str, typer.Argument(help="An audience name from audiences/, or a path to a YAML file.")
]
AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Evaluate time windows as of this ISO date/time (UTC). Default: now.",
        show_default=False,
    ),
]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="audiences")
    audiences_diff.register(app)  # `audiences diff --base REF` (cdpkit/ops/diff.py)


@contextmanager
def _spec_errors() -> Iterator[None]:
    """Print diagnostics verbatim (no console markup: the YAML may contain [brackets])."""
    from cdpkit.spec.diagnostics import SpecError

    try:
        yield
    except SpecError as exc:
        err.print("Error: invalid audience definitions", markup=False, style="bold red")
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None


@app.command("list")
def list_command(
    ctx: typer.Context, project_dir: ProjectDirOption = None, target: TargetOption = None
) -> None:
    """Every audience with its description, tags and last measured size."""
    from cdpkit.audiences.runtime import list_audiences

    project = project_from(ctx, project_dir, target)
    infos, diagnostics = list_audiences(project)
    rows = []
    for info in infos:
        size = info.last_size
        shown = "-"
        if size is not None:
            shown = f"{size.size:,}"
            shown += f" (+{size.holdout_size:,} holdout)" if size.holdout_size else ""
        when = size.as_of.strftime("%Y-%m-%d %H:%M") if size else "-"
        rows.append((info.name, info.description, ", ".join(info.tags), shown, when))
    if infos:
        _print_table(["name", "description", "tags", "last size", "as of"], rows)
    else:
        out.print(f"No audiences in {project.audiences_dir}.", markup=False)
    errors = sum(1 for d in diagnostics if d.is_error)
    if errors:
        err.print(
            f"{errors} error(s) in audience files; run 'cdpkit audiences validate' for details",
            markup=False,
        )


@app.command("validate")
def validate_command(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Files or folders to check. Default: the project's audiences/."),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    project_dir: ProjectDirOption = None,
    target: TargetOption = None,
) -> None:
    """Check audience files; every mistake is reported with file:line:col. Exit 1 on errors."""
    from cdpkit.audiences.loader import validate_files, validate_project
    from cdpkit.spec.catalog import contract_catalog
    from cdpkit.spec.diagnostics import render, to_json
    from cdpkit.spec.validation import spec_files
    from cdpkit.spec.yamlpos import display_path

    if fmt not in ("text", "json"):
        raise typer.BadParameter("must be text or json", param_hint="--format")
    extra = spec_files(paths or [])
    try:
        project = project_from(ctx, project_dir, target)
    except ConfigError:
        if not extra:
            raise
        validation = validate_files(extra, contract_catalog())
        shown = {display_path(p) for p in extra}
    else:
        validation = validate_project(project, extra)
        shown = {display_path(p, project.root) for p in extra} if extra else None
    diagnostics = [d for d in validation.diagnostics if shown is None or d.path in shown]
    errors = [d for d in diagnostics if d.is_error]
    if fmt == "json":
        typer.echo(to_json(diagnostics))
    else:
        if diagnostics:
            typer.echo(render(diagnostics, validation.sources))
        if not errors:
            names = [n for n, f in validation.files.items() if shown is None or f in shown]
            out.print(
                f"{len(names)} audience(s) valid (checked against the "
                f"{validation.catalog.source} catalog).",
                markup=False,
            )
    if errors:
        raise typer.Exit(1)


@app.command("compile")
def compile_command(
    ctx: typer.Context,
    name: Annotated[
        str | None,
        typer.Argument(help="Audience name or YAML path (optional with --emit-dbt: all)."),
    ] = None,
    dialect: Annotated[
        str | None,
        typer.Option(
            "--dialect",
            "-d",
            help="duckdb, postgres, snowflake, bigquery, databricks or redshift. "
            "Default: the target's.",
        ),
    ] = None,
    as_of: AsOfOption = None,
    emit_dbt: Annotated[
        bool,
        typer.Option("--emit-dbt", help="Write dbt models to models/audiences/ instead."),
    ] = False,
    project_dir: ProjectDirOption = None,
    target: TargetOption = None,
) -> None:
    """Print an audience's membership SQL (time windows relative to --as-of, else now)."""
    from cdpkit.audiences.runtime import compile_sql, emit_dbt_models, parse_as_of

    project = project_from(ctx, project_dir, target)
    with _spec_errors():
        if emit_dbt:
            emitted = emit_dbt_models(project, name, dialect=dialect)
            for path in emitted.written:
                out.print(f"wrote {path.relative_to(project.root)}", markup=False)
            for path in emitted.removed:
                out.print(f"removed {path.relative_to(project.root)}", markup=False)
            return
        if name is None:
            raise typer.BadParameter("give an audience name (or --emit-dbt for all)")
        moment = parse_as_of(as_of) if as_of else None
        sql = compile_sql(project, name, dialect=dialect, as_of=moment)
    typer.echo(sql)


@app.command("preview")
def preview_command(
    ctx: typer.Context,
    name: NameArg,
    limit: Annotated[int, typer.Option("--limit", "-n", min=0, help="Sample rows.")] = 10,
    as_of: AsOfOption = None,
    project_dir: ProjectDirOption = None,
    target: TargetOption = None,
) -> None:
    """Size, holdout size, sample members and query time of an audience."""
    from cdpkit.audiences.runtime import parse_as_of, preview

    project = project_from(ctx, project_dir, target)
    with _spec_errors():
        result = preview(project, name, limit=limit, as_of=parse_as_of(as_of))
    out.print(
        f"{result.name}: {result.size:,} members"
        + (f", {result.holdout_size:,} in holdout" if result.holdout_size else "")
        + f" (as of {result.as_of.isoformat()}, {result.seconds:.2f}s)",
        markup=False,
    )
    if result.rows:
        _print_table(result.columns, result.rows)


@app.command("members")
def members_command(
    ctx: typer.Context,
    name: NameArg,
    as_of: AsOfOption = None,
    fmt: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    out_file: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write to this file instead of stdout.")
    ] = None,
    project_dir: ProjectDirOption = None,
    target: TargetOption = None,
) -> None:
    """The full membership: customer_id plus the audience's fields, holdout excluded."""
    from cdpkit.audiences.runtime import members, parse_as_of

    if fmt not in ("csv", "json"):
        raise typer.BadParameter("must be csv or json", param_hint="--format")
    project = project_from(ctx, project_dir, target)
    with _spec_errors():
        if out_file is None:
            result = members(project, name, sys.stdout, fmt=fmt, as_of=parse_as_of(as_of))
        else:
            partial = out_file.with_name(out_file.name + ".partial")
            try:
                with partial.open("w", encoding="utf-8", newline="") as sink:
                    result = members(project, name, sink, fmt=fmt, as_of=parse_as_of(as_of))
                partial.replace(out_file)
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
    where = f" to {out_file}" if out_file else ""
    err.print(
        f"{result.name}: {result.count:,} members{where} ({result.seconds:.2f}s)", markup=False
    )


@app.command("overlap")
def overlap_command(
    ctx: typer.Context,
    a: Annotated[str, typer.Argument(help="First audience (name or path).")],
    b: Annotated[str, typer.Argument(help="Second audience (name or path).")],
    as_of: AsOfOption = None,
    project_dir: ProjectDirOption = None,
    target: TargetOption = None,
) -> None:
    """Sizes of A, B and A∩B (holdouts excluded)."""
    from cdpkit.audiences.runtime import overlap, parse_as_of

    project = project_from(ctx, project_dir, target)
    with _spec_errors():
        result = overlap(project, a, b, as_of=parse_as_of(as_of))
    share_a = f" ({result.both / result.size_a:.1%} of {result.a})" if result.size_a else ""
    share_b = f" ({result.both / result.size_b:.1%} of {result.b})" if result.size_b else ""
    out.print(f"{result.a}: {result.size_a:,}", markup=False)
    out.print(f"{result.b}: {result.size_b:,}", markup=False)
    out.print(f"both: {result.both:,}{share_a}{share_b}", markup=False)


@app.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of audience files (for editor autocompletion and checks)."""
    from cdpkit.spec.schema import audience_json_schema

    typer.echo(json.dumps(audience_json_schema(), indent=2))


def _print_table(columns: list[str], rows: list[tuple[Any, ...]], max_width: int = 60) -> None:
    """Plain aligned columns (no wrapping, no markup: values are user data)."""
    cells = [[_cell(v, max_width) for v in row] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    typer.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _cell(value: Any, max_width: int) -> str:
    text = "" if value is None else " ".join(str(value).split())
    return text if len(text) <= max_width else text[: max_width - 1] + "…"
