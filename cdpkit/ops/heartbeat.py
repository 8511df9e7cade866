"""The scheduler's heartbeat: a row in `cdpkit.scheduler_heartbeats`, refreshed by a thread.

The thread opens its own short-lived connection for each beat (a DuckDB file stays unlocked
between beats), renews the schedule claims the scheduler holds, and mirrors the row into
`logs/cdpkit-scheduler-<pid>.json` so `cdpkit status` can still answer while a sync holds a
DuckDB file's lock. A scheduler is alive when its process exists (same host) or its last
beat is recent (another host: within three intervals).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from sqlglot import exp

from cdpkit.errors import CdpkitError
from cdpkit.ops.state import TABLES, ensure_tables, naive
from cdpkit.project import Project
from cdpkit.sync import lease
from cdpkit.sync.sql import col, param, render, table
from cdpkit.warehouse import Warehouse, connect

log = logging.getLogger("cdpkit.ops")
COLUMNS = [c.name for c in TABLES["scheduler_heartbeats"][0]]
MIRROR_GLOB = "cdpkit-scheduler-*.json"
STALE_AFTER_INTERVALS = 3.0
KEEP_STOPPED = dt.timedelta(days=7)


@dataclass(frozen=True)
class Beat:
    """One scheduler's row."""

    scheduler_id: str
    host: str
    pid: int
    started_at: dt.datetime  # naive UTC, like every cdpkit table
    beat_at: dt.datetime
    interval_s: float
    state: str  # starting | idle | running | stopping | stopped
    activity: str | None = None
    next_due_at: dt.datetime | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            k: v.isoformat() if isinstance(v, dt.datetime) else v for k, v in asdict(self).items()
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Beat:
        values = dict(data)
        for key in ("started_at", "beat_at", "next_due_at"):
            if values.get(key):
                values[key] = dt.datetime.fromisoformat(values[key])
        return cls(**values)


@dataclass(frozen=True)
class Liveness:
    alive: bool
    reason: str


def write_beat(wh: Warehouse, beat: Beat) -> None:
    """Upsert the scheduler's row (delete + insert in one transaction)."""
    delete = exp.delete(table("scheduler_heartbeats"), where=col("scheduler_id").eq(param()))
    insert = exp.insert(
        exp.select(*[param() for _ in COLUMNS]),
        table("scheduler_heartbeats"),
        columns=[exp.to_identifier(c, quoted=True) for c in COLUMNS],
    )
    values = asdict(beat)
    with wh.transaction():
        wh.execute(render(delete, wh.dialect), [beat.scheduler_id])
        wh.execute(render(insert, wh.dialect), [values[c] for c in COLUMNS])


def read_beats(wh: Warehouse) -> list[Beat]:
    """Every scheduler row, most recent beat first."""
    query = (
        exp.select(*[col(c) for c in COLUMNS])
        .from_(table("scheduler_heartbeats"))
        .order_by(exp.Ordered(this=col("beat_at"), desc=True))
    )
    rows = wh.fetchall(render(query, wh.dialect))
    out = []
    for row in rows:
        values = dict(zip(COLUMNS, row, strict=True))
        values["pid"] = int(values["pid"])
        values["interval_s"] = float(values["interval_s"])
        out.append(Beat(**values))
    return out


def prune(wh: Warehouse, now: dt.datetime) -> None:
    """Forget schedulers that stopped (or went silent) more than a week ago."""
    delete = exp.delete(
        table("scheduler_heartbeats"), where=exp.LT(this=col("beat_at"), expression=param())
    )
    wh.execute(render(delete, wh.dialect), [naive(now) - KEEP_STOPPED])


def liveness(beat: Beat, now: dt.datetime, *, host: str | None = None) -> Liveness:
    """Is this scheduler running? Its process on this host, or a recent beat from elsewhere."""
    host = host or socket.gethostname()
    age = (naive(now) - beat.beat_at).total_seconds()
    if beat.state == "stopped":
        return Liveness(False, f"stopped {_ago(age)}")
    if beat.host == host:
        if _process_alive(beat.scheduler_id):
            return Liveness(True, f"process {beat.pid} is running; last beat {_ago(age)}")
        return Liveness(False, f"process {beat.pid} is gone (last beat {_ago(age)})")
    limit = STALE_AFTER_INTERVALS * beat.interval_s
    if age <= limit:
        return Liveness(True, f"last beat {_ago(age)} on {beat.host}")
    return Liveness(
        False, f"no beat for {_ago(age, suffix=False)} (expected every {beat.interval_s:g}s)"
    )


