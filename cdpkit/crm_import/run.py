"""`cdpkit import hubspot|salesforce --destination NAME`: CRM contacts into the raw table.

    summary = import_contacts(project, "hubspot", "crm")   # destinations/crm.yml, type hubspot

Credentials, base URL, rate limits and retry policy come from the destination file, so one
file configures both directions. Pages are merged into `raw.crm_contacts` as they arrive (a
stop loses nothing already loaded). Incremental by `updated_at`: the watermark is the newest
`updated_at` loaded; HubSpot's full scan keeps it at least 5 minutes behind the scan's start
(clock skew; contacts changed during the scan are read again next time), Salesforce reads only
`LastModifiedDate >=` the watermark and advances it page by page. `full=True` ignores it.
Transient failures are retried with the destination's backoff; the daily API limit stops the
import cleanly (status `stopped`), and the next import resumes.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

from cdpkit.crm_import import load
from cdpkit.crm_import.contacts import Page
from cdpkit.crm_import.sources import Source, hubspot_source, salesforce_source
from cdpkit.destinations import hubspot, salesforce
from cdpkit.destinations.crm_support import DailyLimitReached
from cdpkit.destinations.errors import TerminalError, TransientError
from cdpkit.destinations.hubspot import HubSpotConfig
from cdpkit.destinations.salesforce import SalesforceConfig
from cdpkit.errors import ConfigError
from cdpkit.project import Project
from cdpkit.spec.diagnostics import SpecError
from cdpkit.sync.config import DestinationConfig
from cdpkit.sync.http import HttpClient
from cdpkit.sync.loader import check_environment, load_destinations
from cdpkit.sync.ratelimit import TokenBucket
from cdpkit.sync.redact import redact
from cdpkit.sync.retry import RetryPolicy
from cdpkit.warehouse import Warehouse, connect

SourceName = Literal["hubspot", "salesforce"]
SKEW = dt.timedelta(minutes=5)
T = TypeVar("T")


@dataclass(frozen=True)
class ImportSummary:
    source: str
    destination: str
    table: str
    status: str  # success | stopped
    pages: int
    fetched: int
    loaded: int
    unchanged: int
    watermark_before: dt.datetime | None
    watermark_after: dt.datetime | None
    seconds: float
    requests: int
    retries: int
    message: str | None = None


def import_contacts(
    project: Project,
    source: SourceName,
    destination: str,
    *,
    full: bool = False,
    warehouse: Warehouse | None = None,
    on_page: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
) -> ImportSummary:
    """Import every contact changed since the last import (all of them with `full`)."""
    config = _destination(project, source, destination)
    if warehouse is not None:
        return _import(project, source, destination, config, warehouse, full, on_page, stop)
    with connect(project) as wh:
        return _import(project, source, destination, config, wh, full, on_page, stop)


def _destination(project: Project, source: str, name: str) -> DestinationConfig:
    folder = project.destinations_dir
    path = next((p for p in (folder / f"{name}.yml", folder / f"{name}.yaml") if p.is_file()), None)
    if path is None:
        known = sorted(p.stem for p in folder.glob("*.y*ml") if not p.stem.startswith("_"))
        listed = ", ".join(known) or "none"
        raise ConfigError(f"no destination '{name}' (destinations/{name}.yml); known: {listed}")
    loaded = load_destinations(project, [path])
    loaded.raise_for_errors()
    dest = loaded.destinations[name]
    if dest.config.type != source:
        raise ConfigError(
            f"destination '{name}' is of type {dest.config.type}, not {source}; "
            f"use `cdpkit import {dest.config.type} --destination {name}`"
        )
    problems = check_environment(dest)
    if problems:
        raise SpecError(problems, loaded.sources)
    return dest.config


def _import(
    project: Project,
    source_name: SourceName,
    destination: str,
    config: DestinationConfig,
    wh: Warehouse,
    full: bool,
    on_page: Callable[[int, int], None] | None,
    stop: threading.Event | None,
) -> ImportSummary:
    started = time.monotonic()
    scan_start = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    raw = load.raw_table(project)
    load.ensure_tables(wh, raw)
    stored = load.watermark(wh, source_name, destination, raw)
    before = None if full else stored
    http = _http(config, stop)
    source = _source(source_name, config, http, before, destination)
    policy = _policy(config)
    retries = pages = fetched = loaded = unchanged = 0
    newest = before
    status, message = "success", None
    cursor: str | None = None
    try:
        while True:
            page, tries = _with_retries(lambda c=cursor: source.fetch(c), policy, stop)
            retries += tries
            pages += 1
            fetched += len(page.rows)
            fresh = [r for r in page.rows if _changed(r.updated_at, before, source.server_filtered)]
            unchanged += len(page.rows) - len(fresh)
            loaded += load.merge(wh, raw, fresh)
            stamps = [r.updated_at for r in fresh if r.updated_at is not None]
            if stamps:
                newest = max([newest, *stamps]) if newest else max(stamps)
            if source.server_filtered and newest != before:
                load.save_state(wh, source_name, destination, raw, newest, "running", loaded)
            if on_page:
                on_page(pages, loaded)
            cursor = page.cursor
            if cursor is None:
                break
    except DailyLimitReached as exc:
        status, message = "stopped", redact(str(exc))
    finally:
        http.close()
    if source.server_filtered:
        after = newest
    elif status == "success":
        after = min(newest, scan_start - SKEW) if newest else before
    else:
        after = stored  # an unfinished full scan starts over next time
    load.save_state(wh, source_name, destination, raw, after, status, loaded)
    return ImportSummary(
        source=source_name,
        destination=destination,
        table=str(raw),
        status=status,
        pages=pages,
        fetched=fetched,
        loaded=loaded,
        unchanged=unchanged,
        watermark_before=before,
        watermark_after=after,
        seconds=time.monotonic() - started,
        requests=http.metrics.snapshot()["requests"],
        retries=retries,
        message=message,
    )


def _changed(updated: dt.datetime | None, since: dt.datetime | None, server_filtered: bool) -> bool:
    if server_filtered or since is None or updated is None:
        return True
    return updated > since


def _http(config: DestinationConfig, stop: threading.Event | None) -> HttpClient:
    rate = config.rate_limit
    limiter = TokenBucket(rate.requests_per_second, rate.burst or 1) if rate else None
    base = config.base_url.resolve() if config.base_url else None
    return HttpClient(base, limiter=limiter, timeout_s=config.timeout_s, stop=stop)


def _source(
    name: SourceName,
    config: DestinationConfig,
    http: HttpClient,
    since: dt.datetime | None,
    destination: str,
) -> Source:
    if name == "hubspot":
        assert isinstance(config, HubSpotConfig)
        return hubspot_source(hubspot.make_api(config, http, destination))
    assert isinstance(config, SalesforceConfig)
    return salesforce_source(salesforce.make_api(config, http, destination), config.object, since)


def _policy(config: DestinationConfig) -> RetryPolicy:
    r = config.retry
    return RetryPolicy(r.max_attempts, r.base_delay_s, r.max_delay_s, r.max_elapsed_s)


def _with_retries(
    fetch: Callable[[], Page], policy: RetryPolicy, stop: threading.Event | None
) -> tuple[Page, int]:
    """(page, retries): transient failures retried with backoff, the rest raised."""
    started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        try:
            return fetch(), attempt - 1
        except TransientError as exc:
            elapsed = time.monotonic() - started
            if policy.gives_up(attempt, elapsed):
                raise TerminalError(
                    f"gave up after {attempt} attempts over {elapsed:.0f}s: {redact(str(exc))}"
                ) from None
            delay = policy.delay(attempt, exc.retry_after)
            if stop is not None:
                if stop.wait(delay):
                    raise TerminalError("the import was interrupted") from None
            else:
                time.sleep(delay)
