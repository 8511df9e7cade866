"""Google Data Manager API calls for Customer Match: `audienceMembers:ingest` and `:remove`.

The API is fast-fail: one bad member fails the whole request. Its `BadRequest` field
violations name members by index (`audience_members[3]...`), so those records are rejected
with Google's reason and the rest are sent again; a violation that names no member is a
configuration problem and stops the sync.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Any

import requests

from cdpkit.destinations.audience_support import json_body
from cdpkit.destinations.errors import (
    BatchRejected,
    QuotaExhausted,
    TerminalError,
    TransientError,
)
from cdpkit.destinations.google_auth import TokenExpired, TokenSource
from cdpkit.sync.http import HttpClient
from cdpkit.sync.retry import parse_retry_after

DEFAULT_BASE = "https://datamanager.googleapis.com"
_MEMBER = re.compile(r"audience_?[mM]embers\[(\d+)\]")
GRANTED = {"adUserData": "CONSENT_GRANTED", "adPersonalization": "CONSENT_GRANTED"}


class DataManagerClient:
    """Sends members to one Customer Match list through the Data Manager API."""

    def __init__(
        self,
        http: HttpClient,
        tokens: TokenSource,
        *,
        account_id: str,
        login_account_id: str | None,
        list_id: str,
    ) -> None:
        self.http = http
        self.tokens = tokens
        destination: dict[str, Any] = {
            "operatingAccount": {"accountType": "GOOGLE_ADS", "accountId": account_id},
            "productDestinationId": list_id,
        }
        if login_account_id:
            destination["loginAccount"] = {
                "accountType": "GOOGLE_ADS",
                "accountId": login_account_id,
            }
        self.destination = destination

    def send(self, verb: str, members: list[tuple[str, dict[str, Any]]]) -> dict[str, str]:
        """Ingest or remove `(key, AudienceMember)` pairs; returns rejected keys -> reasons."""
        rejected: dict[str, str] = {}
        pending = list(members)
        while pending:
            body: dict[str, Any] = {
                "destinations": [self.destination],
                "audienceMembers": [member for _, member in pending],
                "encoding": "HEX",
            }
            if verb == "ingest":
                body["consent"] = GRANTED
            response = self._post(f"/v1/audienceMembers:{verb}", body)
            if response.status_code == 200:
                return rejected
            bad = {i: r for i, r in self._member_violations(response).items() if i < len(pending)}
            if not bad:
                raise BatchRejected("Google Data Manager refused the batch without naming a member")
            for i, reason in bad.items():
                rejected[pending[i][0]] = reason
            pending = [item for i, item in enumerate(pending) if i not in bad]
        return rejected

    def probe(self) -> None:
        """A cheap authenticated call: a validate-only ingest of nothing (400 means authorized)."""
        body = {
            "destinations": [self.destination],
            "audienceMembers": [],
            "encoding": "HEX",
            "validateOnly": True,
        }
        self._post("/v1/audienceMembers:ingest", body)

    def _post(self, path: str, body: dict[str, Any]) -> requests.Response:
        token = self.tokens.token()
        response = self.http.post(
            path, json=body, headers={"Authorization": f"Bearer {token}"}, classify=False
        )
        if response.status_code == 401 and self.tokens.can_refresh:
            self.tokens.invalidate()
            raise TokenExpired()
        if response.status_code == 429:
            raise quota_error(response, self.http)
        if response.status_code in (401, 403):
            raise TerminalError(
                f"Google Data Manager refused access (HTTP {response.status_code}: "
                f"{_message(response)}); check the OAuth token's datamanager scope, customer_id "
                "and login_customer_id (the manager account, when the list belongs to a client)"
            )
        if response.status_code != 400 and response.status_code != 200:
            self.http.classify(response)
        return response

    def _member_violations(self, response: requests.Response) -> dict[int, str]:
        error = (json_body(response) or {}).get("error") or {}
        bad: dict[int, str] = {}
        other: list[str] = []
        for detail in error.get("details") or []:
            for violation in detail.get("fieldViolations") or []:
                where = str(violation.get("field", ""))
                reason = violation.get("reason") or ""
                text = f"{reason}: {violation.get('description', '')}".strip(": ")
                match = _MEMBER.match(where)
                if match:
                    bad.setdefault(int(match.group(1)), f"Google {text} ({where})")
                else:
                    other.append(f"{where or 'request'}: {text}")
        if not bad:
            detail = "; ".join(other) or _message(response)
            if other:
                raise TerminalError(f"Google Data Manager refused the request: {detail}")
            raise BatchRejected(f"Google Data Manager refused the batch: {detail}")
        return bad


def quota_error(response: requests.Response, http: HttpClient) -> Exception:
    """429 RESOURCE_EXHAUSTED: wait `retryDelay`; a daily quota stops the run cleanly."""
    error = (json_body(response) or {}).get("error") or {}
    delay: float | None = None
    daily = False
    for detail in error.get("details") or []:
        if "retryDelay" in detail:
            delay = _seconds(detail["retryDelay"])
        limit = str((detail.get("metadata") or {}).get("quota_limit", ""))
        daily = daily or "PerDay" in limit or "per day" in limit.lower()
        quota = (detail.get("details") or {}).get("quotaErrorDetails") or {}
        for inner in detail.get("errors") or []:
            quota = (inner.get("details") or {}).get("quotaErrorDetails") or quota
        if quota.get("retryDelay"):
            delay = _seconds(quota["retryDelay"])
    if delay is None:
        delay = parse_retry_after(response.headers.get("Retry-After"))
    if daily or (delay is not None and delay > 3600):
        message = (
            f"Google's daily quota is used up ({error.get('message', 'RESOURCE_EXHAUSTED')}); "
            "nothing unconfirmed was marked synced, so the next run resumes where this one "
            "stopped. Ask for a higher quota in the Google Cloud console (Data Manager) or the "
            "Google Ads API Center (developer token access level)"
        )
        if delay is None and daily:
            return QuotaExhausted(message, resets_at=next_pacific_midnight())
        return QuotaExhausted.after(message, delay)
    http.limiter.pause(delay if delay is not None else 1.0)
    http.metrics.add(throttled=1)
    return TransientError(
        f"Google quota exceeded (HTTP 429 RESOURCE_EXHAUSTED), retry in {delay or 1:g}s",
        retry_after=delay,
        throttled=True,
    )


def next_pacific_midnight(now: dt.datetime | None = None) -> dt.datetime:
    """When Google's per-day quotas reset: the next midnight, Pacific Time (aware UTC)."""
    pacific = zoneinfo.ZoneInfo("America/Los_Angeles")
    local = (now or dt.datetime.now(dt.UTC)).astimezone(pacific)
    midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), pacific)
    return midnight.astimezone(dt.UTC)


def _seconds(text: Any) -> float | None:
    match = re.fullmatch(r"\s*([0-9.]+)s\s*", str(text))
    return float(match.group(1)) if match else None


def _message(response: requests.Response) -> str:
    error = (json_body(response) or {}).get("error") or {}
    return str(error.get("message") or response.reason or response.status_code)
