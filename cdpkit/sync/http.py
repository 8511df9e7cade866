"""HTTP for connectors: rate limited, timed out, failures classified, secrets redacted.

Every request takes a token from the destination account's bucket first. Responses are
classified the same way for every connector unless it asks to look at them itself
(`classify=False`, then maybe `client.classify(response)` after its own checks):

| status                  | raised                                        |
|-------------------------|-----------------------------------------------|
| 2xx                     | nothing, the response is returned              |
| 429                     | TransientError(throttled, Retry-After); the account's workers pause |
| 408, 5xx, timeout, reset| TransientError(Retry-After if given)           |
| 400, 413, 422           | BatchRejected (the engine bisects)             |
| 401, 403                | TerminalError: check the credentials           |
| 404, other 4xx          | TerminalError: check base_url / configuration  |

When the account's limiter is paused for longer than `max_pause_s` (the engine sets the retry
budget: a destination asked for hours of quiet), a request is not sent and waits for nothing:
it raises QuotaExhausted, so the sync is deferred at once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from cdpkit import __version__
from cdpkit.destinations.errors import (
    BatchRejected,
    QuotaExhausted,
    Stopped,
    TerminalError,
    TransientError,
)
from cdpkit.sync.ratelimit import Limiter, TokenBucket
from cdpkit.sync.redact import redact
from cdpkit.sync.retry import parse_retry_after

USER_AGENT = f"cdpkit/{__version__}"
DEFAULT_THROTTLE_WAIT_S = 1.0


@dataclass
class HttpMetrics:
    """Counters shared by the workers of one destination (guarded by a lock)."""

    requests: int = 0
    throttled: int = 0
    server_errors: int = 0
    timeouts: int = 0
    bytes_sent: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {
                "requests": self.requests,
                "throttled": self.throttled,
                "server_errors": self.server_errors,
                "timeouts": self.timeouts,
                "bytes_sent": self.bytes_sent,
            }


class HttpClient:
    """A small requests wrapper bound to one destination's base URL, limiter and timeout."""

    def __init__(
        self,
        base_url: str | None,
        *,
        limiter: Limiter | None = None,
        timeout_s: float = 30.0,
        headers: Mapping[str, str] | None = None,
        metrics: HttpMetrics | None = None,
        stop: threading.Event | None = None,
        max_pause_s: float | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/" if base_url else None
        self.limiter: Limiter = limiter or TokenBucket(None)
        self.timeout_s = timeout_s
        self.headers = {"User-Agent": USER_AGENT, **(headers or {})}
        self.metrics = metrics or HttpMetrics()
        self.stop = stop
        self.max_pause_s = max_pause_s
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()
        self._environment: dict[tuple[str, str], dict[str, Any]] = {}

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")) or self.base_url is None:
            return path
        return urljoin(self.base_url, path.lstrip("/"))

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        timeout_s: float | None = None,
        classify: bool = True,
    ) -> requests.Response:
        """Send one request (after a rate-limit token); classify failures unless told not to."""
        url = self.url(path)
        where = f"{method} {urlsplit(url).path or '/'}"
        if self.max_pause_s is not None:
            paused = self.limiter.paused_for()
            if paused > self.max_pause_s:
                raise QuotaExhausted.after(
                    f"{where} not sent: the destination asked for {paused:,.0f}s without "
                    f"requests, longer than the retry budget ({self.max_pause_s:g}s)",
                    paused,
                )
        self.limiter.acquire(self.stop)
        if self.stop is not None and self.stop.is_set():
            raise Stopped(f"{where} not sent: the run is stopping")
        session = self._session()
        body_len = len(data) if data is not None else 0
        sent_headers = {**self.headers, **(headers or {})}
        try:
            response = session.request(
                method,
                url,
                json=json,
                data=data,
                headers=sent_headers,
                params=params,
                timeout=timeout_s or self.timeout_s,
                **self._from_environment(url, sent_headers),
            )
        except requests.Timeout:
            self.metrics.add(requests=1, timeouts=1, bytes_sent=body_len)
            raise TransientError(
                f"{where} timed out after {timeout_s or self.timeout_s:g}s"
            ) from None
        except requests.ConnectionError as exc:
            self.metrics.add(requests=1, bytes_sent=body_len)
            reason = redact(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            raise TransientError(f"{where} failed: connection error ({reason[:200]})") from None
        except requests.RequestException as exc:
            self.metrics.add(requests=1, bytes_sent=body_len)
            raise TerminalError(f"{where} failed: {redact(str(exc))[:300]}") from None
        self.metrics.add(requests=1, bytes_sent=body_len)
        if classify:
            self.classify(response)
        return response

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def classify(self, response: requests.Response) -> None:
        """Raise the failure class of a non-2xx response (see the module docstring)."""
        status = response.status_code
        if 200 <= status < 300:
            return
        where = f"{response.request.method} {urlsplit(response.url).path or '/'}"
        detail = body_snippet(response)
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if status == 429:
            self.metrics.add(throttled=1)
            self.limiter.pause(retry_after if retry_after is not None else DEFAULT_THROTTLE_WAIT_S)
            raise TransientError(
                f"{where} throttled (HTTP 429){_wait(retry_after)}{detail}",
                retry_after=retry_after,
                throttled=True,
            )
        if status == 408 or status >= 500:
            self.metrics.add(server_errors=1)
            raise TransientError(
                f"{where} failed with HTTP {status}{_wait(retry_after)}{detail}",
                retry_after=retry_after,
            )
        if status in (400, 413, 422):
            raise BatchRejected(f"HTTP {status}{detail}")
        if status in (401, 403):
            raise TerminalError(
                f"{where} was refused with HTTP {status} (authentication or permission failed)"
                f"{detail}; check the destination's credentials"
            )
        if status == 404:
            raise TerminalError(f"{where} returned HTTP 404{detail}; check base_url and path")
        raise TerminalError(f"{where} failed with HTTP {status}{detail}")

    def close(self) -> None:
        with self._sessions_lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()

    def _from_environment(self, url: str, headers: Mapping[str, str]) -> dict[str, Any]:
        """What requests would read from the environment for `url` (proxies and no_proxy, the
        CA bundle, ~/.netrc), read once per host for this client instead of on every request
        (sessions have `trust_env` off). A netrc login never replaces an Authorization header.
        """
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        found = self._environment.get(key)
        if found is None:
            found = {
                "proxies": requests.utils.get_environ_proxies(url),
                "verify": os.environ.get("REQUESTS_CA_BUNDLE")
                or os.environ.get("CURL_CA_BUNDLE")
                or True,
                "auth": requests.utils.get_netrc_auth(url),
            }
            self._environment[key] = found
        if found["auth"] is None or any(k.lower() == "authorization" for k in headers):
            return {"proxies": found["proxies"], "verify": found["verify"]}
        return found

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.trust_env = False  # read once per host by _from_environment
            adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=16)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            self._local.session = session
            with self._sessions_lock:
                self._sessions.append(session)
        return session


def body_snippet(response: requests.Response, limit: int = 300) -> str:
    """': <first part of the body>' (redacted), or '' when the body is empty."""
    try:
        text = response.text.strip()
    except Exception:  # undecodable body
        return ""
    if not text:
        return ""
    text = " ".join(text.split())
    return ": " + redact(text[:limit] + ("…" if len(text) > limit else ""))


def _wait(retry_after: float | None) -> str:
    return f", Retry-After {retry_after:g}s" if retry_after is not None else ""
