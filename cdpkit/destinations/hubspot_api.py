"""HubSpot API calls with HubSpot's own failure classes and pacing (api-contracts §1.3-§1.4).

Shared by the HubSpot destination and `cdpkit import hubspot`. Every call:

1. refuses to go out once the daily limit is known to be used up (`DailyLimitReached`, a
   `QuotaExhausted`: the engine defers the run, the next one resumes);
2. waits for a slot in the account's rolling 10-second window: the HttpClient's limiter, the
   engine's `SlidingWindow` sized by `HubSpotDestination.rate_limit_for(config)` (shared by every
   sync and import of the account in the process);
3. reads `X-HubSpot-RateLimit-*` headers: a nearly full window (other clients share it) pauses
   the account's limiter briefly, `Daily-Remaining: 0` stops the next call before it is sent;
4. classifies failures: 429 `policyName: DAILY` -> DailyLimitReached (stop the run cleanly,
   resume next run); 429 `TEN_SECONDLY_ROLLING` (or any other 429) -> TransientError after
   pausing the account (Retry-After if given, else the rest of the window); 423 -> retry
   after 2 s; 401 / 403 MISSING_SCOPES -> TerminalError saying what to fix; others as the
   engine's HttpClient classifies them (400 -> BatchRejected, 5xx -> TransientError).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests

from cdpkit.destinations.crm_support import DailyLimitReached
from cdpkit.destinations.errors import TerminalError, TransientError
from cdpkit.sync.http import HttpClient, body_snippet
from cdpkit.sync.retry import parse_retry_after

log = logging.getLogger("cdpkit.destinations.hubspot")

API_URL = "https://api.hubapi.com"
WINDOW_S = 10.0
REQUIRED_SCOPES = (
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.schemas.contacts.read",
    "crm.schemas.contacts.write (only with create_properties: true)",
    "crm.lists.read",
    "crm.lists.write",
)


@dataclass(frozen=True)
class Tier:
    """Published private-app limits: requests per rolling 10 s (per app) and per day."""

    ten_second: int
    daily: int


TIERS: dict[str, Tier] = {
    "free": Tier(100, 250_000),
    "starter": Tier(100, 250_000),
    "professional": Tier(190, 650_000),
    "enterprise": Tier(190, 1_000_000),
}
LIMIT_INCREASE_TEN_SECOND = 250  # with an API limit increase pack (does not stack)
LIMIT_INCREASE_DAILY = 1_000_000  # per pack, up to two


def limits(tier: str, packs: int = 0) -> Tier:
    base = TIERS[tier]
    if packs <= 0:
        return base
    return Tier(LIMIT_INCREASE_TEN_SECOND, base.daily + packs * LIMIT_INCREASE_DAILY)


@dataclass
class RateState:
    """What the last response said about the account's limits."""

    daily: int | None = None
    daily_remaining: int | None = None
    window_max: int | None = None
    window_remaining: int | None = None


class HubSpotApi:
    """Authenticated, paced, classified calls to one HubSpot account."""

    def __init__(
        self,
        http: HttpClient,
        token: str,
        *,
        where: str = "HubSpot",
        token_ref: str = "the token",  # noqa: S107 - a description, not a secret
    ) -> None:
        self.http = http  # its limiter paces the account (see make_api in hubspot.py)
        self.token = token
        self.where = where
        self.token_ref = token_ref
        self.state = RateState()
        self.daily_exhausted = False

    def call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        allow: tuple[int, ...] = (),
    ) -> requests.Response:
        """Send one request; 2xx and statuses in `allow` are returned, the rest raise."""
        if self.daily_exhausted:
            raise self._daily_error()
        response = self.http.request(
            method,
            path,
            json=json_body,
            params=params,
            headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json"},
            classify=False,
        )
        self._read_headers(response)
        status = response.status_code
        if 200 <= status < 300 or status in allow:
            return response
        body = _json(response)
        if status == 429:
            self._throttled(response, body)
        if status == 423:
            raise TransientError(f"{self.where}: record locked (HTTP 423)", retry_after=2.0)
        if status == 401:
            raise TerminalError(
                f"{self.where} refused {self.token_ref} (HTTP 401 "
                f"{body.get('category', 'INVALID_AUTHENTICATION')}): check that it is the access "
                "token of a private app in this HubSpot account (Settings -> Integrations -> "
                "Private apps) and that the app was not deleted or its token rotated"
            )
        if status == 403 and body.get("category") == "MISSING_SCOPES":
            raise TerminalError(
                f"{self.where}: the private app lacks the scope(s) "
                f"{', '.join(_required_scopes(body)) or '(not named)'} for {method} {path}; add "
                f"them to the app (scopes cdpkit uses: {', '.join(REQUIRED_SCOPES)})"
            )
        self.http.classify(response)
        raise TerminalError(f"{self.where}: unexpected HTTP {status}{body_snippet(response)}")

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        return _json(response) if response.content else {}

    # -- internals ---------------------------------------------------------------------------
    def _read_headers(self, response: requests.Response) -> None:
        h = response.headers
        state = self.state
        state.daily = _int(h.get("X-HubSpot-RateLimit-Daily")) or state.daily
        remaining = _int(h.get("X-HubSpot-RateLimit-Daily-Remaining"))
        if remaining is not None:
            state.daily_remaining = remaining
            if remaining <= 0 and response.status_code != 429:
                # This request was the last one of the day: stop before the next is refused.
                self.daily_exhausted = True
        state.window_max = _int(h.get("X-HubSpot-RateLimit-Max")) or state.window_max
        window_remaining = _int(h.get("X-HubSpot-RateLimit-Remaining"))
        state.window_remaining = window_remaining
        interval_ms = _int(h.get("X-HubSpot-RateLimit-Interval-Milliseconds")) or 10_000
        if window_remaining is not None and window_remaining <= 1 and state.window_max:
            # Other clients share the window: wait about one slot's worth before the next call.
            self.http.limiter.pause(
                (interval_ms / 1000.0) / state.window_max * (2 - window_remaining)
            )

    def _throttled(self, response: requests.Response, body: dict[str, Any]) -> None:
        self.http.metrics.add(throttled=1)
        policy = str(body.get("policyName") or "")
        if policy == "DAILY":
            self.daily_exhausted = True
            raise self._daily_error()
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        wait = retry_after if retry_after is not None else WINDOW_S
        self.http.limiter.pause(wait)
        raise TransientError(
            f"{self.where} throttled (429 {policy or 'rate limit'}): "
            f"{body.get('message', 'too many requests')}; waiting {wait:g}s",
            retry_after=wait,
            throttled=True,
        )

    def _daily_error(self) -> DailyLimitReached:
        limit = f" of {self.state.daily:,} requests" if self.state.daily else ""
        return DailyLimitReached(
            f"{self.where}: the account's daily API limit{limit} is used up (429 DAILY); the run "
            "stopped cleanly and the next run resumes with the records not yet confirmed. The "
            "limit resets at midnight in the account's time zone; raise it with an API limit "
            "increase, or lower other integrations' usage"
        )


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        data = response.json() if response.content else {}
    except (ValueError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {"items": data}


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _required_scopes(body: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for error in body.get("errors") or []:
        context = (error.get("context") or {}) if isinstance(error, dict) else {}
        for key in ("requiredGranularScopes", "requiredScopes"):
            found.extend(str(s) for s in context.get(key) or [])
    return found