def _ago(seconds: float, *, suffix: bool = True) -> str:
    s = max(0, int(seconds))
    text = f"{s}s" if s < 120 else f"{s // 60}m" if s < 7200 else f"{s // 3600}h"
    return f"{text} ago" if suffix else text


def _process_alive(scheduler_id: str) -> bool:
    parts = scheduler_id.split(":")
    try:
        pid = int(parts[1])
    except (IndexError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    started = parts[2] if len(parts) > 2 else ""
    now_started = _process_start(pid)
    return now_started != "zombie" and (not started or started == now_started)


def _process_start(pid: int) -> str:
    """Start time in clock ticks from /proc (Linux; 'zombie' for a dead one), '' elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return ""
    fields = stat.rsplit(")", 1)[-1].split()
    if fields and fields[0] in ("Z", "X"):
        return "zombie"
    return fields[19] if len(fields) > 19 else ""


# -- the file mirror (read by `cdpkit status` when the DuckDB file is locked) ----------------
def mirror_dir(project: Project) -> Path:
    return project.root / "logs"


def write_mirror(project: Project, beat: Beat) -> None:
    folder = mirror_dir(project)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"cdpkit-scheduler-{beat.pid}.json"
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(beat.as_json()), encoding="utf-8")
    partial.replace(path)


def read_mirrors(project: Project) -> list[Beat]:
    beats: list[Beat] = []
    for path in sorted(mirror_dir(project).glob(MIRROR_GLOB)):
        try:
            beats.append(Beat.from_json(json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError, TypeError):
            continue
    return sorted(beats, key=lambda b: b.beat_at, reverse=True)


# -- the thread -------------------------------------------------------------------------------
class Heartbeat:
    """Beats every `interval_s` on its own connection; renews claims; never raises."""

    def __init__(
        self,
        project: Project,
        *,
        interval_s: float = 30.0,
        claim_seconds: float = 1800.0,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.project = project
        self.interval_s = interval_s
        self.claim_seconds = claim_seconds
        self.on_error = on_error or (lambda message: log.warning("%s", message))
        now = lease.utcnow()
        self.beat = Beat(
            scheduler_id=lease.holder_id(),
            host=socket.gethostname(),
            pid=os.getpid(),
            started_at=now,
            beat_at=now,
            interval_s=interval_s,
            state="starting",
        )
        self._lock = threading.Lock()
        self._claims: dict[str, lease.Lease] = {}
        self._wake = threading.Event()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_error: str | None = None

    # what the scheduler tells us
    def update(self, **changes: Any) -> None:
        with self._lock:
            self.beat = replace(self.beat, **changes)

    def hold(self, claim: lease.Lease) -> None:
        with self._lock:
            self._claims[claim.sync_id] = claim

    def drop(self, claim: lease.Lease) -> None:
        with self._lock:
            self._claims.pop(claim.sync_id, None)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="cdpkit-heartbeat", daemon=True)
        self._thread.start()

    def stop(self, state: str = "stopped") -> None:
        """Stop the thread and write a last beat with `state`."""
        self._done.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=max(60.0, self.interval_s))
        self.update(state=state, activity=None, next_due_at=None)
        self.beat_now()

    def beat_now(self) -> bool:
        """Write the row now (and the mirror file); False when the warehouse was unavailable."""
        with self._lock:
            self.beat = replace(self.beat, beat_at=lease.utcnow())
            beat = self.beat
            claims = list(self._claims.values())
        try:
            write_mirror(self.project, beat)
        except OSError as exc:
            self._report(f"heartbeat file not written: {exc}")
        try:
            with connect(self.project) as wh:
                ensure_tables(wh)
                write_beat(wh, beat)
                for claim in claims:
                    lease.renew(wh, claim, seconds=self.claim_seconds)
        except CdpkitError as exc:
            self._report(f"heartbeat not written to the warehouse: {exc}")
            return False
        self._last_error = None
        return True

    def _report(self, message: str) -> None:
        if message != self._last_error:  # one warning per distinct problem, not every beat
            self._last_error = message
            self.on_error(message)

    def _loop(self) -> None:
        while not self._done.is_set():
            self.beat_now()
            self._wake.wait(self.interval_s)
            self._wake.clear()
