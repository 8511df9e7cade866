"""OAuth access tokens for Google APIs: a fixed token, or one refreshed from a refresh token.

Refreshed tokens are cached until a minute before they expire; `invalidate()` after a 401
forces the next call to refresh. Token values are registered for log redaction.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from cdpkit.destinations.audience_support import json_body
from cdpkit.destinations.errors import TerminalError, TransientError
from cdpkit.sync import redact
from cdpkit.sync.envref import EnvSecret, EnvText
from cdpkit.sync.http import HttpClient

EARLY_REFRESH_S = 60.0


@dataclass(frozen=True)
class OAuthSettings:
    """Where a token comes from: `access_token`, or the refresh-token grant at `token_url`."""

    access_token: EnvSecret | None
    refresh_token: EnvSecret | None
    client_id: EnvText | None
    client_secret: EnvSecret | None
    token_url: EnvText


class TokenExpired(TransientError):
    """Google refused the access token; the next attempt refreshes it."""

    def __init__(self) -> None:
        super().__init__("Google rejected the access token; refreshing it")


class TokenSource:
    """Hands out a valid bearer token, refreshing it when needed (thread-safe)."""

    def __init__(self, settings: OAuthSettings, http: HttpClient) -> None:
        self.settings = settings
        self.http = http
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires = 0.0
        self.refreshes = 0

    @property
    def can_refresh(self) -> bool:
        return self.settings.refresh_token is not None

    def token(self) -> str:
        with self._lock:
            if self.settings.refresh_token is None:
                if self.settings.access_token is None:
                    raise TerminalError("set access_token or refresh_token/client_id/client_secret")
                return self.settings.access_token.reveal()
            if self._token is None or time.monotonic() > self._expires - EARLY_REFRESH_S:
                self._refresh()
            assert self._token is not None
            return self._token

    def invalidate(self) -> None:
        with self._lock:
            self._token = None

    def _refresh(self) -> None:
        s = self.settings
        if s.client_id is None or s.client_secret is None or s.refresh_token is None:
            raise TerminalError("a refresh_token needs client_id and client_secret")
        response = self.http.request(
            "POST",
            s.token_url.resolve(),
            data=_form(
                grant_type="refresh_token",
                client_id=s.client_id.resolve(),
                client_secret=s.client_secret.reveal(),
                refresh_token=s.refresh_token.reveal(),
            ),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            classify=False,
        )
        body = json_body(response) or {}
        if response.status_code >= 500 or response.status_code == 429:
            self.http.classify(response)
        if response.status_code != 200 or "access_token" not in body:
            reason = body.get("error_description") or body.get("error") or response.status_code
            raise TerminalError(
                f"Google refused to refresh the OAuth token ({reason}); create a new refresh "
                f"token for this OAuth client and put it in {s.refresh_token}"
            )
        token = str(body["access_token"])
        redact.register(token)
        self._token = token
        self._expires = time.monotonic() + float(body.get("expires_in") or 3600)
        self.refreshes += 1


def _form(**fields: str) -> bytes:
    from urllib.parse import urlencode

    return urlencode(fields).encode()
