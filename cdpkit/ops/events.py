"""What the scheduler says while it works: JSON lines (`--log-format json`) or plain text.

log = EventLog("json", sys.stderr)
log.info("run_finished", "crm.vip: success", sync="crm.vip", confirmed=120)
# {"ts": "2026-01-01T00:00:00.123Z", "level": "info", "event": "run_finished",
#  "message": "crm.vip: success", "sync": "crm.vip", "confirmed": 120}
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any, TextIO

from cdpkit.destinations.base import jsonable
from cdpkit.sync.redact import redact

FORMATS = ("text", "json")


class EventLog:
    """Thread-safe, redacted, one line per event, flushed immediately (for log collectors)."""

    def __init__(self, fmt: str, stream: TextIO) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"log format must be one of {FORMATS}")
        self.fmt = fmt
        self.stream = stream
        self._lock = threading.Lock()
        self.events: list[dict[str, Any]] = []  # kept for tests and summaries (bounded)

    def info(self, event: str, message: str, **fields: Any) -> None:
        self.emit("info", event, message, **fields)

    def warning(self, event: str, message: str, **fields: Any) -> None:
        self.emit("warning", event, message, **fields)

    def error(self, event: str, message: str, **fields: Any) -> None:
        self.emit("error", event, message, **fields)

    def emit(self, level: str, event: str, message: str, **fields: Any) -> None:
        now = dt.datetime.now(dt.UTC)
        record = {
            "ts": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": level,
            "event": event,
            "message": redact(message),
            **{k: jsonable(v) for k, v in fields.items() if v is not None},
        }
        if self.fmt == "json":
            line = redact(json.dumps(record, ensure_ascii=False, default=str))
        else:
            line = f"{record['ts']} {level.upper():<7} {record['message']}"
        with self._lock:
            if len(self.events) < 10_000:
                self.events.append(record)
            self.stream.write(line + "\n")
            self.stream.flush()

    def of(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == event]
