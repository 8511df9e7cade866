"""Building blocks of the fake destination servers: requests, responses, scripted faults.

A fake answers requests under its own URL prefix (`/webhook/...`) and a control API under
`/_sandbox/<name>/...` (tests script faults and read what arrived). Faults every fake
understands, set with `POST /_sandbox/<name>/faults`:

    {"script": [{"status": 429, "retry_after": 0.5}, {"status": 503}, {"delay_s": 3}],
     "latency_s": 0.05,                              # every request (slow destination)
     "rate_limit": {"per_second": 20, "burst": 5},   # 429 + Retry-After beyond it
     "fail_auth": true}                              # 401 for everything

Scripted entries are used by the next requests in order (`"times": n` repeats one); an entry
with `delay_s` and no status delays that request and then handles it normally, so a client
with a shorter timeout sees a timeout although the fake did the work (as real servers do).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # below the fake's prefix, e.g. "/hooks/demo"
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Response:
    status: int = 200
    body: Any = None  # dict/list -> JSON, bytes/str as is
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> tuple[bytes, str]:
        if self.body is None:
            return b"", "application/json"
        if isinstance(self.body, bytes):
            return self.body, self.headers.get("Content-Type", "application/octet-stream")
        if isinstance(self.body, str):
            return self.body.encode(), self.headers.get("Content-Type", "text/plain; charset=utf-8")
        return json.dumps(self.body).encode(), "application/json"


def error(status: int, message: str, **extra: Any) -> Response:
    return Response(status, {"error": message, **extra})


class TokenBucketLimit:
    """The fake's own rate limit: refuse beyond `per_second` sustained, `burst` at once."""

    def __init__(self, per_second: float, burst: int) -> None:
        self.per_second = per_second
        self.burst = max(1, burst)
        self._tokens = float(self.burst)
        self._updated = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> float | None:
        """None when allowed, else seconds until a request would be."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(
                float(self.burst), self._tokens + (now - self._updated) * self.per_second
            )
            self._updated = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return None
            return (1.0 - self._tokens) / self.per_second


class Faults:
    """Scripted and standing faults of one fake (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._script: deque[dict[str, Any]] = deque()
            self.latency_s = 0.0
            self.limit: TokenBucketLimit | None = None
            self.fail_auth = False
            self.throttled = 0

    def configure(self, settings: dict[str, Any]) -> None:
        with self._lock:
            for entry in settings.get("script", []):
                for _ in range(int(entry.get("times", 1))):
                    self._script.append(dict(entry))
            if "latency_s" in settings:
                self.latency_s = float(settings["latency_s"] or 0)
            if "rate_limit" in settings:
                rl = settings["rate_limit"]
                self.limit = (
                    TokenBucketLimit(float(rl["per_second"]), int(rl.get("burst", 1)))
                    if rl
                    else None
                )
            if "fail_auth" in settings:
                self.fail_auth = bool(settings["fail_auth"])

    def next_scripted(self) -> dict[str, Any] | None:
        with self._lock:
            return self._script.popleft() if self._script else None

    def pending(self) -> int:
        with self._lock:
            return len(self._script)

    def throttle(self) -> Response | None:
        """A 429 when the standing rate limit is exceeded."""
        limit = self.limit
        if limit is None:
            return None
        wait = limit.take()
        if wait is None:
            return None
        with self._lock:
            self.throttled += 1
        return Response(429, {"error": "rate limit exceeded"}, {"Retry-After": f"{wait:.3f}"})


def scripted_response(entry: dict[str, Any]) -> Response | None:
    """The response a scripted fault asks for (after its delay), or None to carry on."""
    delay = float(entry.get("delay_s", 0) or 0)
    if delay:
        time.sleep(delay)
    status = entry.get("status")
    if status is None:
        return None
    headers = {}
    if entry.get("retry_after") is not None:
        headers["Retry-After"] = str(entry["retry_after"])
    body = entry.get("body", {"error": f"scripted fault {status}"})
    return Response(int(status), body, headers)


class Fake:
    """Base class of the fakes served by the sandbox."""

    name: ClassVar[str]
    description: ClassVar[str] = ""

    def __init__(self) -> None:
        self.faults = Faults()
        self.lock = threading.RLock()

    def handle(self, request: Request) -> Response:
        raise NotImplementedError

    def control(self, request: Request) -> Response:
        """`/_sandbox/<name>/<action>`: faults, reset, plus what the fake exposes."""
        action = request.path.strip("/")
        if action == "faults" and request.method == "POST":
            self.faults.configure(request.json() or {})
            return Response(200, {"ok": True, "scripted": self.faults.pending()})
        if action == "reset" and request.method == "POST":
            self.reset()
            return Response(200, {"ok": True})
        return self.inspect(action, request)

    def inspect(self, action: str, request: Request) -> Response:
        return error(404, f"unknown control action '{action}'")

    def reset(self) -> None:
        self.faults.reset()

    def preflight(self, request: Request) -> Response | None:
        """Standing faults, then the next scripted one; None means handle normally."""
        throttled = self.faults.throttle()
        if throttled is not None:
            return throttled
        entry = self.faults.next_scripted()
        if entry is not None:
            response = scripted_response(entry)
            if response is not None:
                return response
        if self.faults.latency_s:
            time.sleep(self.faults.latency_s)
        if self.faults.fail_auth:
            return error(401, "invalid credentials")
        return None
