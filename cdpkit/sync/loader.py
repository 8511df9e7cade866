"""Load and check `destinations/*.yml` into typed configs, every mistake as a located diagnostic.

Codes (prefix D, shared with the generic ones of cdpkit.spec): D000 not a mapping, D001 unknown
key, D002 missing key, D003 bad value, D004 unknown destination type, D005 bad file name,
D010/D011 secrets and env references, D020 environment variable not set, D030/D031 schedule,
D040 duplicate sync name, D041 batch size over the connector's limit, D042 unknown audience,
D043 identifier not among the audience's fields, D044 mapped field not among them,
D045 mode the connector cannot do, D050 suppression file.

Files whose name starts with `_` are project settings, not destinations:
`destinations/_suppression.yml` lists who is never sent anywhere:

```yaml
suppress:
  - audience: do_not_contact                 # everyone in this audience
  - table: raw.do_not_contact                 # identifiers in a table (schema.table)
    column: email
    identifier_type: email                    # matched through customer_identifiers
```
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import model_validator

from cdpkit.destinations import registry
from cdpkit.destinations.base import Destination
from cdpkit.errors import CdpkitError, ConfigError
from cdpkit.project import Project
from cdpkit.spec.diagnostics import Diagnostic, SpecError, did_you_mean, sort
from cdpkit.spec.validation import spec_error, spec_files, validate_doc
from cdpkit.spec.yamlpos import YamlDoc, display_path, load_yaml
from cdpkit.sync.config import DestinationConfig, Strict, SyncConfig, valid_name
from cdpkit.sync.envref import SECRET_CODE, walk_references
from cdpkit.sync.membership import SuppressionEntry

PREFIX = "D"
SUPPRESSION_FILE = "_suppression.yml"


@dataclass(frozen=True)
class LoadedDestination:
    """A valid destination file."""

    name: str
    config: DestinationConfig
    connector: type[Destination]
    doc: YamlDoc

    def sync_id(self, sync: SyncConfig) -> str:
        return f"{self.name}.{sync.sync_name}"


@dataclass
class DestinationSet:
    destinations: dict[str, LoadedDestination] = field(default_factory=dict)
    suppression: list[SuppressionEntry] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    def raise_for_errors(self) -> None:
        if self.errors:
            raise SpecError(self.diagnostics, self.sources)

    def syncs(self) -> list[tuple[LoadedDestination, SyncConfig]]:
        return [(d, s) for d in self.destinations.values() for s in d.config.syncs]


class SuppressionItem(Strict):
    audience: str | None = None
    table: str | None = None
    column: str = "identifier_value"
    identifier_type: Literal[
        "email",
        "phone",
        "user_id",
        "anonymous_id",
        "device_id",
        "crm_id",
        "loyalty_id",
        "customer_id",
    ] = "email"

    @model_validator(mode="after")
    def _one_source(self) -> SuppressionItem:
        if (self.audience is None) == (self.table is None):
            raise spec_error("D050", "give exactly one of 'audience' or 'table'")
        return self


class SuppressionFile(Strict):
    suppress: list[SuppressionItem]


def destination_files(project: Project) -> list[Path]:
    folder = project.destinations_dir
    if not folder.is_dir():
        return []
    return [p for p in spec_files([folder]) if not p.name.startswith("_")]


def load_destinations(project: Project, paths: Sequence[Path] | None = None) -> DestinationSet:
    """Parse and validate destination files (default: all of `destinations/`)."""
    result = DestinationSet()
    for path in paths if paths is not None else destination_files(project):
        _load_file(project, path, result)
    suppression = project.destinations_dir / SUPPRESSION_FILE
    if paths is None and suppression.is_file():
        _load_suppression(project, suppression, result)
    result.diagnostics = sort(result.diagnostics)
    return result


def _load_file(project: Project, path: Path, result: DestinationSet) -> None:
    display = display_path(path, project.root)
    try:
        doc = load_yaml(path, display=display)
    except SpecError as exc:
        result.diagnostics.extend(exc.diagnostics)
        result.sources.update(exc.sources)
        return
    result.sources[doc.file] = doc.text
    name = path.stem
    if not valid_name(name):
        result.diagnostics.append(
            doc.diagnostic(
                (),
                "D005",
                f"bad destination file name '{path.name}': the name before .yml must use lowercase "
                "letters, digits and _, starting with a letter",
            )
        )
        return
    data = doc.data
    if not isinstance(data, dict):
        result.diagnostics.append(
            doc.diagnostic((), "D000", "expected a mapping with 'type' and 'syncs'")
        )
        return
    type_name = data.get("type")
    if type_name is None:
        result.diagnostics.append(
            doc.diagnostic(
                (),
                "D002",
                "missing required key 'type'",
                hint=f"one of: {', '.join(registry.types())}",
            )
        )
        return
    if not isinstance(type_name, str) or type_name not in registry.types():
        result.diagnostics.append(
            doc.diagnostic(
                ("type",),
                "D004",
                f"unknown destination type {type_name!r}",
                hint=did_you_mean(type_name, registry.types())
                or f"one of: {', '.join(registry.types())}",
            )
        )
        return
    connector = registry.get(type_name)
    items, diagnostics = validate_doc(doc, connector.config_model, PREFIX, allow_list=False)
    result.diagnostics.extend(diagnostics)
    result.sources[doc.file] = _mask_literal_secrets(doc.text, diagnostics)
    if not items:
        return
    config = items[0].value
    result.diagnostics.extend(_check_destination(doc, config, connector))
    if name in result.destinations:
        result.diagnostics.append(
            doc.diagnostic((), "D040", f"destination '{name}' is defined twice")
        )
        return
    result.destinations[name] = LoadedDestination(name, config, connector, doc)


def _check_destination(
    doc: YamlDoc, config: DestinationConfig, connector: type[Destination]
) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    limit = connector.max_batch_size_for(config)
    if config.batch_size is not None and config.batch_size > limit:
        out.append(
            doc.diagnostic(
                ("batch_size",),
                "D041",
                f"batch_size {config.batch_size} is over the {connector.type} limit of "
                f"{limit} records per request",
            )
        )
    seen: dict[str, int] = {}
    for i, sync in enumerate(config.syncs):
        where = ("syncs", i, "name") if sync.name else ("syncs", i, "audience")
        if sync.sync_name in seen:
            out.append(
                doc.diagnostic(
                    where,
                    "D040",
                    f"sync name '{sync.sync_name}' is used twice in this file",
                    hint="give each sync a distinct 'name:'",
                )
            )
        seen.setdefault(sync.sync_name, i)
        if sync.mode == "mirror" and not connector.supports_remove:
            out.append(
                doc.diagnostic(
                    ("syncs", i, "mode"),
                    "D045",
                    f"{connector.type} destinations cannot remove records; "
                    "use mode upsert or add_only",
                )
            )
    return out


def check_audiences(
    dest: LoadedDestination, audiences: Mapping[str, Any], only: Iterable[SyncConfig] | None = None
) -> list[Diagnostic]:
    """Each sync's audience exists and provides its identifier and mapped fields."""
    out: list[Diagnostic] = []
    doc = dest.doc
    wanted = list(only) if only is not None else dest.config.syncs
    for i, sync in enumerate(dest.config.syncs):
        if sync not in wanted:
            continue
        spec = audiences.get(sync.audience)
        if spec is None:
            out.append(
                doc.diagnostic(
                    ("syncs", i, "audience"),
                    "D042",
                    f"unknown audience '{sync.audience}'",
                    hint=did_you_mean(sync.audience, audiences)
                    or f"known: {', '.join(sorted(audiences)) or 'none'}",
                )
            )
            continue
        fields = ["customer_id", *getattr(spec, "fields", [])]
        if sync.identifier not in fields:
            out.append(
                doc.diagnostic(
                    ("syncs", i, "identifier"),
                    "D043",
                    f"identifier '{sync.identifier}' is not a field of audience '{sync.audience}'",
                    hint=did_you_mean(sync.identifier, fields)
                    or f"add it to the audience's fields: (has {', '.join(fields)})",
                )
            )
        for dest_field, source in sync.mapping.items():
            if source not in fields:
                out.append(
                    doc.diagnostic(
                        ("syncs", i, "mapping", dest_field),
                        "D044",
                        f"'{source}' is not a field of audience '{sync.audience}'",
                        hint=did_you_mean(source, fields)
                        or f"add it to the audience's fields: (has {', '.join(fields)})",
                    )
                )
    return out


