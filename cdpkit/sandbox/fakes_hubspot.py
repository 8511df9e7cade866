"""A faithful fake of HubSpot's CRM v3 contacts, properties and lists APIs (api-contracts §1).

Served by `cdpkit sandbox` under `/hubspot` (connector `base_url: http://127.0.0.1:PORT/hubspot`).
Enforces §1.5: bearer token (401 INVALID_AUTHENTICATION) and scopes (403 MISSING_SCOPES);
≤ 100 inputs per batch; duplicate ids in a batch -> the exact 400 duplicate body, nothing
written; unknown / read-only properties and invalid values -> 400 VALIDATION_ERROR for the
whole batch ("Property values were not valid: [...]"), or 207 multi-status when
`multi_status` is on; upsert creates (new: true) or updates (new: false) with results in no
particular order (shuffled, as HubSpot does not promise order); batch create on an existing
email -> 409 CONFLICT; static lists found/created by name (ILS.DUPLICATE_LIST_NAMES), membership
edits only on MANUAL/SNAPSHOT lists, unknown record ids in `recordIdsMissing`, set semantics;
a rolling 10-second window and a daily counter per account, 429 with `policyName`
TEN_SECONDLY_ROLLING / DAILY and `X-HubSpot-RateLimit-*` headers on every response.

Control (`/_sandbox/hubspot/...`): `POST settings` {ten_second_limit, daily_limit, max_batch,
max_list_ids, retry_after, multi_status, shuffle, tokens: {token: [scopes]}}, `POST faults`
(scripted responses, latency; see cdpkit.sandbox.fake), `POST contacts` {"contacts": [{props}]},
`PATCH contacts` {"email": ..., "properties": {...}}, `GET contacts`, `GET lists`, `GET stats`,
`POST reset_daily`, `POST reset`.
"""

from __future__ import annotations

import collections
import json
import random
import threading
import time
import uuid
from collections import Counter
from typing import Any
from urllib.parse import unquote

from cdpkit.sandbox import credentials
from cdpkit.sandbox.fake import Fake, Request, Response, scripted_response
from cdpkit.sandbox.fakes_hubspot_data import (
    CONTACTS_TYPE_ID,
    EMAIL,
    Contact,
    Portal,
    Property,
    property_problems,
    stamp,
)

TOKEN_ENV = credentials.HUBSPOT_TOKEN


def sandbox_token() -> str:
    """The private-app token the fake accepts (with every scope): `$CDPKIT_SANDBOX_HUBSPOT_TOKEN`
    or one made up for this process."""
    return credentials.credential(TOKEN_ENV)


ALL_SCOPES = (
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.schemas.contacts.read",
    "crm.schemas.contacts.write",
    "crm.lists.read",
    "crm.lists.write",
)
MAX_BATCH = 100
MAX_PAGE = 100
TEN_SECONDS = 10.0


def hs_error(status: int, message: str, category: str, **extra: Any) -> Response:
    """HubSpot's error envelope (§1.4)."""
    body = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
        **extra,
    }
    return Response(status, body)


