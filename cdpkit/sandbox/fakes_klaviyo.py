"""A faithful fake of Klaviyo's profile bulk import and list APIs (api-contracts §5).

Checks (§5.4): `Authorization: Klaviyo-API-Key …` (401), a `revision: YYYY-MM-DD[.suffix]`
header (400), JSON:API shapes, ≤ 10,000 profiles and ≤ 5 MB per import, ≤ 100 KB per
profile, at least one identifier per profile (400 with `source.pointer`), ≤ 1,000 ids per
list-relationship call, unknown list 404. Content errors (a malformed email or phone) are
either accepted and reported asynchronously (`failed_count` + `/import-errors`, the default)
or refuse the whole request with the offending pointer (`invalid_mode: "reject"`). Import
jobs go `queued` → `processing` → `complete` on a timer and upsert profiles keyed on email,
phone number or external id. Rate limits are fixed windows per account and endpoint tier
(burst = 1 s, steady = 1 min), answered with the captured 429 `throttled` body and
`Retry-After`; other responses carry `RateLimit-Limit/Remaining/Reset`.

Control (`/_sandbox/klaviyo/...`): `GET lists`, `GET members?list=NAME` (sorted emails),
`GET profiles`, `GET stats`, `POST faults` with the common faults plus `invalid_mode`,
`processing_delay_s`, `tiers` ({tier: [burst, steady]}), `poison` ({attribute value: detail}:
that profile fails the import with that detail).
"""

from __future__ import annotations

import json
import re
import secrets
import string
import time
from dataclasses import dataclass, field
from typing import Any

from cdpkit.sandbox.fake import Fake, Request, Response
from cdpkit.sandbox.fakes_support import FixedWindow

MAX_PROFILES = 10_000
MAX_BODY = 5 * 1024 * 1024
MAX_PROFILE = 100 * 1024
MAX_RELATIONSHIPS = 1_000
MAX_FILTER_VALUES = 100
IDENTIFIERS = ("email", "phone_number", "external_id")
JSONAPI = "application/vnd.api+json"
_REVISION = re.compile(r"\d{4}-\d{2}-\d{2}(\.[a-z]+)?")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
_E164 = re.compile(r"\+[1-9]\d{6,14}")
TIERS = {"M": (10, 150), "L": (75, 700)}  # burst per second, steady per minute
ROUTE_TIERS = {"imports": "M", "relationships": "M", "lists": "M", "profiles": "L"}


