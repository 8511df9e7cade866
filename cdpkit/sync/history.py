"""Run history as plain dicts for `cdpkit history` (text and JSON)."""

from __future__ import annotations

from typing import Any

from cdpkit.project import Project
from cdpkit.sync import runlog
from cdpkit.sync.state import ensure_schema
from cdpkit.warehouse import connect


def recent_runs(
    project: Project, *, sync: str | None = None, limit: int = 20
) -> list[dict[str, Any]]:
    """The latest runs, newest first."""
    with connect(project) as wh:
        ensure_schema(wh)
        return [_summary(row) for row in runlog.list_runs(wh, sync=sync, limit=limit)]


def run_details(project: Project, run_id: str, *, rejection_limit: int = 50) -> dict[str, Any]:
    """One run with its rejected records (the first `rejection_limit`)."""
    with connect(project) as wh:
        ensure_schema(wh)
        row = runlog.get_run(wh, run_id)
        total, items = runlog.rejections(wh, run_id, rejection_limit)
    details = _summary(row)
    details.update(
        {
            "as_of": row["as_of"],
            "audience_size": row["audience_size"],
            "holdout_size": row["holdout_size"],
            "eligible_size": row["eligible_size"],
            "destination_size": row["destination_size"],
            "requests": int(row["requests"] or 0),
            "retries": int(row["retries"] or 0),
            "throttled": int(row["throttled"] or 0),
            "rejected_total": total,
            "rejections": items,
        }
    )
    return details


def _summary(row: runlog.RunRow) -> dict[str, Any]:
    counts = runlog.counts_of(row)
    started, finished = row["started_at"], row["finished_at"]
    seconds = (finished - started).total_seconds() if started and finished else None
    return {
        "run_id": row["run_id"],
        "sync": row["sync_id"],
        "destination": row["destination"],
        "destination_type": row["destination_type"],
        "audience": row["audience"],
        "mode": row["mode"],
        "status": row["status"],
        "started_at": started,
        "finished_at": finished,
        "seconds": seconds,
        "error": row["error"],
        "full_resync": bool(row["full_resync"]),
        "resets_at": row["resets_at"],
        **{
            stage: {op: counts[f"{stage}_{op}"] for op in ("add", "update", "remove")}
            for stage in ("planned", "sent", "confirmed", "rejected")
        },
    }