class _Limits:
    """Rolling 10-second window + daily counter for the account (requests that were served)."""

    def __init__(self, ten_second: int, daily: int) -> None:
        self.ten_second = ten_second
        self.daily = daily
        self.used_today = 0
        self._window: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def take(self) -> str | None:
        """None when the request may be served, else the policy it breaks."""
        with self._lock:
            now = time.monotonic()
            while self._window and self._window[0] <= now - TEN_SECONDS:
                self._window.popleft()
            if self.used_today >= self.daily:
                return "DAILY"
            if len(self._window) >= self.ten_second:
                return "TEN_SECONDLY_ROLLING"
            self._window.append(now)
            self.used_today += 1
            return None

    def window_reset_in(self) -> float:
        with self._lock:
            if not self._window:
                return 0.0
            return max(0.0, self._window[0] + TEN_SECONDS - time.monotonic())

    def headers(self) -> dict[str, str]:
        with self._lock:
            now = time.monotonic()
            in_window = sum(1 for t in self._window if t > now - TEN_SECONDS)
            remaining = max(0, self.ten_second - in_window)
            return {
                "X-HubSpot-RateLimit-Daily": str(self.daily),
                "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, self.daily - self.used_today)),
                "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
                "X-HubSpot-RateLimit-Max": str(self.ten_second),
                "X-HubSpot-RateLimit-Remaining": str(remaining),
                "X-HubSpot-RateLimit-Secondly": str(max(1, self.ten_second // 10)),
                "X-HubSpot-RateLimit-Secondly-Remaining": str(max(0, remaining // 10)),
            }


class HubSpotFake(Fake):
    name = "hubspot"
    description = "HubSpot CRM v3: contacts batch upsert, properties, static lists, rate limits"

    def __init__(self) -> None:
        super().__init__()
        self._defaults()

    def _defaults(self) -> None:
        self.portal = Portal()
        token = sandbox_token()
        self.tokens: dict[str, set[str]] = {token: set(ALL_SCOPES)}
        self.limits = _Limits(ten_second=100, daily=250_000)  # Free/Starter tier
        self.max_batch = MAX_BATCH
        self.max_list_ids = 100_000
        self.retry_after = False  # HubSpot does not document Retry-After (§1.3)
        self.multi_status = False
        self.shuffle = True
        self.stats: Counter[str] = Counter()
        self.reject: dict[str, str] = {}  # lower-cased email -> reason its values are invalid
        self.max_inputs_seen = 0
        self.log: list[dict[str, Any]] = []

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self._defaults()

    # -- HTTP ----------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        response = self._handle(request)
        response.headers.update(self.limits.headers())
        return response

    def _handle(self, request: Request) -> Response:
        entry = self.faults.next_scripted()
        if entry is not None:
            scripted = scripted_response(entry)
            if scripted is not None:
                return scripted
        if self.faults.latency_s:
            time.sleep(self.faults.latency_s)
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if not token or token not in self.tokens or self.faults.fail_auth:
            return hs_error(
                401,
                "Authentication credentials not found. This API supports OAuth 2.0 "
                "authentication and you can find more details at "
                "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                "INVALID_AUTHENTICATION",
            )
        policy = self.limits.take()
        if policy is not None:
            return self._throttled(policy)
        parts = [unquote(p) for p in request.path.split("/") if p]
        route, scope = self._route(request.method, parts)
        with self.lock:
            self.stats[route] += 1
        if route == "unknown":
            return hs_error(404, f"Unable to route {request.method} {request.path}", "NOT_FOUND")
        if scope not in self.tokens[token]:
            return hs_error(
                403,
                "This app hasn't been granted all required scopes to make this call. Read more "
                "about required scopes here: https://developers.hubspot.com/scopes.",
                "MISSING_SCOPES",
                errors=[
                    {
                        "message": "One or more of the following scopes are required.",
                        "context": {"requiredGranularScopes": [scope]},
                    }
                ],
                links={"scopes": "https://developers.hubspot.com/scopes"},
            )
        try:
            body = request.json()
        except ValueError as exc:
            return hs_error(400, f"Invalid input JSON on line 1: {exc}", "VALIDATION_ERROR")
        with self.portal.lock:
            return getattr(self, f"_{route}")(request, parts, body)

    def _throttled(self, policy: str) -> Response:
        with self.lock:
            self.stats[f"throttled_{policy}"] += 1
        which = "daily" if policy == "DAILY" else "ten_secondly_rolling"
        response = hs_error(
            429,
            f"You have reached your {which} limit.",
            "RATE_LIMITS",
            errorType="RATE_LIMIT",
            policyName=policy,
        )
        if self.retry_after and policy != "DAILY":
            response.headers["Retry-After"] = str(max(1, round(self.limits.window_reset_in())))
        return response

    @staticmethod
    def _route(method: str, parts: list[str]) -> tuple[str, str]:
        """(handler name, required scope) for a path below /crm/v3."""
        read, write = "crm.objects.contacts.read", "crm.objects.contacts.write"
        if parts[:2] != ["crm", "v3"]:
            return "unknown", ""
        p = parts[2:]
        table: dict[tuple[str, tuple[str, ...]], tuple[str, str]] = {
            ("GET", ("properties", "contacts")): ("properties", "crm.schemas.contacts.read"),
            ("POST", ("properties", "contacts", "batch", "create")): (
                "create_properties",
                "crm.schemas.contacts.write",
            ),
            ("GET", ("objects", "contacts")): ("list_contacts", read),
            ("POST", ("objects", "contacts")): ("create_contact", write),
            ("POST", ("objects", "contacts", "batch", "upsert")): ("upsert", write),
            ("POST", ("objects", "contacts", "batch", "create")): ("batch_create", write),
            ("POST", ("objects", "contacts", "batch", "read")): ("batch_read", read),
            ("POST", ("lists",)): ("create_list", "crm.lists.write"),
        }
        found = table.get((method, tuple(p)))
        if found:
            return found
        if method == "PATCH" and len(p) == 3 and p[:2] == ["objects", "contacts"]:
            return "patch_contact", write
        if (
            method == "GET"
            and len(p) == 5
            and p[:2] == ["lists", "object-type-id"]
            and p[3] == "name"
        ):
            return "list_by_name", "crm.lists.read"
        if len(p) == 2 and p[0] == "lists" and method == "GET":
            return "get_list", "crm.lists.read"
        if len(p) >= 3 and p[0] == "lists" and p[2] == "memberships":
            if len(p) == 3:
                return (
                    ("memberships", "crm.lists.read")
                    if method == "GET"
                    else (
                        ("clear_list", "crm.lists.write") if method == "DELETE" else ("unknown", "")
                    )
                )
            if method == "PUT" and len(p) == 4 and p[3] in ("add", "remove", "add-and-remove"):
                return "edit_members", "crm.lists.write"
        return "unknown", ""

    # -- properties ----------------------------------------------------------------------------
    def _properties(self, request: Request, parts: list[str], body: Any) -> Response:
        return Response(200, {"results": [p.as_json() for p in self.portal.properties.values()]})

    def _create_properties(self, request: Request, parts: list[str], body: Any) -> Response:
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list) or not inputs:
            return hs_error(400, "'inputs' must be a non-empty array", "VALIDATION_ERROR")
        created = []
        for item in inputs:
            if not isinstance(item, dict):
                return hs_error(400, "each input must be an object", "VALIDATION_ERROR")
            reason = property_problems(item, self.portal.properties)
            if reason:
                return hs_error(400, reason, "VALIDATION_ERROR")
            if item["name"] in self.portal.properties:
                return hs_error(
                    409,
                    f"A property named '{item['name']}' already exists.",
                    "OBJECT_ALREADY_EXISTS",
                )
        for item in inputs:
            prop = Property(
                item["name"],
                item["label"],
                item["type"],
                item["fieldType"],
                item["groupName"],
                unique=bool(item.get("hasUniqueValue")),
                options=tuple(str(o.get("value")) for o in item.get("options") or []),
            )
            self.portal.properties[prop.name] = prop
            created.append(prop.as_json())
        return Response(201, {"status": "COMPLETE", "results": created})

    # -- contacts ------------------------------------------------------------------------------
    def _batch_inputs(self, body: Any) -> list[dict[str, Any]] | Response:
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list) or any(not isinstance(i, dict) for i in inputs):
            return hs_error(
                400, "Invalid input JSON: 'inputs' must be an array of objects", "VALIDATION_ERROR"
            )
        self.max_inputs_seen = max(self.max_inputs_seen, len(inputs))
        if len(inputs) > self.max_batch:
            return hs_error(
                400,
                f"Batch input size {len(inputs)} exceeds the limit of {self.max_batch} inputs.",
                "VALIDATION_ERROR",
            )
        return inputs

    def _upsert(self, request: Request, parts: list[str], body: Any) -> Response:
        inputs = self._batch_inputs(body)
        if isinstance(inputs, Response):
            return inputs
        self.stats["inputs_received"] += len(inputs)
        seen: dict[str, str] = {}
        duplicates: list[str] = []
        for item in inputs:
            id_property = item.get("idProperty")
            value = item.get("id")
            if not isinstance(value, str | int) or str(value) == "":
                return hs_error(400, "Each input needs an 'id'", "VALIDATION_ERROR")
            prop = self.portal.properties.get(id_property) if id_property else None
            if id_property and (prop is None or not prop.unique):
                return hs_error(
                    400,
                    f"idProperty '{id_property}' is not a property with unique values",
                    "VALIDATION_ERROR",
                )
            if not isinstance(item.get("properties", {}), dict):
                return hs_error(400, "'properties' must be an object", "VALIDATION_ERROR")
            norm = str(value).strip().lower() if id_property == "email" else str(value)
            if norm in seen and str(value) not in duplicates:
                duplicates.append(str(value))
            seen[norm] = str(value)
        if duplicates:
            return hs_error(
                400,
                f"Duplicate IDs found in batch input: [{', '.join(duplicates)}]. "
                "IDs must be unique",
                "VALIDATION_ERROR",
                context={"ids": duplicates},
            )
        bad: dict[int, list[dict[str, Any]]] = {}
        for index, item in enumerate(inputs):
            values = dict(item.get("properties") or {})
            problems = self.portal.check_values(values)
            id_property, value = item.get("idProperty"), str(item["id"])
            if id_property == "email" and not EMAIL.match(value.strip()):
                problems.append(
                    {
                        "isValid": False,
                        "message": f"Email address {value} is invalid",
                        "error": "INVALID_EMAIL",
                        "name": "email",
                    }
                )
            if value.strip().lower() in self.reject:
                problems.append(
                    {
                        "isValid": False,
                        "message": self.reject[value.strip().lower()],
                        "error": "INVALID_EMAIL",
                        "name": "email",
                    }
                )
            if id_property is None and self.portal.find(None, value) is None:
                problems.append(
                    {
                        "isValid": False,
                        "message": f"No contact with id {value}",
                        "error": "NOT_FOUND",
                    }
                )
            if problems:
                bad[index] = problems
        if bad and not self.multi_status:
            flat = [p for problems in bad.values() for p in problems]
            return hs_error(
                400,
                f"Property values were not valid: {json.dumps(flat)}",
                "VALIDATION_ERROR",
            )
        results, errors = [], []
        for index, item in enumerate(inputs):
            if index in bad:
                errors.append(
                    {
                        "status": "error",
                        "category": "VALIDATION_ERROR",
                        "message": "; ".join(p["message"] for p in bad[index]),
                        "context": {"ids": [str(item["id"])]},
                        "errors": bad[index],
                    }
                )
                continue
            id_property, value = item.get("idProperty"), str(item["id"])
            values = dict(item.get("properties") or {})
            if id_property and id_property != "hs_object_id":
                values[id_property] = value
            contact = self.portal.find(id_property, value)
            if contact is None:
                contact, new = self.portal.create(values), True
            else:
                self.portal.update(contact, values)
                new = False
            results.append({**contact.as_json(), "new": new})
        if self.shuffle:
            random.shuffle(results)
        payload: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "requestedAt": _now(),
            "startedAt": _now(),
            "completedAt": _now(),
        }
        if errors:
            payload.update(errors=errors, numErrors=len(errors))
            return Response(207, payload)
        return Response(200, payload)

    def _batch_create(self, request: Request, parts: list[str], body: Any) -> Response:
        inputs = self._batch_inputs(body)
        if isinstance(inputs, Response):
            return inputs
        for item in inputs:
            values = dict(item.get("properties") or {})
            problems = self.portal.check_values(values)
            if problems:
                return hs_error(
                    400,
                    f"Property values were not valid: {json.dumps(problems)}",
                    "VALIDATION_ERROR",
                )
            existing = self.portal.find("email", str(values.get("email", "")))
            if existing is not None:
                return hs_error(
                    409, f"Contact already exists. Existing ID: {existing.id}", "CONFLICT"
                )
        results = [self.portal.create(dict(i.get("properties") or {})).as_json() for i in inputs]
        return Response(201, {"status": "COMPLETE", "results": results})

    def _create_contact(self, request: Request, parts: list[str], body: Any) -> Response:
        values = dict(body.get("properties") or {}) if isinstance(body, dict) else {}
        problems = self.portal.check_values(values)
        if problems:
            return hs_error(
                400, f"Property values were not valid: {json.dumps(problems)}", "VALIDATION_ERROR"
            )
        existing = self.portal.find("email", str(values.get("email", "")))
        if existing is not None:
            return hs_error(409, f"Contact already exists. Existing ID: {existing.id}", "CONFLICT")
        return Response(201, self.portal.create(values).as_json())

    def _patch_contact(self, request: Request, parts: list[str], body: Any) -> Response:
        contact = self.portal.find(request.query.get("idProperty"), parts[-1])
        if contact is None:
            return hs_error(404, "resource not found", "OBJECT_NOT_FOUND")
        values = dict(body.get("properties") or {}) if isinstance(body, dict) else {}
        problems = self.portal.check_values(values)
        if problems:
            return hs_error(
                400, f"Property values were not valid: {json.dumps(problems)}", "VALIDATION_ERROR"
            )
        self.portal.update(contact, values)
        return Response(200, contact.as_json())

    def _batch_read(self, request: Request, parts: list[str], body: Any) -> Response:
        inputs = self._batch_inputs(body)
        if isinstance(inputs, Response):
            return inputs
        id_property = body.get("idProperty")
        names = body.get("properties") or None
        results, missing = [], []
        for item in inputs:
            contact = self.portal.find(id_property, str(item.get("id", "")))
            if contact is None:
                missing.append(str(item.get("id", "")))
            else:
                results.append(contact.as_json(_with_defaults(names)))
        payload: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if missing:
            payload["errors"] = [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": "Could not get some CONTACT objects, they may be deleted or not "
                    "exist. Check that ids are valid.",
                    "context": {"ids": missing},
                }
            ]
            payload["numErrors"] = 1
            return Response(207, payload)
        return Response(200, payload)

    def _list_contacts(self, request: Request, parts: list[str], body: Any) -> Response:
        try:
            limit = int(request.query.get("limit", "10"))
            after = int(request.query.get("after", "0") or 0)
        except ValueError:
            return hs_error(400, "limit and after must be integers", "VALIDATION_ERROR")
        if not 1 <= limit <= MAX_PAGE:
            return hs_error(400, f"limit must be between 1 and {MAX_PAGE}", "VALIDATION_ERROR")
        raw = request.query.get("properties")
        names = _with_defaults([n for n in raw.split(",") if n] if raw else None)
        ordered = sorted((c for c in self.portal.contacts.values() if int(c.id) >= after), key=_key)
        page = ordered[:limit]
        payload: dict[str, Any] = {"results": [c.as_json(names) for c in page]}
        if len(ordered) > limit:
            nxt = ordered[limit].id
            payload["paging"] = {
                "next": {"after": nxt, "link": f"/crm/v3/objects/contacts?after={nxt}"}
            }
        return Response(200, payload)

    # -- lists ---------------------------------------------------------------------------------
    def _create_list(self, request: Request, parts: list[str], body: Any) -> Response:
        if not isinstance(body, dict) or not str(body.get("name") or "").strip():
            return hs_error(400, "'name' is required", "VALIDATION_ERROR")
        if body.get("objectTypeId") != CONTACTS_TYPE_ID:
            return hs_error(
                400,
                f"objectTypeId {body.get('objectTypeId')!r} is not supported",
                "VALIDATION_ERROR",
            )
        kind = body.get("processingType")
        if kind not in ("MANUAL", "SNAPSHOT", "DYNAMIC"):
            return hs_error(400, f"invalid processingType {kind!r}", "VALIDATION_ERROR")
        if kind == "DYNAMIC" and not body.get("filterBranch"):
            return hs_error(400, "a DYNAMIC list needs a filterBranch", "VALIDATION_ERROR")
        if self.portal.list_named(str(body["name"])) is not None:
            return hs_error(
                400,
                f"A list named '{body['name']}' already exists.",
                "VALIDATION_ERROR",
                subCategory="ILS.DUPLICATE_LIST_NAMES",
            )
        lst = self.portal.create_list(str(body["name"]), kind)
        return Response(200, {"list": lst.as_json()})

    def _list_by_name(self, request: Request, parts: list[str], body: Any) -> Response:
        if parts[4] != CONTACTS_TYPE_ID:
            return hs_error(400, f"objectTypeId {parts[4]!r} is not supported", "VALIDATION_ERROR")
        lst = self.portal.list_named(parts[6])
        if lst is None:
            return hs_error(
                404,
                f"List does not exist with name {parts[6]}",
                "OBJECT_NOT_FOUND",
                subCategory="ILS.LIST_NOT_FOUND",
            )
        return Response(200, {"list": lst.as_json()})

    def _get_list(self, request: Request, parts: list[str], body: Any) -> Response:
        lst = self.portal.lists.get(parts[3])
        if lst is None:
            return hs_error(404, f"List {parts[3]} does not exist", "OBJECT_NOT_FOUND")
        return Response(200, {"list": lst.as_json()})

    def _memberships(self, request: Request, parts: list[str], body: Any) -> Response:
        lst = self.portal.lists.get(parts[3])
        if lst is None:
            return hs_error(404, f"List {parts[3]} does not exist", "OBJECT_NOT_FOUND")
        after = int(request.query.get("after", "0") or 0)
        limit = min(int(request.query.get("limit", "100")), 250)
        ids = sorted(int(m) for m in lst.members if int(m) >= after)
        payload: dict[str, Any] = {"results": [{"recordId": str(i)} for i in ids[:limit]]}
        if len(ids) > limit:
            payload["paging"] = {"next": {"after": str(ids[limit])}}
        return Response(200, payload)

    def _clear_list(self, request: Request, parts: list[str], body: Any) -> Response:
        lst = self.portal.lists.get(parts[3])
        if lst is None:
            return hs_error(404, f"List {parts[3]} does not exist", "OBJECT_NOT_FOUND")
        lst.members.clear()
        return Response(204)

    def _edit_members(self, request: Request, parts: list[str], body: Any) -> Response:
        lst = self.portal.lists.get(parts[3])
        if lst is None:
            return hs_error(404, f"List {parts[3]} does not exist", "OBJECT_NOT_FOUND")
        if lst.processing_type not in ("MANUAL", "SNAPSHOT"):
            return hs_error(
                400,
                f"List {lst.list_id} has processingType {lst.processing_type}; memberships can "
                "only be edited on MANUAL or SNAPSHOT lists",
                "VALIDATION_ERROR",
                subCategory="ILS.INVALID_LIST_PROCESSING_TYPE",
            )
        action = parts[5]
        if action == "add-and-remove":
            if not isinstance(body, dict):
                return hs_error(
                    400, "expected recordIdsToAdd / recordIdsToRemove", "VALIDATION_ERROR"
                )
            to_add, to_remove = (
                body.get("recordIdsToAdd") or [],
                body.get("recordIdsToRemove") or [],
            )
        elif action == "add":
            to_add, to_remove = body, []
        else:
            to_add, to_remove = [], body
        for ids in (to_add, to_remove):
            if not isinstance(ids, list) or any(not isinstance(i, str | int) for i in ids):
                return hs_error(400, "expected a JSON array of record ids", "VALIDATION_ERROR")
        if len(to_add) + len(to_remove) > self.max_list_ids:
            return hs_error(
                400, f"at most {self.max_list_ids} record ids per request", "VALIDATION_ERROR"
            )
        missing, added, removed = [], [], []
        for rid in map(str, to_add):
            if rid not in self.portal.contacts:
                missing.append(rid)
            elif rid not in lst.members:
                lst.members.add(rid)
                added.append(rid)
        for rid in map(str, to_remove):
            if rid in lst.members:
                lst.members.discard(rid)
                removed.append(rid)
            elif rid not in self.portal.contacts:
                missing.append(rid)
        if added or removed:
            lst.version += 1
        return Response(
            200,
            {"recordIdsMissing": missing, "recordIdsRemoved": removed, "recordsIdsAdded": added},
        )

    # -- control -------------------------------------------------------------------------------
    def control(self, request: Request) -> Response:
        action = request.path.strip("/")
        body = request.json() if request.body else {}
        if request.method == "POST" and action == "settings":
            self.configure(body or {})
            return Response(200, {"ok": True})
        if request.method == "POST" and action == "reset_daily":
            self.limits.used_today = 0
            return Response(200, {"ok": True})
        if request.method == "POST" and action == "contacts":
            with self.portal.lock:
                made = [self.portal.create(dict(c)).id for c in body.get("contacts", [])]
            return Response(200, {"ids": made})
        if request.method == "PATCH" and action == "contacts":
            with self.portal.lock:
                contact = self.portal.find("email", str(body.get("email", "")))
                if contact is None:
                    return Response(404, {"error": "no such contact"})
                self.portal.update(contact, dict(body.get("properties") or {}))
            return Response(200, contact.as_json())
        return super().control(request)

    def configure(self, settings: dict[str, Any]) -> None:
        """Change limits and behaviour (the `settings` control action)."""
        with self.lock:
            if "ten_second_limit" in settings:
                self.limits.ten_second = int(settings["ten_second_limit"])
            if "daily_limit" in settings:
                self.limits.daily = int(settings["daily_limit"])
            for key in ("max_batch", "max_list_ids"):
                if key in settings:
                    setattr(self, key, int(settings[key]))
            for key in ("retry_after", "multi_status", "shuffle"):
                if key in settings:
                    setattr(self, key, bool(settings[key]))
            if "reject" in settings:
                self.reject = {k.strip().lower(): str(v) for k, v in settings["reject"].items()}
            if "tokens" in settings:
                self.tokens = {t: set(s) for t, s in settings["tokens"].items()}

    def inspect(self, action: str, request: Request) -> Response:
        with self.portal.lock:
            if action == "contacts":
                contacts = sorted(self.portal.contacts.values(), key=_key)
                return Response(200, {"results": [c.as_json() for c in contacts]})
            if action == "lists":
                return Response(200, self.portal.members_by_list())
            if action == "stats":
                return Response(
                    200,
                    {
                        "requests": dict(self.stats),
                        "max_inputs_seen": self.max_inputs_seen,
                        "daily_used": self.limits.used_today,
                    },
                )
        return super().inspect(action, request)

    # -- helpers for tests -----------------------------------------------------------------
    def contacts_by_email(self) -> dict[str, dict[str, str]]:
        with self.portal.lock:
            return {
                c.properties.get("email", ""): dict(c.properties)
                for c in self.portal.contacts.values()
            }

    def list_emails(self, name: str) -> set[str]:
        with self.portal.lock:
            lst = self.portal.list_named(name)
            if lst is None:
                return set()
            return {
                self.portal.contacts[m].properties.get("email", "")
                for m in lst.members
                if m in self.portal.contacts
            }


def _key(contact: Contact) -> int:
    return int(contact.id)


def _with_defaults(names: list[str] | None) -> list[str]:
    """Requested properties plus the ones HubSpot always returns."""
    base = ["createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"]
    return list(dict.fromkeys([*base, *(names or [])]))


def _now() -> str:
    return stamp(time.time())
