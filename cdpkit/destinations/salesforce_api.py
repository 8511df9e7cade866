"""Salesforce REST calls: OAuth 2.0 client credentials, one re-auth on INVALID_SESSION_ID, the
org's daily API limit, and failures classified (api-contracts §2.1, §2.4).

Shared by the Salesforce destination and `cdpkit import salesforce`.

- Token: `POST {base_url}/services/oauth2/token` (form: grant_type=client_credentials,
  client_id, client_secret); data calls go to the returned `instance_url`. 400 `invalid_client_id`
  / `invalid_client` / `invalid_grant` -> TerminalError naming what to check.
- 401 `INVALID_SESSION_ID` (session expired or revoked): fetch a new token once and repeat the
  call; a second 401 is terminal.
- 403 `REQUEST_LIMIT_EXCEEDED` "TotalRequests Limit exceeded.": the org's rolling 24-hour API
  allocation is used up -> DailyLimitReached (stop cleanly, resume next run). The same code with
  a "Concurrent..." message (too many long-running requests at once) is a short throttle:
  TransientError after Retry-After if sent, else 2 s. `Sforce-Limit-Info: api-usage=N/M` is read
  from every response and logged; with `max_api_usage_percent` below 100 the run also stops
  before the org reaches that share, leaving room for other integrations.
- Other failures as the engine's HttpClient classifies them (400 -> BatchRejected,
  5xx -> TransientError, ...), unless the caller lists the status in `allow`.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from cdpkit.destinations.crm_support import DailyLimitReached
from cdpkit.destinations.errors import TerminalError, TransientError
from cdpkit.sync.http import HttpClient, body_snippet
from cdpkit.sync.retry import parse_retry_after

log = logging.getLogger("cdpkit.destinations.salesforce")

LOGIN_URL = "https://login.salesforce.com"
CONCURRENCY_WAIT_S = 2.0  # Salesforce sends no Retry-After; long requests clear in seconds
_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")
_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
    '"': '\\"',
}


def soql_quote(value: str) -> str:
    """A SOQL string literal: quotes and backslashes escaped (values never break the query)."""
    return "'" + "".join(_ESCAPES.get(ch, ch) for ch in str(value)) + "'"


@dataclass
class Usage:
    used: int | None = None
    limit: int | None = None

    def percent(self) -> float | None:
        if self.used is None or not self.limit:
            return None
        return 100.0 * self.used / self.limit


class SalesforceApi:
    """Authenticated, classified calls to one Salesforce org."""

    def __init__(
        self,
        http: HttpClient,
        *,
        login_url: str,
        client_id: str,
        client_secret: str,
        version: str,
        where: str = "Salesforce",
        credentials_ref: str = "the client credentials",
        max_usage_percent: float = 100.0,
    ) -> None:
        self.http = http
        self.login_url = login_url.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.version = version
        self.where = where
        self.credentials_ref = credentials_ref
        self.max_usage_percent = max_usage_percent
        self.usage = Usage()
        self.instance_url: str | None = None
        self._token: str | None = None
        self._lock = threading.Lock()
        self._logged_step = 0

    @property
    def data_path(self) -> str:
        return f"/services/data/v{self.version}"

    # -- auth --------------------------------------------------------------------------------
    def authenticate(self, stale: str | None = None) -> str:
        """A valid access token (a new one if `stale` is the current one)."""
        with self._lock:
            if self._token is not None and self._token != stale:
                return self._token
            response = self.http.request(
                "POST",
                f"{self.login_url}/services/oauth2/token",
                data=_form(
                    grant_type="client_credentials",
                    client_id=self.client_id,
                    client_secret=self.client_secret,
                ),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                classify=False,
            )
            if response.status_code == 400 or response.status_code == 401:
                body = _json(response)
                error = body.get("error", "invalid_grant") if isinstance(body, dict) else "?"
                detail = body.get("error_description", "") if isinstance(body, dict) else ""
                raise TerminalError(
                    f"{self.where} refused {self.credentials_ref} ({error}: {detail}); check the "
                    "connected app's consumer key and secret, that it enables the OAuth 2.0 "
                    "client credentials flow with a run-as user, and that base_url is the org's "
                    "My Domain URL (https://<domain>.my.salesforce.com)"
                )
            self.http.classify(response)
            data = _json(response)
            if not isinstance(data, dict) or not data.get("access_token"):
                raise TerminalError(f"{self.where}: the token response has no access_token")
            self._token = str(data["access_token"])
            self.instance_url = str(data.get("instance_url") or self.login_url).rstrip("/")
            return self._token

    # -- calls -------------------------------------------------------------------------------
    def call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        data: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        allow: tuple[int, ...] = (),
    ) -> requests.Response:
        """One data call (path below the instance URL); 2xx and `allow` statuses are returned."""
        self._check_budget()
        token = self.authenticate()
        for attempt in (1, 2):
            assert self.instance_url is not None
            url = path if path.startswith("http") else self.instance_url + path
            response = self.http.request(
                method,
                url,
                json=json_body,
                data=data,
                params=params,
                headers={"Authorization": f"Bearer {token}", **(headers or {})},
                classify=False,
            )
            self._read_usage(response)
            if (
                response.status_code == 401
                and attempt == 1
                and _code(response) == "INVALID_SESSION_ID"
            ):
                log.info("%s: session expired; authenticating again", self.where)
                token = self.authenticate(stale=token)
                continue
            break
        status = response.status_code
        if 200 <= status < 300 or status in allow:
            return response
        code = _code(response)
        if status == 403 and code == "REQUEST_LIMIT_EXCEEDED":
            message = _message(response)
            if "concurrent" in message.lower():
                # Too many long-running requests at once: a short wait, not the daily limit.
                self.http.metrics.add(throttled=1)
                wait = parse_retry_after(response.headers.get("Retry-After"))
                wait = CONCURRENCY_WAIT_S if wait is None else wait
                self.http.limiter.pause(wait)
                raise TransientError(
                    f"{self.where} throttled (403 REQUEST_LIMIT_EXCEEDED: {message}); "
                    f"waiting {wait:g}s",
                    retry_after=wait,
                    throttled=True,
                )
            raise self._limit_error(f"403 REQUEST_LIMIT_EXCEEDED: {message or 'TotalRequests'}")
        if status == 401:
            raise TerminalError(
                f"{self.where}: the session was refused again after re-authenticating "
                f"(401 {code or ''}); check the run-as user's access and the connected app policy"
            )
        if status == 403:
            raise TerminalError(
                f"{self.where}: {method} {path.split('?')[0]} is forbidden (403 {code}); give the "
                f"run-as user access to it{body_snippet(response)}"
            )
        if status == 503:
            raise TransientError(f"{self.where}: server busy (503){body_snippet(response)}")
        self.http.classify(response)
        raise TerminalError(f"{self.where}: unexpected HTTP {status}{body_snippet(response)}")

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        return _json(response) if response.content else None

    def query(self, soql: str) -> Iterator[dict[str, Any]]:
        """Every record of a SOQL query, following `nextRecordsUrl`."""
        page = self.json("GET", f"{self.data_path}/query", params={"q": soql}) or {}
        while True:
            yield from page.get("records") or []
            next_url = page.get("nextRecordsUrl")
            if page.get("done", True) or not next_url:
                return
            page = self.json("GET", next_url) or {}

    def query_pages(self, soql: str) -> Iterator[list[dict[str, Any]]]:
        """The pages of a SOQL query (one request each)."""
        page = self.json("GET", f"{self.data_path}/query", params={"q": soql}) or {}
        while True:
            yield list(page.get("records") or [])
            next_url = page.get("nextRecordsUrl")
            if page.get("done", True) or not next_url:
                return
            page = self.json("GET", next_url) or {}

    # -- limits ------------------------------------------------------------------------------
    def _read_usage(self, response: requests.Response) -> None:
        header = response.headers.get("Sforce-Limit-Info") or ""
        match = _USAGE.search(header)
        if not match:
            return
        self.usage = Usage(int(match.group(1)), int(match.group(2)))
        log.debug("%s: Sforce-Limit-Info %s", self.where, header)
        percent = self.usage.percent() or 0.0
        step = int(percent // 25)
        if step > self._logged_step:
            self._logged_step = step
            log.info(
                "%s: org API usage %s (%.0f%% of the daily limit)", self.where, header, percent
            )

    def _check_budget(self) -> None:
        percent = self.usage.percent()
        if (
            percent is not None
            and self.max_usage_percent < 100
            and percent >= self.max_usage_percent
        ):
            raise self._limit_error(
                f"api-usage={self.usage.used}/{self.usage.limit} reached "
                f"max_api_usage_percent: {self.max_usage_percent:g}"
            )

    def _limit_error(self, detail: str) -> DailyLimitReached:
        return DailyLimitReached(
            f"{self.where}: the org's daily API request limit is reached ({detail}); the run "
            "stopped cleanly and the next run resumes with the records not yet confirmed. "
            "Salesforce counts requests over a rolling 24 hours; raise the limit, lower other "
            "integrations' usage, or use a larger batch_size so large syncs go through Bulk API 2.0"
        )


def _form(**fields: str) -> bytes:
    from urllib.parse import urlencode

    return urlencode(fields).encode()


def _json(response: requests.Response) -> Any:
    try:
        return response.json() if response.content else None
    except ValueError:
        return None


def _message(response: requests.Response) -> str:
    body = _json(response)
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return str(body[0].get("message") or "")
    return ""


def _code(response: requests.Response) -> str:
    body = _json(response)
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return str(body[0].get("errorCode") or "")
    if isinstance(body, dict):
        return str(body.get("errorCode") or body.get("error") or "")
    return ""
