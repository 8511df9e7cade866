"""A faithful fake of Meta's Marketing API for customer-file Custom Audiences (api-contracts §3).

Checks what production checks (§3.5): the access token (code 190), the ad account and the
audience (missing 100/33, deleted 2650/1487366, flagged 100/1713230), `payload` as a form
field or JSON body, the schema, row length == schema length, ≤ 10,000 rows, per-row hash
format (counted in `num_invalid_entries` with samples), sessions (`usersreplace` needs one,
`batch_seq` increasing, swap on `last_batch_flag`), set semantics, and a per-ad-account call
budget answered with throttle code 80003 (or 17/613/4) plus `X-Business-Use-Case-Usage`.

Members are modelled as people: a row joins the person who shares any (key, hash) with it,
as Meta matches on any key; removing a row removes the people it matches.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cdpkit.sandbox import fakes_meta_payload as wire
from cdpkit.sandbox.fake import Fake, Request, Response
from cdpkit.sandbox.fakes_support import FixedWindow, People, settings_update

STRONG_KEYS = frozenset({"EMAIL", "PHONE", "EXTERN_ID", "MADID"})
FILE_SOURCES = frozenset(
    {"USER_PROVIDED_ONLY", "PARTNER_PROVIDED_ONLY", "BOTH_USER_AND_PARTNER_PROVIDED"}
)
_VERSION = r"v\d+\.\d+"
_ROUTES = {
    "account": re.compile(rf"/{_VERSION}/(act_\d+)"),
    "audiences": re.compile(rf"/{_VERSION}/(act_\d+)/customaudiences"),
    "audience": re.compile(rf"/{_VERSION}/(\d+)"),
    "users": re.compile(rf"/{_VERSION}/(\d+)/users"),
    "replace": re.compile(rf"/{_VERSION}/(\d+)/usersreplace"),
}
THROTTLE_ERRORS = {
    4: (None, "(#4) Application request limit reached"),
    17: (2446079, "(#17) User request limit reached"),
    613: (
        1487742,
        "(#613) There have been too many calls from this ad-account. "
        "Please wait a bit and try again.",
    ),
    80003: (
        None,
        "(#80003) There have been too many calls to this ad-account. Wait a bit and try again. "
        "For more info, please refer to "
        "https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
    ),
}


@dataclass
class ReplaceSession:
    session_id: int
    last_seq: int
    started: float
    staged: People = field(default_factory=lambda: People(STRONG_KEYS))


@dataclass
class Audience:
    id: str
    account: str
    name: str
    description: str
    file_source: str
    members: People = field(default_factory=lambda: People(STRONG_KEYS))
    deleted: bool = False
    flagged: bool = False
    replace: ReplaceSession | None = None
    sessions: dict[int, dict[str, Any]] = field(default_factory=dict)


class MetaFake(Fake):
    """In-memory Meta Graph API for Custom Audiences; see the module docstring.

    Control (`/_sandbox/meta/...`): `GET audiences` (id, name, size), `GET members?audience=NAME`
    (key -> sorted values), `GET stats`, `POST faults` with the common faults plus
    `calls_per_window`, `window_s`, `throttle_code`, `expired_tokens`, `replace_timeout_s`,
    `poison` ({hash: reason}: rows holding that value are counted invalid with that reason).
    """

    name = "meta"
    description = "Meta Marketing API: customer-file Custom Audiences"
    SETTINGS = ("calls_per_window", "window_s", "throttle_code", "replace_timeout_s")

    def __init__(
        self,
        *,
        tokens: Iterable[str] = ("sandbox-meta-token",),
        ad_accounts: Iterable[str] = ("act_1000000001",),
        business_id: str = "2000000001",
        calls_per_window: int | None = None,
        window_s: float = 60.0,
        throttle_code: int = 80003,
        replace_timeout_s: float = 90 * 60,
    ) -> None:
        super().__init__()
        self._initial = {
            "tokens": set(tokens),
            "accounts": set(ad_accounts),
            "calls_per_window": calls_per_window,
            "window_s": window_s,
            "throttle_code": throttle_code,
            "replace_timeout_s": replace_timeout_s,
        }
        self.business_id = business_id
        self._ids = itertools.count(23850000000000001)
        self._defaults()

    def _defaults(self) -> None:
        initial = self._initial
        self.tokens: set[str] = set(initial["tokens"])
        self.expired_tokens: set[str] = set()
        self.accounts: set[str] = set(initial["accounts"])
        self.calls_per_window = initial["calls_per_window"]
        self.window_s = initial["window_s"]
        self.throttle_code = initial["throttle_code"]
        self.replace_timeout_s = initial["replace_timeout_s"]
        self.budget: dict[str, FixedWindow] = {}
        self.audiences: dict[str, Audience] = {}
        self.requests: list[tuple[str, str]] = []
        self.throttled = 0
        self.rows_received = 0
        self.poison: dict[str, str] = {}  # value (a hash) -> why Meta counts its row invalid

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self._defaults()

    def control(self, request: Request) -> Response:
        if request.path.strip("/") == "faults" and request.method == "POST":
            settings = request.json() or {}
            with self.lock:
                settings_update(self, settings, self.SETTINGS)
                if "expired_tokens" in settings:
                    self.expired_tokens = set(settings["expired_tokens"])
                if "poison" in settings:
                    self.poison = dict(settings["poison"] or {})
                self.budget.clear()
        return super().control(request)

    def inspect(self, action: str, request: Request) -> Response:
        with self.lock:
            if action == "audiences":
                return Response(
                    200,
                    [
                        {"id": a.id, "name": a.name, "size": len(a.members), "deleted": a.deleted}
                        for a in self.audiences.values()
                    ],
                )
            if action == "members":
                audience = self.audience_named(request.query.get("audience", ""))
                if audience is None:
                    return Response(404, {"error": "no such audience"})
                keys = sorted({k for person in audience.members.persons() for k, _ in person})
                return Response(200, {k: sorted(audience.members.values(k)) for k in keys})
            if action == "stats":
                return Response(
                    200,
                    {
                        "requests": len(self.requests),
                        "throttled": self.throttled,
                        "rows_received": self.rows_received,
                    },
                )
        return super().inspect(action, request)

    # -- test helpers ------------------------------------------------------------------------
    def audience_named(self, name: str) -> Audience | None:
        return next((a for a in self.audiences.values() if a.name == name and not a.deleted), None)

    def create_audience(self, account: str, name: str) -> Audience:
        with self.lock:
            audience = Audience(str(next(self._ids)), account, name, "", "USER_PROVIDED_ONLY")
            self.audiences[audience.id] = audience
            return audience

    # -- HTTP ----------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        with self.lock:
            self.requests.append((request.method, request.path))
        early = self.preflight(request)
        if early is not None:
            return early
        try:
            params = wire.params(request)
            self._authenticate(request, params)
            return self._route(request, params)
        except wire.GraphError as error:
            return error.response()

    def _route(self, request: Request, params: dict[str, Any]) -> Response:
        method, path = request.method, request.path
        if match := _ROUTES["audiences"].fullmatch(path):
            account = self._account(match.group(1))
            self._spend(account)
            if method == "GET":
                return self._list(request, account, params)
            if method == "POST":
                return self._create(account, params)
        elif match := _ROUTES["users"].fullmatch(path):
            audience = self._audience(match.group(1))
            self._spend(audience.account)
            if method in ("POST", "DELETE"):
                return self._users(audience, params, remove=method == "DELETE")
        elif match := _ROUTES["replace"].fullmatch(path):
            audience = self._audience(match.group(1))
            self._spend(audience.account)
            if method == "POST":
                return self._replace(audience, params)
        elif match := _ROUTES["account"].fullmatch(path):
            account = self._account(match.group(1))
            if method == "GET":
                return Response(200, {"id": account, "name": f"Sandbox {account}"})
        elif match := _ROUTES["audience"].fullmatch(path):
            audience = self._audience(match.group(1))
            if method == "GET":
                size = len(audience.members)
                return Response(
                    200,
                    {
                        "id": audience.id,
                        "name": audience.name,
                        "approximate_count_lower_bound": size,
                        "approximate_count_upper_bound": size,
                    },
                )
        raise wire.GraphError(
            100,
            f"Unsupported {method.lower()} request.",
            subcode=33,
            kind="GraphMethodException",
        )

    # -- checks ---------------------------------------------------------------------------------
    def _authenticate(self, request: Request, params: dict[str, Any]) -> None:
        token = params.get("access_token")
        auth = request.headers.get("authorization") or ""
        if token is None and auth.lower().startswith("bearer "):
            token = auth[7:].strip()
        if token in self.expired_tokens:
            raise wire.GraphError(
                190,
                "Error validating access token: Session has expired on Tuesday, 01-Sep-26 "
                "10:00:00 PDT. The current time is Wednesday, 02-Sep-26 10:00:00 PDT.",
                subcode=463,
            )
        if not token:
            raise wire.GraphError(2500, "An active access token must be used to query information.")
        if token not in self.tokens:
            raise wire.GraphError(190, "Invalid OAuth access token - Cannot parse access token")

    def _account(self, account: str) -> str:
        if account not in self.accounts:
            raise wire.GraphError(
                100,
                f"Unsupported get request. Object with ID '{account}' does not exist, cannot be "
                "loaded due to missing permissions, or does not support this operation.",
                subcode=33,
                kind="GraphMethodException",
            )
        return account

    def _audience(self, audience_id: str) -> Audience:
        audience = self.audiences.get(audience_id)
        if audience is None:
            raise wire.GraphError(
                100,
                f"Unsupported post request. Object with ID '{audience_id}' does not exist, "
                "cannot be loaded due to missing permissions, or does not support this operation.",
                subcode=33,
                kind="GraphMethodException",
            )
        if audience.deleted:
            raise wire.GraphError(
                2650,
                "Custom Audience Deleted: this audience was deleted and cannot be updated.",
                subcode=1487366,
                title="Custom Audience Deleted",
            )
        if audience.flagged:
            raise wire.GraphError(
                100,
                "Invalid parameter",
                subcode=1713230,
                title="Audience Upload Blocked",
            )
        return audience

    def _spend(self, account: str) -> None:
        window = self.budget.get(account)
        if window is None:
            window = self.budget[account] = FixedWindow(self.calls_per_window, self.window_s)
        if not window.take():
            self.throttled += 1
            subcode, message = THROTTLE_ERRORS[self.throttle_code]
            raise wire.GraphError(
                self.throttle_code,
                message,
                subcode=subcode,
                transient=True,
                headers={"X-Business-Use-Case-Usage": self._usage_header(window)},
            )

    def _usage_header(self, window: FixedWindow) -> str:
        limit = window.limit or 0
        used = limit - (window.remaining() or 0) if limit else 0
        percent = min(100, math.ceil(100 * used / limit)) if limit else 0
        regain = int(window.reset_in() // 60) if limit and used >= limit else 0
        entry = {
            "type": "custom_audience",
            "call_count": percent,
            "total_cputime": 0,
            "total_time": 0,
            "estimated_time_to_regain_access": regain,
        }
        return json.dumps({self.business_id: [entry]})

    # -- endpoints ------------------------------------------------------------------------------
    def _list(self, request: Request, account: str, params: dict[str, Any]) -> Response:
        limit = max(1, min(int(params.get("limit") or 25), 500))
        start = int(params.get("after") or 0)
        mine = sorted(
            (a for a in self.audiences.values() if a.account == account and not a.deleted),
            key=lambda a: a.id,
        )
        page = mine[start : start + limit]
        body: dict[str, Any] = {"data": [{"id": a.id, "name": a.name} for a in page]}
        if page:
            body["paging"] = {"cursors": {"before": str(start), "after": str(start + len(page))}}
            if start + len(page) < len(mine):
                host = request.headers.get("host") or "127.0.0.1"
                body["paging"]["next"] = (
                    f"http://{host}{request.path}?fields=id,name&limit={limit}"
                    f"&after={start + len(page)}"
                )
        return Response(200, body)

    def _create(self, account: str, params: dict[str, Any]) -> Response:
        name = params.get("name")
        if not name:
            raise wire.bad_input("The parameter name is required")
        if params.get("subtype", "CUSTOM") != "CUSTOM":
            raise wire.bad_input("Invalid parameter: only subtype CUSTOM is supported here")
        source = params.get("customer_file_source")
        if source not in FILE_SOURCES:
            raise wire.bad_input(
                "Invalid parameter: customer_file_source must be one of "
                + ", ".join(sorted(FILE_SOURCES))
            )
        with self.lock:
            audience = Audience(
                str(next(self._ids)),
                account,
                str(name),
                str(params.get("description") or ""),
                source,
            )
            self.audiences[audience.id] = audience
        return Response(200, {"id": audience.id})

    def _users(self, audience: Audience, params: dict[str, Any], *, remove: bool) -> Response:
        keys, data = wire.payload(params)
        session = wire.session(params.get("session"), required=False)
        with self.lock:
            if audience.replace is not None and not self._replace_expired(audience):
                raise wire.GraphError(
                    2650,
                    "Failed to update the custom audience: a replace session is in progress "
                    "for this audience.",
                    subcode=1870145,
                    title="Replace In Progress",
                )
            rows, invalid, samples = wire.validate_rows(keys, data, self.poison)
            self.rows_received += len(data)
            for pairs in rows:
                if remove:
                    audience.members.remove(pairs)
                else:
                    audience.members.add(pairs)
            session_id = session["session_id"] if session else secrets.randbits(62)
            if session:
                audience.sessions[session_id] = dict(session)
        return Response(200, wire.result(audience.id, session_id, len(data), invalid, samples))

    def _replace(self, audience: Audience, params: dict[str, Any]) -> Response:
        session = wire.session(params.get("session"), required=True)
        assert session is not None
        keys, data = wire.payload(params, allow_empty=bool(session.get("last_batch_flag")))
        with self.lock:
            current = audience.replace
            if current is not None and self._replace_expired(audience):
                current = audience.replace = None
            sid, seq = session["session_id"], session["batch_seq"]
            if current is None:
                current = audience.replace = ReplaceSession(sid, 0, time.time())
            elif current.session_id != sid:
                raise wire.GraphError(
                    2650,
                    "Failed to update the custom audience: another replace session is in "
                    "progress for this audience.",
                    subcode=1870145,
                    title="Replace In Progress",
                )
            if seq <= current.last_seq:
                raise wire.bad_input(f"batch_seq must increase within a session (got {seq})")
            current.last_seq = seq
            rows, invalid, samples = wire.validate_rows(keys, data, self.poison)
            self.rows_received += len(data)
            for pairs in rows:
                current.staged.add(pairs)
            if session.get("last_batch_flag"):
                audience.members = current.staged
                audience.replace = None
        return Response(200, wire.result(audience.id, sid, len(data), invalid, samples))

    def _replace_expired(self, audience: Audience) -> bool:
        session = audience.replace
        if session is not None and time.time() - session.started > self.replace_timeout_s:
            audience.replace = None
            return True
        return False
