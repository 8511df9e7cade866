"""Find, parse and check a project's audiences (`audiences/*.yml`) plus any extra files."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from cdpkit.errors import CdpkitError, WarehouseError
from cdpkit.project import Project
from cdpkit.spec.audience import AudienceSpec
from cdpkit.spec.catalog import Catalog, contract_catalog, warehouse_catalog
from cdpkit.spec.checks import check_audiences, check_partial, references
from cdpkit.spec.diagnostics import Diagnostic, SpecError, did_you_mean, sort
from cdpkit.spec.validation import Loaded, data_at, load_models, spec_files
from cdpkit.spec.yamlpos import display_path
from cdpkit.warehouse import Warehouse, connect, duckdb_path

CODE_PREFIX = "A"


@dataclass
class Validation:
    """The outcome of checking audience files: the valid audiences and every diagnostic."""

    audiences: dict[str, AudienceSpec] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # audience name -> display path
    broken: dict[str, str] = field(default_factory=dict)  # name of an invalid audience -> path
    catalog: Catalog = field(default_factory=contract_catalog)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    def raise_for_errors(self, only_files: Iterable[str] | None = None) -> None:
        """SpecError when there are errors (only those in `only_files`, when given)."""
        keep = set(only_files) if only_files is not None else None
        chosen = [d for d in self.diagnostics if keep is None or d.path in keep]
        if any(d.is_error for d in chosen):
            raise SpecError(chosen, self.sources)


def audience_files(project: Project) -> list[Path]:
    """The project's audience files, sorted (none when audiences/ does not exist)."""
    folder = project.audiences_dir
    return spec_files([folder]) if folder.is_dir() else []


def load_catalog(project: Project, warehouse: Warehouse | None = None) -> Catalog:
    """The warehouse's mart catalog when reachable and built, else the mart contract."""
    if warehouse is not None:
        return warehouse_catalog(warehouse)
    try:
        target = project.target()
        if target.type == "duckdb" and not duckdb_path(project, target).exists():
            return contract_catalog()
        with connect(project, read_only=target.type == "duckdb") as wh:
            return warehouse_catalog(wh)
    except (WarehouseError, duckdb.Error):
        # unreachable, or this process already holds the DuckDB file read-write: validate
        # against the contract (pass `warehouse=` to check against the real marts)
        return contract_catalog()


def validate_files(
    paths: Sequence[Path], catalog: Catalog, *, base: Path | None = None
) -> Validation:
    """Parse, validate and cross-check these audience files together."""
    result = load_models(paths, AudienceSpec, CODE_PREFIX, base=base)
    items: list[Loaded[AudienceSpec]] = result.items
    diagnostics = list(result.diagnostics)
    diagnostics.extend(check_audiences(items, catalog))
    names = {item.value.name for item in items}
    for doc, path in result.failed:  # also report catalog mistakes of invalid audiences
        raw = data_at(doc.data, (*path, "name"))
        if isinstance(raw, str):
            names.add(raw)
    for doc, path in result.failed:
        diagnostics.extend(check_partial(doc, path, catalog, names))
    validation = Validation(diagnostics=sort(diagnostics), sources=result.sources, catalog=catalog)
    for doc, path in result.failed:
        raw = data_at(doc.data, (*path, "name"))
        validation.broken[raw if isinstance(raw, str) else Path(doc.file).stem] = doc.file
    for item in items:
        item.value._source = item.doc.file
        if item.value.name not in validation.audiences:
            validation.audiences[item.value.name] = item.value
            validation.files[item.value.name] = item.doc.file
    return validation


def validate_project(
    project: Project,
    extra: Sequence[Path] = (),
    *,
    warehouse: Warehouse | None = None,
    catalog: Catalog | None = None,
) -> Validation:
    """The project's audiences plus `extra` files (e.g. one outside audiences/)."""
    own = audience_files(project)
    resolved = {p.resolve() for p in own}
    paths = own + [p for p in extra if p.resolve() not in resolved]
    catalog = catalog or load_catalog(project, warehouse)
    return validate_files(paths, catalog, base=project.root)


def load_audiences(
    project: Project, *, warehouse: Warehouse | None = None, catalog: Catalog | None = None
) -> dict[str, AudienceSpec]:
    """Every audience of the project by name; SpecError listing every mistake otherwise."""
    validation = validate_project(project, warehouse=warehouse, catalog=catalog)
    validation.raise_for_errors()
    return validation.audiences


def is_path(name_or_path: str) -> bool:
    return name_or_path.endswith((".yml", ".yaml")) or "/" in name_or_path or "\\" in name_or_path


def resolve(
    project: Project,
    name_or_path: str,
    *,
    warehouse: Warehouse | None = None,
    catalog: Catalog | None = None,
) -> tuple[AudienceSpec, dict[str, AudienceSpec], Validation]:
    """The audience named (or the file given) plus the audiences it may reference.

    Only errors in its own file and in the files of audiences it references stop it; other
    broken files in audiences/ do not.
    """
    extra: list[Path] = []
    wanted: str | None = None
    if is_path(name_or_path):
        path = Path(name_or_path)
        if not path.is_file():
            raise CdpkitError(f"audience file {name_or_path} not found")
        extra.append(path)
    else:
        wanted = name_or_path
    validation = validate_project(project, extra, warehouse=warehouse, catalog=catalog)
    if wanted is None:
        target_file = display_path(extra[0], project.root)
        names = [n for n, f in validation.files.items() if f == target_file]
        if len(names) != 1:
            validation.raise_for_errors({target_file})
            if names:
                raise CdpkitError(
                    f"{name_or_path} holds several audiences ({', '.join(names)}); "
                    "pass one of their names"
                )
            raise CdpkitError(f"{name_or_path} holds no audience")
        wanted = names[0]
    if wanted not in validation.audiences:
        if wanted in validation.broken:
            validation.raise_for_errors({validation.broken[wanted]})
        unreadable = {d.path for d in validation.errors if d.code.startswith("Y")}
        same_stem = {f for f in unreadable if Path(f).stem == wanted}
        if same_stem:
            validation.raise_for_errors(same_stem)
        hint = did_you_mean(wanted, validation.audiences)
        known = ", ".join(sorted(validation.audiences)) or "none"
        raise CdpkitError(
            f"unknown audience '{wanted}'" + (f"; {hint}" if hint else f" (known: {known})")
        )
    relevant = _closure(wanted, validation)
    validation.raise_for_errors({validation.files[n] for n in relevant})
    return validation.audiences[wanted], validation.audiences, validation


def _closure(name: str, validation: Validation) -> set[str]:
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen or current not in validation.audiences:
            continue
        seen.add(current)
        todo.extend(ref for ref, _ in references(validation.audiences[current]))
    return seen