def check_environment(
    dest: LoadedDestination, environ: Mapping[str, str] | None = None
) -> list[Diagnostic]:
    """Every `${VAR}` the destination needs is set (checked before anything is sent)."""
    out: list[Diagnostic] = []
    for path, ref in walk_references(dest.config):
        for name in ref.missing(environ):
            out.append(
                dest.doc.diagnostic(
                    path,
                    "D020",
                    f"environment variable {name} is not set",
                    hint=f"export {name}=... before running the sync",
                )
            )
    return out


def select_syncs(
    loaded: DestinationSet, names: Sequence[str]
) -> list[tuple[LoadedDestination, SyncConfig]]:
    """The syncs named (`dest`, `dest.sync` or a unique sync name); all enabled ones if none."""
    everything = loaded.syncs()
    if not names:
        return [(d, s) for d, s in everything if s.enabled]
    chosen: list[tuple[LoadedDestination, SyncConfig]] = []
    by_id = {d.sync_id(s): (d, s) for d, s in everything}
    for name in names:
        if name in by_id:
            picks = [by_id[name]]
        elif name in loaded.destinations:
            picks = [(loaded.destinations[name], s) for s in loaded.destinations[name].config.syncs]
        else:
            picks = [(d, s) for d, s in everything if s.sync_name == name]
            if len(picks) > 1:
                options = ", ".join(d.sync_id(s) for d, s in picks)
                raise CdpkitError(f"sync name '{name}' is ambiguous; use one of: {options}")
        if not picks:
            candidates = [*by_id, *loaded.destinations, *(s.sync_name for _, s in everything)]
            hint = did_you_mean(name, candidates)
            known = ", ".join(sorted(by_id)) or "none (add destinations/*.yml)"
            raise ConfigError(
                f"no destination or sync named '{name}'"
                + (f"; {hint}" if hint else f" (known: {known})")
            )
        for pick in picks:
            if pick not in chosen:
                chosen.append(pick)
    return chosen


def _mask_literal_secrets(text: str, diagnostics: list[Diagnostic]) -> str:
    """The source as shown in code frames, with secrets written into the file masked."""
    lines = text.splitlines(keepends=True)
    for d in diagnostics:
        if d.code == SECRET_CODE and 1 <= d.line <= len(lines):
            line = lines[d.line - 1]
            ending = line[len(line.rstrip("\r\n")) :]
            lines[d.line - 1] = line[: d.col - 1] + "***" + ending
    return "".join(lines)


def _load_suppression(project: Project, path: Path, result: DestinationSet) -> None:
    display = display_path(path, project.root)
    try:
        doc = load_yaml(path, display=display)
    except SpecError as exc:
        result.diagnostics.extend(exc.diagnostics)
        result.sources.update(exc.sources)
        return
    result.sources[doc.file] = doc.text
    items, diagnostics = validate_doc(doc, SuppressionFile, PREFIX, allow_list=False)
    result.diagnostics.extend(diagnostics)
    for item in items:
        for entry in item.value.suppress:
            result.suppression.append(
                SuppressionEntry(
                    audience=entry.audience,
                    table=entry.table,
                    column=entry.column,
                    identifier_type=entry.identifier_type,
                )
            )
