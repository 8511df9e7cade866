"""The sync engine: plan every sync in the warehouse, then apply the plans (cdpkit.sync.apply).

For each sync: take its lease, materialise the audience, compute the diff against the last
confirmed state, check the safety limits, record the run; then deliver and checkpoint,
recording the audience's membership history once the first batches are out (the warehouse
connection is idle while they travel). Dry runs stop after the plan and write nothing but
temporary tables.

A full resync (`EngineOptions.full_resync`) sends every eligible member whatever the state
says. For a mirror sync to a connector that replaces its list only when the run completes
(`replaces_on_full_resync`, e.g. Meta `usersreplace`), the confirmations of an unfinished full
resync are void, so until one completes every run of that sync is a full resync again.

    outcomes = run_jobs(warehouse, jobs, EngineOptions(dry_run=False))
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from cdpkit.destinations.base import Destination, SyncContext
from cdpkit.sync import audience_history, lease, plan, runlog
from cdpkit.sync.apply import EarlyCheck, Runner, abandon, execute
from cdpkit.sync.checkpoint import Checkpointer
from cdpkit.sync.http import HttpClient, HttpMetrics
from cdpkit.sync.jobs import EngineOptions, SyncJob, SyncOutcome, plan_summary, safety_violation
from cdpkit.sync.ratelimit import LIMITERS
from cdpkit.sync.redact import install_log_redaction
from cdpkit.sync.state import COUNTS, ensure_schema
from cdpkit.warehouse import Warehouse

__all__ = ["LIMITERS", "run_jobs"]
log = logging.getLogger("cdpkit.sync")


def run_jobs(wh: Warehouse, jobs: list[SyncJob], options: EngineOptions) -> list[SyncOutcome]:
    """Plan (and unless dry-run, apply) every job; one outcome per job, in order."""
    install_log_redaction()
    ensure_schema(wh)
    outcomes: list[SyncOutcome] = []
    runners: list[Runner] = []
    try:
        for job in jobs:
            outcome, runner = _prepare(wh, job, options)
            outcomes.append(outcome)
            if runner is not None:
                runners.append(runner)
        if runners:
            execute(wh, runners, options)
    finally:
        for runner in runners:
            if runner.state != "done":
                abandon(wh, runner)
    return outcomes


# -- planning -------------------------------------------------------------------------------
def _prepare(
    wh: Warehouse, job: SyncJob, options: EngineOptions
) -> tuple[SyncOutcome, Runner | None]:
    outcome = SyncOutcome(
        sync_id=job.sync_id,
        destination=job.destination,
        destination_type=job.connector.type,
        sync_name=job.sync.sync_name,
        audience=job.sync.audience,
        mode=job.sync.mode,
        status="planned",
    )
    run_id = runlog.new_run_id()
    if options.dry_run:
        _plan(wh, job, options, outcome, run_id, None, None)
        return outcome, None
    try:
        held = lease.acquire(wh, job.sync_id, run_id, seconds=options.lease_seconds)
    except lease.SyncLocked as exc:
        outcome.status, outcome.error = "locked", str(exc)
        return outcome, None
    connection: tuple[HttpClient, Destination, EarlyCheck] | None = None
    try:
        runlog.mark_interrupted(wh, job.sync_id, run_id)
        connection = _connect(job, options, run_id)  # checks the destination while we plan
        runner = _plan(wh, job, options, outcome, run_id, held, connection)
    except BaseException:
        if connection:
            _disconnect(connection)
        lease.release(wh, held)
        raise
    if runner is None:
        _disconnect(connection)
        lease.release(wh, held)
    return outcome, runner


def _disconnect(connection: tuple[HttpClient, Destination, EarlyCheck]) -> None:
    """A run that will not send: stop its destination check, close its HTTP client."""
    http, _, check = connection
    check.cancel()
    http.close()


def _plan(
    wh: Warehouse,
    job: SyncJob,
    options: EngineOptions,
    outcome: SyncOutcome,
    run_id: str,
    held: lease.Lease | None,
    connection: tuple[HttpClient, Destination, EarlyCheck] | None,
) -> Runner | None:
    """Plan the sync; unless dry-run or blocked, record the run and return its Runner."""
    full = options.full_resync
    if not full and job.connector.replaces_on_full_resync and job.sync.mode == "mirror":
        full = runlog.unfinished_full_resync(wh, job.sync_id)
        if full:
            log.warning(
                "%s: the last full resync did not finish; this run is a full resync again",
                job.sync_id,
            )
    outcome.full_resync = full
    spec = job.diff_spec(full_resync=full)
    members = ""
    try:
        with plan.planning_memory(wh):
            members = plan.materialize_members(wh, job.membership)
            planned = plan.build_plan(
                wh,
                spec,
                job.membership,
                members,
                sample_size=options.sample_size,
            )
    except BaseException:
        if members:
            plan.drop(wh, members)
        raise
    blocked = safety_violation(planned, job.sync.safety, job.sync.mode)
    outcome.plan = plan_summary(planned, blocked)
    if held is None or connection is None:
        plan.drop(wh, planned.table, members)
        return None
    now = lease.utcnow()
    outcome.run_id = run_id
    runlog.start(wh, _run_row(job, run_id, planned, now, options, held, full))

    def record_history() -> None:
        audience_history.record(
            wh,
            job.membership.audience,
            members,
            run_id,
            now,
            holdout_column=job.membership.holdout_column,
        )

    if blocked and not options.allow_large_removals:
        record_history()
        outcome.status = "blocked"
        outcome.error = f"safety limit: {blocked}; rerun with --allow-large-removals if intended"
        runlog.finish(
            wh, run_id, {"status": "blocked", "finished_at": lease.utcnow(), "error": outcome.error}
        )
        plan.drop(wh, planned.table, members)
        return None
    http, connector, check = connection
    return Runner(
        job=job,
        plan=planned,
        outcome=outcome,
        lease=held,
        connector=connector,
        http=http,
        checkpointer=Checkpointer(
            wh,
            sync_id=job.sync_id,
            run_id=run_id,
            plan_table=planned.table,
            fields=(lambda alias: plan.stored_fields_sql(spec, wh.dialect, alias))
            if job.connector.removals_with_fields
            else None,
        ),
        ranges=planned.ranges(job.batch_size),
        full_resync=full,
        check=check,
        on_start=[record_history],  # while the first batches are out
    )


def _connect(
    job: SyncJob, options: EngineOptions, run_id: str
) -> tuple[HttpClient, Destination, EarlyCheck]:
    """The connector of this run, its HTTP client, and its check, started in the background."""
    http = HttpClient(
        job.config.base_url.resolve() if job.config.base_url else None,
        timeout_s=job.config.timeout_s,
        metrics=HttpMetrics(),
        stop=options.stop,
        max_pause_s=job.retry.max_elapsed_s,
    )
    context = SyncContext(
        sync_id=job.sync_id,
        destination=job.destination,
        sync_name=job.sync.sync_name,
        audience=job.sync.audience,
        mode=job.sync.mode,
        list_name=job.sync.list_name,
        identifier=job.sync.identifier,
        fields=tuple(job.sync.mapping),
        run_id=run_id,
        project_root=options.project_root,
        config=job.sync,
    )
    connector = job.connector(job.config, context, http)
    rate = job.rate
    http.limiter = LIMITERS.get(
        connector.account_key(),
        rate.per_second if rate else None,
        rate.burst if rate else 1,
        rate.window_s if rate else None,
    )
    return http, connector, EarlyCheck(connector, job.retry)


def _run_row(
    job: SyncJob,
    run_id: str,
    planned: plan.Plan,
    now: Any,
    options: EngineOptions,
    held: lease.Lease,
    full_resync: bool,
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "sync_id": job.sync_id,
        "destination": job.destination,
        "destination_type": job.connector.type,
        "sync_name": job.sync.sync_name,
        "audience": job.sync.audience,
        "mode": job.sync.mode,
        "status": "running",
        "started_at": now,
        "as_of": _naive_utc(options.as_of) if options.as_of else now,
        "audience_size": planned.audience_size,
        "holdout_size": planned.holdout_size,
        "eligible_size": planned.eligible_size,
        "destination_size": planned.destination_size,
        "planned_add": planned.adds,
        "planned_update": planned.updates,
        "planned_remove": planned.removes,
        "holder": held.holder,
        "full_resync": full_resync,
        **{name: 0 for name in COUNTS if not name.startswith("planned_")},
        "requests": 0,
        "retries": 0,
        "throttled": 0,
    }


def _naive_utc(when: dt.datetime) -> dt.datetime:
    return when.astimezone(dt.UTC).replace(tzinfo=None) if when.tzinfo else when
