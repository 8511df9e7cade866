"""One run per sync at a time: a lease row in `cdpkit.sync_leases`, renewed while running.

A lease is free when its row is missing, expired, or held by a process on this host that no
longer exists (a run killed with `kill -9` does not block the next one until expiry).
Taking over is a compare-and-set on the previous holder's run id, so two processes racing
for a stale lease cannot both win.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from dataclasses import dataclass

from sqlglot import exp

from cdpkit.errors import CdpkitError, WarehouseError
from cdpkit.sync.sql import col, param, render, table
from cdpkit.warehouse import Warehouse

DEFAULT_LEASE_S = 600.0


class SyncLocked(CdpkitError):
    """Another run of the same sync holds the lease."""


@dataclass(frozen=True)
class Lease:
    sync_id: str
    run_id: str
    holder: str


def holder_id() -> str:
    """`host:pid:start` of this process (start time tells a reused pid apart)."""
    return f"{socket.gethostname()}:{os.getpid()}:{_process_start(os.getpid())}"


def acquire(
    wh: Warehouse,
    sync_id: str,
    run_id: str,
    *,
    seconds: float = DEFAULT_LEASE_S,
    now: dt.datetime | None = None,
) -> Lease:
    """Take the lease of `sync_id` or raise SyncLocked naming who holds it."""
    now = now or utcnow()
    me = holder_id()
    expires = now + dt.timedelta(seconds=seconds)
    current = _read(wh, sync_id)
    if current is None:
        insert = exp.insert(
            exp.select(param(), param(), param(), param(), param()),
            table("sync_leases"),
            columns=[
                exp.to_identifier(c, quoted=True)
                for c in ("sync_id", "run_id", "holder", "acquired_at", "expires_at")
            ],
        )
        try:
            wh.execute(render(insert, wh.dialect), [sync_id, run_id, me, now, expires])
        except WarehouseError:
            current = _read(wh, sync_id)  # someone inserted first
            if current is None:
                raise
            raise _locked(sync_id, *current) from None
        return Lease(sync_id, run_id, me)
    old_run, old_holder, old_expires = current
    if old_expires > now and _holder_alive(old_holder):
        raise _locked(sync_id, old_run, old_holder, old_expires)
    update = exp.update(
        table("sync_leases"),
        {"run_id": param(), "holder": param(), "acquired_at": param(), "expires_at": param()},
        where=exp.and_(col("sync_id").eq(param()), col("run_id").eq(param())),
    )
    wh.execute(render(update, wh.dialect), [run_id, me, now, expires, sync_id, old_run])
    taken = _read(wh, sync_id)
    if taken is None or taken[0] != run_id:
        raise _locked(sync_id, *(taken or (old_run, old_holder, old_expires)))
    return Lease(sync_id, run_id, me)


def renew(wh: Warehouse, lease: Lease, *, seconds: float = DEFAULT_LEASE_S) -> None:
    update = exp.update(
        table("sync_leases"),
        {"expires_at": param()},
        where=exp.and_(col("sync_id").eq(param()), col("run_id").eq(param())),
    )
    expires = utcnow() + dt.timedelta(seconds=seconds)
    wh.execute(render(update, wh.dialect), [expires, lease.sync_id, lease.run_id])


def release(wh: Warehouse, lease: Lease) -> None:
    delete = exp.delete(
        table("sync_leases"),
        where=exp.and_(col("sync_id").eq(param()), col("run_id").eq(param())),
    )
    wh.execute(render(delete, wh.dialect), [lease.sync_id, lease.run_id])


def utcnow() -> dt.datetime:
    """Now in UTC as a naive timestamp (how every cdpkit table stores time)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _read(wh: Warehouse, sync_id: str) -> tuple[str, str, dt.datetime] | None:
    query = (
        exp.select(col("run_id"), col("holder"), col("expires_at"))
        .from_(table("sync_leases"))
        .where(col("sync_id").eq(param()))
    )
    row = wh.fetchone(render(query, wh.dialect), [sync_id])
    return (str(row[0]), str(row[1]), row[2]) if row else None


def _locked(sync_id: str, run_id: str, holder: str, expires: dt.datetime) -> SyncLocked:
    host, _, rest = holder.partition(":")
    pid = rest.split(":")[0] if rest else "?"
    return SyncLocked(
        f"sync '{sync_id}' is already running (run {run_id}, process {pid} on {host}); "
        f"wait for it to finish (its lease expires at {expires:%Y-%m-%d %H:%M:%S} UTC)"
    )


def _holder_alive(holder: str) -> bool:
    """False only when the holder is on this host and its process is gone (or was replaced)."""
    parts = holder.split(":")
    if len(parts) < 2 or parts[0] != socket.gethostname():
        return True
    try:
        pid = int(parts[1])
    except ValueError:
        return True
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    started = parts[2] if len(parts) > 2 else ""
    now_started = _process_start(pid)
    if now_started == "zombie":
        return False
    return not started or started == now_started


def _process_start(pid: int) -> str:
    """The process start time in clock ticks (Linux; 'zombie' for a dead one), '' elsewhere."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            stat = handle.read()
    except OSError:
        return ""
    fields = stat.rsplit(")", 1)[-1].split()
    if fields and fields[0] in ("Z", "X"):
        return "zombie"
    return fields[19] if len(fields) > 19 else ""
