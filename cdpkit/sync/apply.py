"""Apply planned syncs: deliver batches on per-destination worker pools, checkpoint each one.

The calling thread owns the warehouse connection. It reads the next batch of every sync ahead
of time (while the workers are busy), hands batches to the destination's pool, and commits
every delivered batch as it comes back (all batches that finished together in one
transaction). A destination never has more than `concurrency` batches between "handed to a
worker" and "committed": that bounds memory and what a crash can make us re-send.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from cdpkit.destinations.base import Batch, Destination, PlanInfo, Record, RunSummary
from cdpkit.errors import CdpkitError
from cdpkit.sync import lease, plan, runlog
from cdpkit.sync.checkpoint import Checkpointer
from cdpkit.sync.delivery import Delivery, Stopped, deliver, with_retries
from cdpkit.sync.http import HttpClient
from cdpkit.sync.jobs import EngineOptions, ProgressEvent, SyncJob, SyncOutcome
from cdpkit.sync.redact import redact
from cdpkit.warehouse import Warehouse

log = logging.getLogger("cdpkit.sync")
MAX_REJECTION_SAMPLES = 20
WAIT_S = 0.5


@dataclass(frozen=True)
class Page:
    """Plan rows of one batch, read ahead by the main thread (workers turn them into records)."""

    operation: str
    rows: list[tuple[Any, ...]]


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
    state: str = "opening"  # opening -> sending -> closing -> done (or unopened -> done)
    next_range: int = 0
    inflight: int = 0
    stopping: bool = False
    started: float = field(default_factory=time.monotonic)
    done_records: int = 0
    ready: deque[Page] = field(default_factory=deque)  # read ahead, not yet handed out

    def __post_init__(self) -> None:
        self.spec = self.job.diff_spec()
        self.other_retries = 0  # of check/open/close, counted from worker threads
        self._lock = threading.Lock()

    def count_retry(self) -> None:
        with self._lock:
            self.other_retries += 1

    @property
    def has_next(self) -> bool:
        return bool(self.ready) or self.next_range < len(self.ranges)


def execute(wh: Warehouse, runners: list[Runner], options: EngineOptions) -> None:
    """Deliver every runner's plan; returns when all are done (outcomes filled in)."""
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
    """Read the next batches while the workers are busy (at most `concurrency` per sync)."""
    for runner in runners:
        if runner.state not in ("opening", "sending") or runner.stopping:
            continue
        wanted = capacity[runner.job.destination] - len(runner.ready)
        if wanted > 0 and runner.next_range < len(runner.ranges):
            runner.ready.extend(_read_pages(wh, runner, wanted))


def _handle(
    wh: Warehouse,
    done: set[Future[Any]],
    pending: dict[Future[Any], tuple[Runner, str]],
    inflight: dict[str, int],
    options: EngineOptions,
) -> None:
    delivered: list[tuple[Runner, Delivery]] = []
    others: list[tuple[Runner, str, Future[Any]]] = []
    for future in done:
        runner, kind = pending.pop(future)
        if kind == "batch":
            runner.inflight -= 1
            inflight[runner.job.destination] -= 1
            delivered.append((runner, future.result()))
        else:
            others.append((runner, kind, future))
    if delivered:
        now = lease.utcnow()
        with wh.transaction():  # everything that came back together commits together
            counts = [(r, d, r.checkpointer.write(d, now)) for r, d in delivered]
        for runner, delivery, c in counts:
            _account(runner, delivery, c, options)
    for runner, kind, future in others:
        if kind == "open":
            _opened(runner, future)
        else:
            _finish(wh, runner, future)


def _read_pages(wh: Warehouse, runner: Runner, count: int) -> list[Page]:
    """The next `count` batches' plan rows, in one query (one round trip, one conversion)."""
    chosen = runner.ranges[runner.next_range : runner.next_range + count]
    runner.next_range += len(chosen)
    rows = plan.fetch_rows(wh, runner.plan, lo=chosen[0][1], hi=chosen[-1][2])
    pages: list[Page] = []
    at = 0
    for operation, lo, hi in chosen:
        size = hi - lo + 1  # __seq is dense: one row per number
        pages.append(Page(operation, rows[at : at + size]))
        at += size
    return pages


def _deliver_page(runner: Runner, page: Page, stop: threading.Event) -> Delivery:
    """In a worker: build the page's records and deliver them (keeps the main thread free)."""
    spec = runner.spec
    at = plan.FIELDS_AT
    empty: dict[str, Any] = {}
    records = tuple(
        Record(
            str(row[2]),
            row[1],
            plan.record_fields(spec, row[at:]) if row[1] != "remove" else empty,
            row[3],
            row[4],
            int(row[0]),
            row[5],
        )
        for row in page.rows
    )
    batch = Batch(runner.job.sync_id, page.operation, records)  # type: ignore[arg-type]
    return deliver(runner.connector, batch, runner.job.retry, stop=stop)


def _open(runner: Runner) -> None:
    policy, stop = runner.job.retry, runner.http.stop
    with_retries(runner.connector.check, policy, stop=stop, on_retry=runner.count_retry)
    p = runner.plan
    info = PlanInfo(p.adds, p.updates, p.removes, p.eligible_size)
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
    by_key = {r.key: r for r in delivery.batch.records}
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
    if runner.outcome.error is None:
        message = redact(str(exc)) or type(exc).__name__
        if unexpected:
            message = f"unexpected {type(exc).__name__}: {message}"
        runner.outcome.error = f"{runner.job.destination} ({runner.connector.type}): {message}"
        log.error("%s: %s", runner.job.sync_id, runner.outcome.error)
    runner.stopping = True


def _status(runner: Runner) -> str:
    out = runner.outcome
    if out.error is not None:
        return "failed"
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


def _finish(wh: Warehouse, runner: Runner, future: Future[Any] | None) -> None:
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
    run_id = out.run_id or ""
    with wh.transaction():
        runner.checkpointer.log_confirmed(lease.utcnow())
        runner.checkpointer.flush({"retries": runner.other_retries})
        runlog.finish(
            wh,
            run_id,
            {
                "status": out.status,
                "finished_at": lease.utcnow(),
                "error": out.error,
                "throttled": out.throttled,
            },
        )
    plan.drop(wh, runner.plan.table, runner.plan.members_table)
    lease.release(wh, runner.lease)
    runner.http.close()
    runner.state = "done"
