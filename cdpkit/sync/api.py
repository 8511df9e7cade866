"""Run a project's syncs: load destinations and audiences, build jobs, hand them to the engine.

outcomes = run_syncs(project, ["crm_hook"], dry_run=True)
exit_code(outcomes)      # 0 all confirmed, 1 failed, 3 rejected records, 4 deferred (quota)
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Sequence
from typing import Any

from sqlglot import exp

from cdpkit.project import Project
from cdpkit.spec.diagnostics import Diagnostic, SpecError
from cdpkit.sync.engine import run_jobs
from cdpkit.sync.jobs import EngineOptions, ProgressEvent, SyncJob, SyncOutcome
from cdpkit.sync.loader import (
    DestinationSet,
    LoadedDestination,
    check_audiences,
    check_environment,
    load_destinations,
    select_syncs,
)
from cdpkit.sync.membership import audience_membership, suppressed_customers
from cdpkit.sync.sql import table
from cdpkit.warehouse import Warehouse, connect


def run_syncs(
    project: Project,
    names: Sequence[str] = (),
    *,
    dry_run: bool = False,
    allow_large_removals: bool = False,
    full_resync: bool = False,
    as_of: dt.datetime | None = None,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    stop: threading.Event | None = None,
    warehouse: Warehouse | None = None,
) -> list[SyncOutcome]:
    """Plan (dry run) or apply the named syncs (all enabled syncs when none are named).

    `full_resync`: send every current member again (not only what changed), e.g. after the
    destination's list was emptied by hand; Meta replaces the audience in one session.
    """
    loaded = load_destinations(project)
    loaded.raise_for_errors()
    selected = select_syncs(loaded, names)
    if not dry_run:
        _raise(loaded, [d for dest in _unique(selected) for d in check_environment(dest)])
    options = EngineOptions(
        dry_run=dry_run,
        allow_large_removals=allow_large_removals,
        full_resync=full_resync,
        project_root=project.root,
        as_of=as_of,
        stop=stop,
        on_progress=on_progress,
    )
    if warehouse is not None:
        return run_jobs(warehouse, build_jobs(project, warehouse, loaded, selected, as_of), options)
    with connect(project) as wh:
        return run_jobs(wh, build_jobs(project, wh, loaded, selected, as_of), options)


def build_jobs(
    project: Project,
    wh: Warehouse,
    loaded: DestinationSet,
    selected: Sequence[tuple[LoadedDestination, Any]],
    as_of: dt.datetime | None,
) -> list[SyncJob]:
    """Resolve each selected sync's audience into a membership query and make it a job."""
    from cdpkit.audiences import resolve

    needed = {s.audience for _, s in selected} | {
        e.audience for e in loaded.suppression if e.audience
    }
    specs: dict[str, Any] = {}
    problems: list[Diagnostic] = []
    unknown: set[str] = set()
    for name in sorted(needed):
        try:
            spec, everything, _ = resolve(project, name, warehouse=wh)
        except SpecError:
            raise
        except Exception:
            unknown.add(name)
            continue
        specs.update(everything)
        specs[name] = spec
    if unknown or specs:
        for dest in _unique(selected):
            problems.extend(check_audiences(dest, specs, [s for d, s in selected if d is dest]))
    _raise(loaded, problems)
    suppression = tuple(
        suppressed_customers(
            entry,
            schema=wh.schema,
            audience_query=audience_membership(
                entry.audience, specs, dialect=wh.dialect, schema=wh.schema, as_of=as_of
            ).query
            if entry.audience
            else None,
        )
        for entry in loaded.suppression
    )
    customers: exp.Table = table("customers", wh.schema)
    return [
        SyncJob(
            destination=dest.name,
            config=dest.config,
            sync=sync,
            connector=dest.connector,
            membership=audience_membership(
                sync.audience, specs, dialect=wh.dialect, schema=wh.schema, as_of=as_of
            ),
            customers=customers,
            suppression=suppression,
        )
        for dest, sync in selected
    ]


def _unique(selected: Sequence[tuple[LoadedDestination, Any]]) -> list[LoadedDestination]:
    seen: dict[str, LoadedDestination] = {}
    for dest, _ in selected:
        seen.setdefault(dest.name, dest)
    return list(seen.values())


def _raise(loaded: DestinationSet, diagnostics: list[Diagnostic]) -> None:
    if any(d.is_error for d in diagnostics):
        raise SpecError(diagnostics, loaded.sources)
