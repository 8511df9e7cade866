"""Apply planned syncs: deliver batches on per-destination worker pools, checkpoint them.

The calling thread owns the warehouse connection and does as few round trips as it can, so
that it never holds the workers back:

- it reads plan rows ahead in chunks of several batches (`READ_ROWS` rows, one query; the
  workers turn rows into records), while the workers send. On the same connection: the plan
  is a temporary table, which another connection (a DuckDB cursor, a second PostgreSQL
  session) cannot see; one query per ~8k rows costs about what streaming them would;
- it commits delivered batches as they come back, group commit style: everything that came
  back since the last commit goes into one INSERT / UPDATE / DELETE (cdpkit.sync.checkpoint),
  so while one commit runs the next group gathers.

A destination never has more than `concurrency` batches between "handed to a worker" and
"committed": that bounds what a crash can make us re-send to the batches in flight. Reading
ahead holds at most `concurrency` batches plus one chunk per sync in memory.

While sending, the cyclic garbage collector is tuned down (`steady_gc`): records are
short-lived and acyclic, and full collections walking the whole process were a large share
of the engine's own CPU.

A `QuotaExhausted` from the connector stops the sync like a terminal error, but the run ends
`deferred` (nothing lost, the next run resumes) with the connector's message.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from cdpkit.destinations.base import Batch, Destination, PlanInfo, Record, RunSummary
from cdpkit.destinations.errors import QuotaExhausted
from cdpkit.errors import CdpkitError
from cdpkit.sync import lease, plan, runlog
from cdpkit.sync.checkpoint import Checkpointer, commit
from cdpkit.sync.delivery import Delivery, Stopped, deliver, with_retries
from cdpkit.sync.http import HttpClient
from cdpkit.sync.jobs import EngineOptions, ProgressEvent, SyncJob, SyncOutcome
from cdpkit.sync.redact import redact
from cdpkit.sync.sql import Statement, render
from cdpkit.warehouse import Warehouse

log = logging.getLogger("cdpkit.sync")
MAX_REJECTION_SAMPLES = 20
WAIT_S = 0.5
READ_ROWS = 8_192  # plan rows per read-ahead query (whole batches, at least one)


@dataclass(frozen=True)
class Page:
    """Plan rows of one batch (`__seq` lo..), read ahead by the main thread."""

    operation: str
    lo: int
    rows: list[Any]


@dataclass
class Runner:
    """One sync being applied."""

    job: SyncJob
    plan: plan.Plan
    outcome: SyncOutcome
    lease: lease.Lease
    connector: Destination
    http: HttpClient
    checkpointer: Checkpointer
    ranges: list[tuple[str, int, int]]
    check: EarlyCheck  # the destination's check, started before planning
    full_resync: bool = False
    state: str = "opening"  # opening -> sending -> closing -> done (or unopened -> done)
    next_range: int = 0
    inflight: int = 0
    stopping: bool = False
    failed: bool = False
    deferred: QuotaExhausted | None = None
    started: float = field(default_factory=time.monotonic)
    done_records: int = 0
    ready: deque[Page] = field(default_factory=deque)  # read ahead, not yet handed out
    on_start: list[Callable[[], None]] = field(default_factory=list)  # once batches are out

    def __post_init__(self) -> None:
        self.spec = self.job.diff_spec(full_resync=self.full_resync)
        self.other_retries = 0  # of check/open/close, counted from worker threads
        self._lock = threading.Lock()
        self.make_records = _record_builder(self.spec)

    def count_retry(self) -> None:
        with self._lock:
            self.other_retries += 1

    @property
    def has_next(self) -> bool:
        return bool(self.ready) or self.next_range < len(self.ranges)


def execute(wh: Warehouse, runners: list[Runner], options: EngineOptions) -> None:
    """Deliver every runner's plan; returns when all are done (outcomes filled in)."""
    with steady_gc(), checkpoint_at_end(wh):
        _execute(wh, runners, options)


CHECKPOINT_THRESHOLD = "256MB"


