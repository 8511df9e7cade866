"""A faithful fake of Google Customer Match: one set of customers and customer lists behind
the Data Manager API (`fakes_google_dm`), the Google Ads API job flow (`fakes_google_ads`)
and the OAuth token endpoint (`POST /token`, refresh-token grant), on one base URL.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cdpkit.sandbox.fake import Fake, Request, Response
from cdpkit.sandbox.fakes_support import FixedWindow, People
from cdpkit.sandbox.fakes_support import form as form_fields

DM_DOMAIN = "datamanager.googleapis.com"
_STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED"}


class GoogleError(Exception):
    """A google.rpc.Status error response."""

    def __init__(self, status: int, message: str, details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status, self.message, self.details = status, message, details or []

    def response(self) -> Response:
        name = _STATUS_NAMES.get(self.status, "RESOURCE_EXHAUSTED" if self.status == 429 else "")
        error: dict[str, Any] = {"code": self.status, "message": self.message, "status": name}
        if self.details:
            error["details"] = self.details
        return Response(self.status, {"error": error})


def error_info(reason: str, domain: str = DM_DOMAIN, **metadata: str) -> dict[str, Any]:
    info: dict[str, Any] = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason}
    info["domain"] = domain
    if metadata:
        info["metadata"] = metadata
    return info


def unauthenticated() -> GoogleError:
    return GoogleError(
        401,
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
        "cookie or other valid authentication credential. See "
        "https://developers.google.com/identity/sign-in/web/devconsole-project.",
        [error_info("ACCESS_TOKEN_TYPE_UNSUPPORTED", "googleapis.com")],
    )


@dataclass
class UserList:
    id: str
    customer: str
    name: str
    upload_key_type: str = "CONTACT_INFO"
    members: People = field(default_factory=People)

    @property
    def resource_name(self) -> str:
        return f"customers/{self.customer}/userLists/{self.id}"


@dataclass
class Customer:
    id: str
    manager: str | None = None  # reachable only through this manager (login-customer-id)
    allowlisted: bool = True  # Google Ads API Customer Match allowed (the April 2026 cut-off)
    terms_accepted: bool = True


class GoogleFake(Fake):
    """In-memory Google Customer Match (Data Manager + Google Ads API + OAuth).

    Control (`/_sandbox/google/...`): `GET lists`, `GET members?list=NAME` (identifier kind ->
    sorted values), `GET jobs`, `GET stats`, `POST faults` with the common faults plus
    `per_minute`, `per_day`, `job_run_delay_s`, `allowlisted` ({customer: bool}),
    `operations_per_minute` (Google Ads API), `fail_next_run`, `poison` ({hash: reason}: a
    Data Manager member holding that value fails the request as INVALID_AUDIENCE_MEMBER).
    """

    name = "google"
    description = "Google Customer Match: Data Manager API, Google Ads API jobs, OAuth"

    def __init__(
        self,
        *,
        customers: Iterable[Customer] = (Customer("1234567890"),),
        tokens: Iterable[str] = ("sandbox-google-token",),
        developer_tokens: Iterable[str] = ("sandbox-dev-token",),
        refresh_tokens: Iterable[str] = ("sandbox-refresh-token",),
        client: tuple[str, str] = ("sandbox-client-id", "sandbox-client-secret"),
        per_minute: int | None = 300,
        per_day: int | None = 100_000,
        minute_s: float = 60.0,
        job_run_delay_s: float = 0.2,
    ) -> None:
        super().__init__()
        self._initial: dict[str, Any] = {
            "customers": [dataclasses.replace(c) for c in customers],
            "tokens": set(tokens),
            "per_minute": per_minute,
            "per_day": per_day,
            "minute_s": minute_s,
            "job_run_delay_s": job_run_delay_s,
        }
        self.developer_tokens = set(developer_tokens)
        self.refresh_tokens = set(refresh_tokens)
        self.client = client
        self._ids = itertools.count(9_000_000_001)
        self._defaults()

    def _defaults(self) -> None:
        from cdpkit.sandbox.fakes_google_ads import AdsJobs
        from cdpkit.sandbox.fakes_google_dm import DataManager

        initial = self._initial
        self.customers = {c.id: dataclasses.replace(c) for c in initial["customers"]}
        self.tokens: set[str] = set(initial["tokens"])
        self.minute = FixedWindow(initial["per_minute"], initial["minute_s"])
        self.day = FixedWindow(initial["per_day"], 86_400.0)
        self.lists: dict[str, UserList] = {}
        self.requests: list[tuple[str, str]] = []
        self.consent_denied = 0
        self.members_received = 0
        self.poison: dict[str, str] = {}  # identifier value (a hash) -> why its member is refused
        self.jobs = AdsJobs(self, run_delay_s=initial["job_run_delay_s"])
        self.data_manager = DataManager(self)

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self._defaults()

    def control(self, request: Request) -> Response:
        if request.path.strip("/") == "faults" and request.method == "POST":
            settings = request.json() or {}
            with self.lock:
                if "per_minute" in settings:
                    self.minute = FixedWindow(settings["per_minute"], self.minute.window_s)
                if "per_day" in settings:
                    self.day = FixedWindow(settings["per_day"], 86_400.0)
                if "operations_per_minute" in settings:
                    self.jobs.operations_budget = FixedWindow(
                        settings["operations_per_minute"], 60.0
                    )
                if "job_run_delay_s" in settings:
                    self.jobs.run_delay_s = float(settings["job_run_delay_s"])
                if "fail_next_run" in settings:
                    self.jobs.fail_next_run = bool(settings["fail_next_run"])
                if "poison" in settings:
                    self.poison = dict(settings["poison"] or {})
                for cid, allowed in (settings.get("allowlisted") or {}).items():
                    self.customers[str(cid)].allowlisted = bool(allowed)
        return super().control(request)

    def inspect(self, action: str, request: Request) -> Response:
        with self.lock:
            self.jobs.settle()
            if action == "lists":
                return Response(
                    200,
                    [
                        {
                            "id": ul.id,
                            "customer": ul.customer,
                            "name": ul.name,
                            "size": len(ul.members),
                        }
                        for ul in self.lists.values()
                    ],
                )
            if action == "members":
                user_list = self.list_named(request.query.get("list", ""))
                if user_list is None:
                    return Response(404, {"error": "no such list"})
                people = user_list.members.persons()
                kinds = sorted({k for person in people for k, _ in person})
                return Response(
                    200, {k: sorted(map(str, user_list.members.values(k))) for k in kinds}
                )
            if action == "jobs":
                return Response(200, [job.resource() for job in self.jobs.jobs.values()])
            if action == "stats":
                return Response(
                    200,
                    {
                        "requests": len(self.requests),
                        "concurrent_runs": self.jobs.concurrent_runs,
                        "consent_denied": self.consent_denied,
                        "members_received": self.members_received,
                    },
                )
        return super().inspect(action, request)

    # -- test helpers ------------------------------------------------------------------------
    def create_list(
        self, customer: str, name: str, upload_key_type: str = "CONTACT_INFO"
    ) -> UserList:
        with self.lock:
            if any(ul.customer == customer and ul.name == name for ul in self.lists.values()):
                raise ValueError(f"user list '{name}' exists")
            user_list = UserList(str(next(self._ids)), customer, name, upload_key_type)
            self.lists[user_list.id] = user_list
            return user_list

    def list_named(self, name: str) -> UserList | None:
        return next((ul for ul in self.lists.values() if ul.name == name), None)

    # -- HTTP ----------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        with self.lock:
            self.requests.append((request.method, request.path))
        early = self.preflight(request)
        if early is not None:
            return early
        try:
            if request.path == "/token" and request.method == "POST":
                return self._token(request)
            if request.path.startswith("/v1/audienceMembers:") and request.method == "POST":
                return self.data_manager.handle(request, request.path.rsplit(":", 1)[1])
            if re.match(r"/v\d+/customers/", request.path):
                return self.jobs.handle(request)
            raise GoogleError(404, f"Method not found: {request.method} {request.path}")
        except GoogleError as error:
            return error.response()

    def bearer(self, request: Request) -> str:
        auth = request.headers.get("authorization") or ""
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if token not in self.tokens:
            raise unauthenticated()
        return token

    def _token(self, request: Request) -> Response:
        form = form_fields(request)
        if form.get("grant_type") != "refresh_token":
            return Response(400, {"error": "unsupported_grant_type"})
        if (form.get("client_id"), form.get("client_secret")) != self.client:
            return Response(
                401,
                {"error": "invalid_client", "error_description": "The OAuth client was not found."},
            )
        if form.get("refresh_token") not in self.refresh_tokens:
            return Response(
                400,
                {
                    "error": "invalid_grant",
                    "error_description": "Token has been expired or revoked.",
                },
            )
        token = f"ya29.sandbox-{secrets.token_urlsafe(16)}"
        with self.lock:
            self.tokens.add(token)
        return Response(
            200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer", "scope": ""}
        )