def _id(alphabet: str, n: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def api_error(status: int, code: str, title: str, detail: str, pointer: str | None = None) -> dict:
    error: dict[str, Any] = {
        "id": secrets.token_hex(16),
        "status": status,
        "code": code,
        "title": title,
        "detail": detail,
        "meta": {},
    }
    if pointer is not None:
        error["source"] = {"pointer": pointer}
    return error


def errors(status: int, *items: dict, headers: dict[str, str] | None = None) -> Response:
    return Response(status, {"errors": list(items)}, {"Content-Type": JSONAPI, **(headers or {})})


def invalid(detail: str, pointer: str) -> Response:
    return errors(400, api_error(400, "invalid", "Invalid input.", detail, pointer))


@dataclass
class Profile:
    id: str
    attributes: dict[str, Any]


@dataclass
class ImportJob:
    id: str
    total: int
    lists: list[str]
    valid: list[dict[str, Any]]
    import_errors: list[dict[str, Any]]
    created: float
    status: str = "queued"
    profile_ids: list[str] = field(default_factory=list)


class KlaviyoFake(Fake):
    """In-memory Klaviyo (profiles, lists, bulk import jobs); see the module docstring."""

    name = "klaviyo"
    description = "Klaviyo: profile bulk import jobs and list membership"

    def __init__(
        self,
        *,
        keys: tuple[str, ...] = ("pk_sandbox_klaviyo",),
        tiers: dict[str, tuple[int, int]] | None = None,
        processing_delay_s: float = 0.05,
    ) -> None:
        super().__init__()
        self._initial_keys = set(keys)
        self._initial_tiers = dict(tiers or TIERS)
        self._initial_delay = processing_delay_s
        self._defaults()

    def _defaults(self) -> None:
        self.keys = set(self._initial_keys)
        self.invalid_mode = "async"
        self.processing_delay_s = self._initial_delay
        self.tiers: dict[str, tuple[int, int]] = dict(self._initial_tiers)
        self.windows: dict[str, tuple[FixedWindow, FixedWindow]] = {}
        self.profiles: dict[str, Profile] = {}
        self.index: dict[tuple[str, Any], str] = {}  # (identifier key, value) -> profile id
        self.lists: dict[str, dict[str, Any]] = {}  # id -> {"name", "members": set(profile ids)}
        self.jobs: dict[str, ImportJob] = {}
        self.requests: list[tuple[str, str]] = []
        self.throttled = 0
        self.profiles_received = 0
        self.poison: dict[str, str] = {}  # attribute value -> import error detail

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self._defaults()

    def control(self, request: Request) -> Response:
        if request.path.strip("/") == "faults" and request.method == "POST":
            settings = request.json() or {}
            with self.lock:
                if "invalid_mode" in settings:
                    self.invalid_mode = str(settings["invalid_mode"])
                if "processing_delay_s" in settings:
                    self.processing_delay_s = float(settings["processing_delay_s"])
                if "poison" in settings:
                    self.poison = dict(settings["poison"] or {})
                for tier, (burst, steady) in (settings.get("tiers") or {}).items():
                    self.tiers[tier] = (int(burst), int(steady))
                    self.windows.pop(tier, None)
        return super().control(request)

    def inspect(self, action: str, request: Request) -> Response:
        with self.lock:
            self._advance()
            if action == "lists":
                return Response(
                    200,
                    [
                        {"id": i, "name": v["name"], "size": len(v["members"])}
                        for i, v in self.lists.items()
                    ],
                )
            if action == "members":
                found = self.list_named(request.query.get("list", ""))
                if found is None:
                    return Response(404, {"error": "no such list"})
                return Response(200, sorted(self.emails(found)))
            if action == "profiles":
                return Response(200, {p.id: p.attributes for p in self.profiles.values()})
            if action == "stats":
                return Response(
                    200,
                    {
                        "requests": len(self.requests),
                        "throttled": self.throttled,
                        "profiles_received": self.profiles_received,
                    },
                )
        return super().inspect(action, request)

    # -- helpers for tests -----------------------------------------------------------------------
    def create_list(self, name: str) -> str:
        with self.lock:
            list_id = _id(string.ascii_letters + string.digits, 6)
            self.lists[list_id] = {"name": name, "members": set()}
            return list_id

    def list_named(self, name: str) -> str | None:
        return next((i for i, v in self.lists.items() if v["name"] == name), None)

    def emails(self, list_id: str) -> set[str]:
        with self.lock:
            self._advance()
            members = self.lists[list_id]["members"]
            return {str(self.profiles[p].attributes.get("email")) for p in members}

    # -- HTTP -------------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        with self.lock:
            self.requests.append((request.method, request.path))
        early = self.preflight(request)
        if early is not None:
            return early
        auth = request.headers.get("authorization") or ""
        if not auth.startswith("Klaviyo-API-Key ") or auth.split(" ", 1)[1] not in self.keys:
            return errors(
                401,
                api_error(
                    401,
                    "not_authenticated",
                    "Authentication credentials were not provided.",
                    "Missing or invalid private key.",
                    "/data/",
                ),
            )
        revision = request.headers.get("revision") or ""
        if not _REVISION.fullmatch(revision):
            return errors(
                400,
                api_error(
                    400,
                    "invalid",
                    "Invalid input.",
                    "The `revision` header is required, formatted YYYY-MM-DD.",
                ),
            )
        route, match = _route(request.method, request.path)
        if route is None:
            return errors(404, api_error(404, "not_found", "Not found.", "Unknown endpoint."))
        throttled = self._meter(ROUTE_TIERS[route.split(":")[0]])
        if throttled is not None:
            return throttled
        with self.lock:
            self._advance()
            response = self._dispatch(route, match, request)
        response.headers.update(self._rate_headers(ROUTE_TIERS[route.split(":")[0]]))
        return response

    def _dispatch(self, route: str, match: re.Match[str], request: Request) -> Response:
        if route == "imports:create":
            return self._import(request)
        if route == "imports:get":
            job = self.jobs.get(match.group(1))
            if job is None:
                return errors(404, api_error(404, "not_found", "Not found.", "No such job."))
            return Response(200, {"data": _job_resource(job)}, {"Content-Type": JSONAPI})
        if route == "imports:errors":
            return self._import_errors(match.group(1), request)
        if route == "relationships":
            return self._relationships(match.group(1), request)
        if route == "lists:get":
            return self._lists(request)
        if route == "lists:create":
            return self._create_list(request)
        if route == "profiles":
            return self._profiles(request)
        raise AssertionError(route)

    # -- rate limits ------------------------------------------------------------------------------
    def _meter(self, tier: str) -> Response | None:
        with self.lock:
            if tier not in self.windows:
                burst, steady = self.tiers[tier]
                self.windows[tier] = (FixedWindow(burst, 1.0), FixedWindow(steady, 60.0))
            windows = self.windows[tier]
        for window in windows:
            if not window.take():
                self.throttled += 1
                wait = max(1, round(window.reset_in() + 0.499))
                unit = "second" if wait == 1 else "seconds"
                return errors(
                    429,
                    {
                        **api_error(
                            429,
                            "throttled",
                            "Request was throttled.",
                            f"Request was throttled. Expected available in {wait} {unit}.",
                            "/data",
                        ),
                        "links": {
                            "type": "https://developers.klaviyo.com/en/docs/rate_limits_and_error_handling#rate-limits"
                        },
                    },
                    headers={"Retry-After": str(wait)},
                )
        return None

    def _rate_headers(self, tier: str) -> dict[str, str]:
        steady = self.windows[tier][1]
        return {
            "RateLimit-Limit": str(steady.limit),
            "RateLimit-Remaining": str(steady.remaining()),
            "RateLimit-Reset": str(max(0, round(steady.reset_in()))),
        }

    # -- bulk import ------------------------------------------------------------------------------
    def _import(self, request: Request) -> Response:
        if len(request.body) > MAX_BODY:
            return errors(
                413,
                api_error(
                    413,
                    "request_too_large",
                    "Request too large.",
                    "The request body is larger than 5 MB.",
                ),
            )
        try:
            body = request.json()
        except ValueError:
            return invalid("The request body is not valid JSON.", "/data")
        data = (body or {}).get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or data.get("type") != "profile-bulk-import-job":
            return invalid("`data.type` must be 'profile-bulk-import-job'.", "/data/type")
        profiles = ((data.get("attributes") or {}).get("profiles") or {}).get("data")
        if not isinstance(profiles, list) or not profiles:
            return invalid(
                "`profiles.data` must be a non-empty list.", "/data/attributes/profiles/data"
            )
        if len(profiles) > MAX_PROFILES:
            return invalid(
                f"At most {MAX_PROFILES} profiles per job.", "/data/attributes/profiles/data"
            )
        lists = [
            str(item.get("id"))
            for item in ((data.get("relationships") or {}).get("lists") or {}).get("data") or []
        ]
        for i, list_id in enumerate(lists):
            if list_id not in self.lists:
                return errors(
                    404,
                    api_error(
                        404,
                        "not_found",
                        "Not found.",
                        f"List {list_id} does not exist.",
                        f"/data/relationships/lists/data/{i}/id",
                    ),
                )
        self.profiles_received += len(profiles)
        valid: list[dict[str, Any]] = []
        failures: list[dict[str, Any]] = []
        for i, profile in enumerate(profiles):
            base = f"/data/attributes/profiles/data/{i}"
            if not isinstance(profile, dict) or profile.get("type") != "profile":
                return invalid("Each profile must be a `profile` resource.", f"{base}/type")
            attributes = profile.get("attributes") or {}
            if len(json.dumps(profile)) > MAX_PROFILE:
                return invalid("A profile may not exceed 100 KB.", base)
            if not any(attributes.get(k) for k in IDENTIFIERS):
                return invalid(
                    "One of `email`, `phone_number` or `external_id` is required.",
                    f"{base}/attributes",
                )
            problem = _content_problem(attributes, base)
            poisoned = next((str(v) for v in attributes.values() if str(v) in self.poison), None)
            if problem is None and poisoned is not None:
                problem = (f"{base}/attributes", self.poison[poisoned])
            if problem is None:
                valid.append(attributes)
                continue
            if self.invalid_mode == "reject":
                return invalid(problem[1], problem[0])
            failures.append(
                {"pointer": problem[0], "detail": problem[1], "original_payload": attributes}
            )
        job = ImportJob(
            _id(string.ascii_letters + string.digits, 26),
            len(profiles),
            lists,
            valid,
            failures,
            time.time(),
        )
        self.jobs[job.id] = job
        return Response(202, {"data": _job_resource(job)}, {"Content-Type": JSONAPI})

    def _advance(self) -> None:
        now = time.time()
        for job in self.jobs.values():
            if job.status == "complete":
                continue
            elapsed = now - job.created
            if elapsed >= 2 * self.processing_delay_s:
                for attributes in job.valid:
                    profile = self._upsert(attributes)
                    job.profile_ids.append(profile.id)
                    for list_id in job.lists:
                        if list_id in self.lists:
                            self.lists[list_id]["members"].add(profile.id)
                job.status = "complete"
            elif elapsed >= self.processing_delay_s:
                job.status = "processing"

    def _upsert(self, attributes: dict[str, Any]) -> Profile:
        found = None
        for key in IDENTIFIERS:
            value = attributes.get(key)
            if value and (key, value) in self.index:
                found = self.profiles[self.index[(key, value)]]
                break
        if found is None:
            found = Profile("01" + _id(string.ascii_uppercase + string.digits, 24), {})
            self.profiles[found.id] = found
        merged = {k: v for k, v in attributes.items() if k != "properties"}
        found.attributes.update(merged)
        for key in IDENTIFIERS:
            if found.attributes.get(key):
                self.index[(key, found.attributes[key])] = found.id
        if attributes.get("properties"):
            found.attributes.setdefault("properties", {}).update(attributes["properties"])
        return found

    def _import_errors(self, job_id: str, request: Request) -> Response:
        job = self.jobs.get(job_id)
        if job is None:
            return errors(404, api_error(404, "not_found", "Not found.", "No such job."))
        size = max(1, min(int(request.query.get("page[size]", 20)), 100))
        start = int(request.query.get("page[cursor]", 0) or 0)
        page = job.import_errors[start : start + size] if job.status == "complete" else []
        data = [
            {
                "type": "import-error",
                "id": f"{job.id}-{start + n}",
                "attributes": {
                    "code": "invalid",
                    "title": "Invalid input.",
                    "detail": item["detail"],
                    "source": {"pointer": item["pointer"]},
                    "original_payload": item["original_payload"],
                },
            }
            for n, item in enumerate(page)
        ]
        more = job.status == "complete" and start + size < len(job.import_errors)
        host = request.headers.get("host", "127.0.0.1")
        next_url = (
            f"http://{host}/klaviyo/api/profile-bulk-import-jobs/{job.id}/import-errors"
            f"?page[size]={size}&page[cursor]={start + size}"
            if more
            else None
        )
        return Response(200, {"data": data, "links": {"next": next_url}}, {"Content-Type": JSONAPI})

    # -- lists and profiles -----------------------------------------------------------------------
    def _relationships(self, list_id: str, request: Request) -> Response:
        if list_id not in self.lists:
            return errors(
                404, api_error(404, "not_found", "Not found.", f"List {list_id} does not exist.")
            )
        try:
            data = (request.json() or {}).get("data")
        except ValueError:
            return invalid("The request body is not valid JSON.", "/data")
        if not isinstance(data, list) or not data:
            return invalid("`data` must be a non-empty list.", "/data")
        if len(data) > MAX_RELATIONSHIPS:
            return invalid(f"At most {MAX_RELATIONSHIPS} profiles per request.", "/data")
        ids = []
        for i, item in enumerate(data):
            if not isinstance(item, dict) or item.get("type") != "profile":
                return invalid(
                    "Each item must be a `profile` resource identifier.", f"/data/{i}/type"
                )
            if item.get("id") not in self.profiles:
                return invalid(f"Profile {item.get('id')} does not exist.", f"/data/{i}/id")
            ids.append(item["id"])
        members = self.lists[list_id]["members"]
        if request.method == "POST":
            members.update(ids)
        else:
            members.difference_update(ids)
        return Response(204, None)

    def _lists(self, request: Request) -> Response:
        wanted = _equals_filter(request.query.get("filter", ""), "name")
        rows = [
            {"type": "list", "id": i, "attributes": {"name": v["name"]}}
            for i, v in self.lists.items()
            if wanted is None or v["name"] == wanted
        ]
        return Response(200, {"data": rows, "links": {"next": None}}, {"Content-Type": JSONAPI})

    def _create_list(self, request: Request) -> Response:
        try:
            data = (request.json() or {}).get("data") or {}
        except ValueError:
            return invalid("The request body is not valid JSON.", "/data")
        name = (data.get("attributes") or {}).get("name")
        if data.get("type") != "list" or not name:
            return invalid("A list needs `type: list` and a name.", "/data/attributes/name")
        list_id = self.create_list(str(name))
        return Response(
            201,
            {"data": {"type": "list", "id": list_id, "attributes": {"name": name}}},
            {"Content-Type": JSONAPI},
        )

    def _profiles(self, request: Request) -> Response:
        text = request.query.get("filter", "")
        match = re.fullmatch(r"any\((email|phone_number|external_id),(\[.*\])\)", text)
        if not match:
            return errors(
                400,
                api_error(400, "invalid", "Invalid input.", f"Unsupported filter {text!r}", None)
                | {"source": {"parameter": "filter"}},
            )
        try:
            values = json.loads(match.group(2))
        except ValueError:
            return errors(
                400,
                api_error(400, "invalid", "Invalid input.", "Malformed filter list.")
                | {"source": {"parameter": "filter"}},
            )
        if not isinstance(values, list) or len(values) > MAX_FILTER_VALUES:
            return errors(
                400,
                api_error(
                    400,
                    "invalid",
                    "Invalid input.",
                    f"`any` takes at most {MAX_FILTER_VALUES} values.",
                )
                | {"source": {"parameter": "filter"}},
            )
        key = match.group(1)
        ids = dict.fromkeys(self.index[(key, v)] for v in values if (key, v) in self.index)
        rows = [
            {"type": "profile", "id": i, "attributes": self.profiles[i].attributes} for i in ids
        ]
        return Response(200, {"data": rows, "links": {"next": None}}, {"Content-Type": JSONAPI})


def _route(method: str, path: str) -> tuple[str | None, re.Match[str]]:
    path = path.rstrip("/")
    table = [
        ("POST", r"/api/profile-bulk-import-jobs", "imports:create"),
        ("GET", r"/api/profile-bulk-import-jobs/([A-Za-z0-9]+)", "imports:get"),
        ("GET", r"/api/profile-bulk-import-jobs/([A-Za-z0-9]+)/import-errors", "imports:errors"),
        ("POST", r"/api/lists/([A-Za-z0-9]+)/relationships/profiles", "relationships"),
        ("DELETE", r"/api/lists/([A-Za-z0-9]+)/relationships/profiles", "relationships"),
        ("GET", r"/api/lists", "lists:get"),
        ("POST", r"/api/lists", "lists:create"),
        ("GET", r"/api/profiles", "profiles"),
    ]
    for verb, pattern, name in table:
        match = re.fullmatch(pattern, path)
        if verb == method and match:
            return name, match
    return None, re.match("", "")  # type: ignore[return-value]


def _equals_filter(text: str, key: str) -> str | None:
    match = re.fullmatch(rf'equals\({key},"((?:[^"\\]|\\.)*)"\)', text)
    return json.loads(f'"{match.group(1)}"') if match else None


def _content_problem(attributes: dict[str, Any], base: str) -> tuple[str, str] | None:
    email = attributes.get("email")
    if email is not None and not _EMAIL.fullmatch(str(email)):
        return f"{base}/attributes/email", f"Invalid email address: {email}"
    phone = attributes.get("phone_number")
    if phone is not None and not _E164.fullmatch(str(phone)):
        return f"{base}/attributes/phone_number", f"Invalid phone number format: {phone}"
    return None


def _job_resource(job: ImportJob) -> dict[str, Any]:
    done = job.status == "complete"
    return {
        "type": "profile-bulk-import-job",
        "id": job.id,
        "attributes": {
            "status": job.status,
            "created_at": _iso(job.created),
            "total_count": job.total,
            "completed_count": len(job.valid) if done else 0,
            "failed_count": len(job.import_errors) if done else 0,
            "completed_at": _iso(time.time()) if done else None,
            "expires_at": _iso(job.created + 7 * 86_400),
            "started_at": _iso(job.created),
        },
        "relationships": {
            "lists": {"data": [{"type": "list", "id": i} for i in job.lists]},
        },
        "links": {"self": f"/api/profile-bulk-import-jobs/{job.id}/"},
    }


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(epoch))