@contextlib.contextmanager
def checkpoint_at_end(wh: Warehouse) -> Iterator[None]:
    """DuckDB: no automatic checkpoint while sending; one when sending ends.

    Every commit appends to DuckDB's write-ahead log; once the log passes
    `checkpoint_threshold` (16 MB by default) the commit that crossed it also writes the whole
    log into the database file first, stalling the checkpoint of a batch for 0.1-0.5 s while
    other batches wait for their slots (twice per 190k-record run, measured). While sending,
    the threshold is `CHECKPOINT_THRESHOLD`, and the log is checkpointed once at the end. The
    log is durable all the same: after a crash DuckDB replays it.
    """
    if wh.dialect != "duckdb":
        yield
        return
    previous = plan.current_setting(wh, "checkpoint_threshold")
    plan.set_setting(wh, "checkpoint_threshold", CHECKPOINT_THRESHOLD)
    try:
        yield
    finally:
        with contextlib.suppress(CdpkitError):  # an error of the sync itself matters more
            if previous:
                plan.set_setting(wh, "checkpoint_threshold", previous)
            wh.execute(render(exp.Command(this="CHECKPOINT"), wh.dialect))


@contextlib.contextmanager
def steady_gc(young: int = 50_000) -> Iterator[None]:
    """Fewer, cheaper garbage collections while records stream through (restored after).

    Sending makes and drops millions of short-lived, acyclic objects (records, payloads) that
    reference counting frees; the cyclic collector would still run every 700 allocations and
    now and then walk every object of the process (modules, sqlglot trees): measured at ~15%
    of a large sync. Objects alive before sending are frozen out of the collector's walks, and
    the young generation is collected every `young` allocations instead.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(thresholds[0], young), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _execute(wh: Warehouse, runners: list[Runner], options: EngineOptions) -> None:
    stop = threading.Event()  # set on hard shutdown: no new requests, no more retry waits
    for runner in runners:
        runner.http.stop = stop
    pools: dict[str, ThreadPoolExecutor] = {}
    capacity: dict[str, int] = {}
    for runner in runners:
        name = runner.job.destination
        if name not in pools:
            workers = runner.job.concurrency + 1  # one spare for open/close calls
            pools[name] = ThreadPoolExecutor(workers, thread_name_prefix=f"cdpkit-{name}")
            capacity[name] = runner.job.concurrency
    inflight: dict[str, int] = dict.fromkeys(pools, 0)
    pending: dict[Future[Any], tuple[Runner, str]] = {}
    renew_every = max(1.0, options.lease_seconds / 3)
    last_renew = time.monotonic()
    graceful = False
    try:
        for runner in runners:
            pending[pools[runner.job.destination].submit(_open, runner)] = (runner, "open")
        while any(r.state != "done" for r in runners):
            if options.stop is not None and options.stop.is_set():
                graceful = True
            if graceful or stop.is_set():
                for runner in runners:
                    runner.stopping = True
            _read_ahead(wh, runners, capacity)
            _hand_out(runners, pools, capacity, inflight, pending, stop)
            _read_ahead(wh, runners, capacity)  # the next batches, while the workers send
            for runner in runners:
                if runner.on_start and (runner.inflight or runner.state != "opening"):
                    _started(runner)
            for runner in runners:
                idle = runner.inflight == 0 and (runner.stopping or not runner.has_next)
                if runner.state == "sending" and idle:
                    runner.state = "closing"
                    future = pools[runner.job.destination].submit(_close, runner)
                    pending[future] = (runner, "close")
                elif runner.state == "unopened":
                    _finish(wh, runner, None)
            if not pending:
                break
            try:
                done, _ = wait(list(pending), timeout=WAIT_S, return_when=FIRST_COMPLETED)
            except KeyboardInterrupt:
                # First Ctrl-C: finish the batches in flight. Second: stop retrying, too.
                if graceful:
                    stop.set()
                graceful = True
                continue
            _handle(wh, done, pending, inflight, options)
            if time.monotonic() - last_renew > renew_every:
                for runner in runners:
                    if runner.state != "done":
                        lease.renew(wh, runner.lease, seconds=options.lease_seconds)
                last_renew = time.monotonic()
    finally:
        if any(r.state != "done" for r in runners):
            stop.set()
        for pool in pools.values():
            pool.shutdown(wait=True, cancel_futures=True)


def abandon(wh: Warehouse, runner: Runner) -> None:
    """Clean up after an unexpected error in the engine itself (best effort)."""
    if runner.outcome.error is None:
        runner.outcome.error = "the sync engine stopped unexpectedly"
    with contextlib.suppress(Exception):  # the original error matters more
        _finish(wh, runner, None)


# -- the loop's steps -------------------------------------------------------------------------
def _hand_out(
    runners: list[Runner],
    pools: dict[str, ThreadPoolExecutor],
    capacity: dict[str, int],
    inflight: dict[str, int],
    pending: dict[Future[Any], tuple[Runner, str]],
    stop: threading.Event,
) -> None:
    """Fill every destination's free worker slots from read-ahead batches, round-robin."""
    progressed = True
    while progressed:
        progressed = False
        for runner in runners:
            name = runner.job.destination
            if runner.state != "sending" or runner.stopping or not runner.ready:
                continue
            if inflight[name] >= capacity[name]:
                continue
            page = runner.ready.popleft()
            runner.inflight += 1
            inflight[name] += 1
            future = pools[name].submit(_deliver_page, runner, page, stop)
            pending[future] = (runner, "batch")
            progressed = True


def _read_ahead(wh: Warehouse, runners: list[Runner], capacity: dict[str, int]) -> None:
    """Read the next chunk of batches once fewer than `concurrency` are ready."""
    for runner in runners:
        if runner.state not in ("opening", "sending") or runner.stopping:
            continue
        wanted = capacity[runner.job.destination] - len(runner.ready)
        if wanted > 0 and runner.next_range < len(runner.ranges):
            chunk = max(wanted, READ_ROWS // max(1, runner.job.batch_size))
            runner.ready.extend(_read_pages(wh, runner, chunk))


def _handle(
    wh: Warehouse,
    done: set[Future[Any]],
    pending: dict[Future[Any], tuple[Runner, str]],
    inflight: dict[str, int],
    options: EngineOptions,
) -> None:
    delivered: dict[int, tuple[Runner, list[Delivery]]] = {}
    others: list[tuple[Runner, str, Future[Any]]] = []
    for future in done:
        runner, kind = pending.pop(future)
        if kind == "batch":
            runner.inflight -= 1
            inflight[runner.job.destination] -= 1
            delivered.setdefault(id(runner), (runner, []))[1].append(future.result())
        else:
            others.append((runner, kind, future))
    if delivered:
        now = lease.utcnow()
        statements: list[Statement] = []
        accounted = []
        for runner, deliveries in delivered.values():
            written, counts = runner.checkpointer.statements(deliveries, now)
            statements.extend(written)
            accounted.extend(zip([runner] * len(deliveries), deliveries, counts, strict=True))
        commit(wh, statements)  # everything that came back together commits together
        for runner, delivery, c in accounted:
            _account(runner, delivery, c, options)
    for runner, kind, future in others:
        if kind == "open":
            _opened(runner, future)
        else:
            _finish(wh, runner, future)


def _read_pages(wh: Warehouse, runner: Runner, count: int) -> list[Page]:
    """The next (up to) `count` batches of one operation: one query, one conversion."""
    first = runner.ranges[runner.next_range]
    chosen = [first]
    for candidate in runner.ranges[runner.next_range + 1 : runner.next_range + count]:
        if candidate[0] != first[0]:
            break  # removals and upserts read different columns
        chosen.append(candidate)
    runner.next_range += len(chosen)
    operation = first[0]
    rows = plan.fetch_page(wh, runner.plan, operation, first[1], chosen[-1][2])
    pages: list[Page] = []
    at = 0
    for _, lo, hi in chosen:
        size = hi - lo + 1  # __seq is dense: one row per number
        pages.append(Page(operation, lo, rows[at : at + size]))
        at += size
    return pages


def _record_builder(spec: plan.DiffSpec) -> Callable[[Page], tuple[Record, ...]]:
    """rows of a page -> records, for this sync's mapping (runs in the workers)."""
    dests, skip = spec.destinations, spec.skip_nulls
    at = len(plan.UPSERT_COLUMNS)
    stored = plan.stored_fields

    def removals(page: Page) -> tuple[Record, ...]:
        lo = page.lo
        return tuple(
            Record(key, "remove", stored(spec, text), cid, dest, lo + i, text or "")
            for i, (key, cid, dest, text) in enumerate(page.rows)
        )

    if spec.one_to_one and skip:  # the common case, without a call per record

        def upserts(page: Page) -> tuple[Record, ...]:
            lo = page.lo
            return tuple(
                Record(
                    r[1],
                    r[0],
                    {d: v for d, v in zip(dests, r[at:], strict=False) if v is not None},
                    r[2],
                    r[3],
                    lo + i,
                    r[4],
                )
                for i, r in enumerate(page.rows)
            )

    else:

        def upserts(page: Page) -> tuple[Record, ...]:
            lo = page.lo
            return tuple(
                Record(r[1], r[0], plan.record_fields(spec, r[at:]), r[2], r[3], lo + i, r[4])
                for i, r in enumerate(page.rows)
            )

    def build(page: Page) -> tuple[Record, ...]:
        return removals(page) if page.operation == "remove" else upserts(page)

    return build


def _deliver_page(runner: Runner, page: Page, stop: threading.Event) -> Delivery:
    """In a worker: build the page's records and deliver them (keeps the main thread free)."""
    records = runner.make_records(page)
    batch = Batch(runner.job.sync_id, page.operation, records)  # type: ignore[arg-type]
    return deliver(runner.connector, batch, runner.job.retry, stop=stop)


class EarlyCheck:
    """A connector's `check`, run on its own thread while the warehouse plans the sync.

    It is one cheap authenticated call, independent of the plan: the destination's round trip
    overlaps the diff instead of following it. `_open` waits for it (and raises what it raised).
    """

    def __init__(self, connector: Destination, policy: Any) -> None:
        self.retries = 0
        self._cancelled = threading.Event()
        pool = ThreadPoolExecutor(1, thread_name_prefix="cdpkit-check")
        self._future = pool.submit(
            with_retries, connector.check, policy, stop=self._cancelled, on_retry=self._retried
        )
        pool.shutdown(wait=False)

    def cancel(self) -> None:
        """The run will not send: stop retrying (the process does not wait out a retry)."""
        self._cancelled.set()

    def _retried(self) -> None:
        self.retries += 1

    def result(self) -> None:
        self._future.result()


def _open(runner: Runner) -> None:
    policy, stop = runner.job.retry, runner.http.stop
    try:
        runner.check.result()
    finally:
        for _ in range(runner.check.retries):
            runner.count_retry()
    p = runner.plan
    info = PlanInfo(p.adds, p.updates, p.removes, p.eligible_size, runner.full_resync)
    with_retries(
        lambda: runner.connector.open(info), policy, stop=stop, on_retry=runner.count_retry
    )


def _opened(runner: Runner, future: Future[Any]) -> None:
    try:
        future.result()
    except Exception as exc:
        _fail(runner, exc, unexpected=not isinstance(exc, CdpkitError))
        runner.state = "unopened"  # nothing to close; finished by the main loop
        return
    runner.started = time.monotonic()
    runner.state = "sending"


def _account(runner: Runner, delivery: Delivery, counts: Any, options: EngineOptions) -> None:
    out = runner.outcome
    for op, n in counts.sent.items():
        out.sent[op] += n
    for op, n in counts.confirmed.items():
        out.confirmed[op] += n
    for op, n in counts.rejected.items():
        out.rejected[op] += n
    out.requests += delivery.requests
    out.retries += delivery.retries
    by_key = {r.key: r for r in delivery.batch.records} if delivery.rejected else {}
    for key, reason in delivery.rejected.items():
        if len(out.rejections) < MAX_REJECTION_SAMPLES:
            out.rejections.append({"key": key, "change": by_key[key].change, "reason": reason})
        log.warning("%s: record %s rejected: %s", runner.job.sync_id, key, reason)
    if delivery.error is not None:
        if isinstance(delivery.error, Stopped):
            runner.stopping = True
        else:
            _fail(runner, delivery.error)
    runner.done_records += len(delivery.confirmed) + len(delivery.rejected)
    if options.on_progress:
        options.on_progress(
            ProgressEvent(
                runner.job.sync_id,
                runner.done_records,
                runner.plan.total,
                sum(out.confirmed.values()),
                sum(out.rejected.values()),
            )
        )


def _fail(runner: Runner, exc: BaseException, *, unexpected: bool = False) -> None:
    """Stop the sync; a QuotaExhausted defers it instead (the next run resumes)."""
    runner.stopping = True
    if isinstance(exc, QuotaExhausted):
        if runner.deferred is None and not runner.failed:
            runner.deferred = exc
            runner.outcome.resets_at = exc.resets_at
            runner.outcome.error = (
                f"{runner.job.destination} ({runner.connector.type}): {redact(exc.describe())}"
            )
            log.warning("%s: deferred: %s", runner.job.sync_id, runner.outcome.error)
        return
    if not runner.failed:
        runner.failed = True
        message = redact(str(exc)) or type(exc).__name__
        if unexpected:
            message = f"unexpected {type(exc).__name__}: {message}"
        runner.outcome.error = f"{runner.job.destination} ({runner.connector.type}): {message}"
        log.error("%s: %s", runner.job.sync_id, runner.outcome.error)


def _status(runner: Runner) -> str:
    out = runner.outcome
    if runner.failed:
        return "failed"
    if runner.deferred is not None:
        return "deferred"
    if runner.stopping and runner.done_records < runner.plan.total:
        return "cancelled"
    if sum(out.rejected.values()):
        return "partial"
    return "success"


def _close(runner: Runner) -> None:
    out = runner.outcome
    summary = RunSummary(_status(runner), sum(out.confirmed.values()), sum(out.rejected.values()))
    with_retries(
        lambda: runner.connector.close(summary),
        runner.job.retry,
        stop=runner.http.stop,
        on_retry=runner.count_retry,
    )


def _started(runner: Runner) -> None:
    """Warehouse work of the run that waits until its first batches are out."""
    tasks, runner.on_start = runner.on_start, []
    for task in tasks:
        task()


def _finish(wh: Warehouse, runner: Runner, future: Future[Any] | None) -> None:
    _started(runner)  # when sending never started
    if future is not None:
        try:
            future.result()
        except Exception as exc:
            _fail(runner, exc, unexpected=not isinstance(exc, CdpkitError))
    out = runner.outcome
    out.status = _status(runner)
    out.seconds = time.monotonic() - runner.started
    out.throttled = runner.http.metrics.snapshot()["throttled"]
    out.retries += runner.other_retries
    if out.status == "deferred" and out.error is not None:
        left = runner.plan.total - runner.done_records
        out.error += f" Nothing is lost: {left:,} record(s) not sent yet go out on the next run."
    run_id = out.run_id or ""
    with wh.transaction():
        now = lease.utcnow()
        commit_all = runner.checkpointer.log_confirmed(now)
        commit_all += runner.checkpointer.flush({"retries": runner.other_retries})
        for statement in commit_all:
            wh.execute(statement.sql, list(statement.params))
        runlog.finish(
            wh,
            run_id,
            {
                "status": out.status,
                "finished_at": lease.utcnow(),
                "error": out.error,
                "throttled": out.throttled,
                "resets_at": _naive(out.resets_at),
            },
        )
    plan.drop(wh, runner.plan.table, runner.plan.members_table)
    lease.release(wh, runner.lease)
    runner.http.close()
    runner.state = "done"


def _naive(when: dt.datetime | None) -> dt.datetime | None:
    """An aware datetime as naive UTC (the run tables hold naive UTC), None as None."""
    if when is None or when.tzinfo is None:
        return when
    return when.astimezone(dt.UTC).replace(tzinfo=None)
