"""A faithful fake of Braze's `/users/track` (api-contracts §6).

Checks (§6.4): `Authorization: Bearer <REST key>` (401 unknown key, 403 a key without the
`users.track` permission); object counts per the configured limit mode (`per_array`: 75
attributes + 75 events + 75 purchases; `combined`: 75 objects; `mau`: 50 objects) → 400
`Max Input Length Exceeded`; per object exactly one identifier (external_id, user_alias,
braze_id, email, phone) and a valid email / E.164 phone, else a non-fatal error
`{type, input_array, index}`; when every object is invalid the request fails with the fatal
message. Attributes are last-write-wins; `{"add": [...], "remove": [...]}` edits array
attributes; `subscription_groups` must name known groups; `_update_existing_only` never
creates a user. Every response carries `X-RateLimit-Limit/Remaining/Reset` (epoch seconds)
from a fixed window; beyond it 429 without `Retry-After`. `maintenance: true` answers 202
`queued` (and applies nothing, as during a real maintenance window it is applied later).

Control (`/_sandbox/braze/...`): `GET users` (identifier -> attributes), `GET stats`,
`POST faults` with the common faults plus `limit_mode`, `requests_per_window`, `window_s`,
`subscription_groups`, `permissions` ({key: [endpoints]}), `maintenance`, `poison` ({attribute
value: error type}: that object gets a non-fatal error).
"""

from __future__ import annotations

import re
from typing import Any

from cdpkit.sandbox.fake import Fake, Request, Response
from cdpkit.sandbox.fakes_support import FixedWindow

IDENTIFIERS = ("external_id", "user_alias", "braze_id", "email", "phone")
PRIMARY = ("external_id", "user_alias", "braze_id")  # email/phone identify only without these
LIMITS = {"per_array": (75, None), "combined": (None, 75), "mau": (None, 50)}
MISSING_ID = 'One of "external_id" or "user_alias" or "braze_id" or "email" or "phone" is required.'
BAD_EMAIL = "The value provided for the 'email' field is not a valid email."
BAD_PHONE = "The value provided for the 'phone' field is not a valid phone number."
FATAL_EMPTY = "Valid data must be provided in the 'attributes', 'events', or 'purchases' fields."
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
_E164 = re.compile(r"\+[1-9]\d{6,14}")


class BrazeFake(Fake):
    """In-memory Braze users; see the module docstring."""

    name = "braze"
    description = "Braze REST API: /users/track"

    def __init__(
        self,
        *,
        keys: tuple[str, ...] = ("sandbox-braze-key",),
        requests_per_window: int = 3_000,
        window_s: float = 3.0,
        subscription_groups: tuple[str, ...] = ("sg-newsletter",),
    ) -> None:
        super().__init__()
        self._initial = (set(keys), requests_per_window, window_s, set(subscription_groups))
        self._defaults()

    def _defaults(self) -> None:
        keys, per_window, window_s, groups = self._initial
        self.permissions: dict[str, set[str]] = {k: {"users.track"} for k in keys}
        self.limit_mode = "per_array"
        self.window = FixedWindow(per_window, window_s)
        self.subscription_groups: set[str] = set(groups)
        self.maintenance = False
        self.users: dict[tuple[str, str], dict[str, Any]] = {}
        self.by_contact: dict[tuple[str, str], tuple[str, str]] = {}  # (email|phone, v) -> user
        self.requests = 0
        self.throttled = 0
        self.objects_received = 0
        self.poison: dict[str, str] = {}  # attribute value -> non-fatal error type

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self._defaults()

    def control(self, request: Request) -> Response:
        if request.path.strip("/") == "faults" and request.method == "POST":
            settings = request.json() or {}
            with self.lock:
                if "limit_mode" in settings:
                    self.limit_mode = str(settings["limit_mode"])
                if "requests_per_window" in settings or "window_s" in settings:
                    self.window = FixedWindow(
                        settings.get("requests_per_window", self.window.limit),
                        float(settings.get("window_s", self.window.window_s)),
                    )
                if "subscription_groups" in settings:
                    self.subscription_groups = set(settings["subscription_groups"])
                if "permissions" in settings:
                    self.permissions = {k: set(v) for k, v in settings["permissions"].items()}
                if "maintenance" in settings:
                    self.maintenance = bool(settings["maintenance"])
                if "poison" in settings:
                    self.poison = dict(settings["poison"] or {})
        return super().control(request)

    def inspect(self, action: str, request: Request) -> Response:
        with self.lock:
            if action == "users":
                return Response(200, {f"{k}:{v}": attrs for (k, v), attrs in self.users.items()})
            if action == "stats":
                return Response(
                    200,
                    {
                        "requests": self.requests,
                        "throttled": self.throttled,
                        "objects_received": self.objects_received,
                    },
                )
        return super().inspect(action, request)

    def user(self, kind: str, value: str) -> dict[str, Any] | None:
        return self.users.get((kind, value))

    # -- HTTP -------------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        with self.lock:
            self.requests += 1
        early = self.preflight(request)
        if early is not None:
            return early
        auth = request.headers.get("authorization") or ""
        key = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if key not in self.permissions:
            return Response(401, {"message": "Invalid API key: the REST API key is unknown"})
        if request.path.rstrip("/") != "/users/track" or request.method != "POST":
            return Response(404, {"message": "Not found"})
        if "users.track" not in self.permissions[key]:
            return Response(403, {"message": "Access Denied: this API key lacks users.track"})
        allowed = self.window.take()
        headers = {
            "X-RateLimit-Limit": str(self.window.limit),
            "X-RateLimit-Remaining": str(self.window.remaining()),
            "X-RateLimit-Reset": str(int(self.window.reset_at() + 0.999)),
        }
        if not allowed:
            with self.lock:
                self.throttled += 1
            return Response(429, {"message": "API rate limit exceeded"}, headers)
        response = self._track(request)
        response.headers.update(headers)
        return response

    def _track(self, request: Request) -> Response:
        try:
            body = request.json() or {}
        except ValueError:
            return Response(400, {"message": "Invalid JSON in request body"})
        arrays = {name: body.get(name) or [] for name in ("attributes", "events", "purchases")}
        if not all(isinstance(v, list) for v in arrays.values()):
            return Response(400, {"message": "attributes, events and purchases must be arrays"})
        per_array, combined = LIMITS[self.limit_mode]
        counts = {k: len(v) for k, v in arrays.items()}
        if (per_array and max(counts.values()) > per_array) or (
            combined and sum(counts.values()) > combined
        ):
            limit = per_array or combined
            return Response(
                400,
                {"message": f"Max Input Length Exceeded: at most {limit} objects per request"},
            )
        errors: list[dict[str, Any]] = []
        valid: list[dict[str, Any]] = []
        self.objects_received += len(arrays["attributes"])
        for index, item in enumerate(arrays["attributes"]):
            problem = _problem(item, self.subscription_groups)
            if problem is None and isinstance(item, dict):
                hit = next((str(v) for v in item.values() if str(v) in self.poison), None)
                problem = self.poison[hit] if hit is not None else None
            if problem:
                errors.append({"type": problem, "input_array": "attributes", "index": index})
            else:
                valid.append(item)
        for name in ("events", "purchases"):
            for index, item in enumerate(arrays[name]):
                if not isinstance(item, dict) or identity(item) is None:
                    errors.append({"type": MISSING_ID, "input_array": name, "index": index})
        total = sum(counts.values())
        if total == 0 or len(errors) == total:
            return Response(400, {"message": FATAL_EMPTY, "errors": errors})
        if self.maintenance:
            return Response(202, {"message": "queued"})
        with self.lock:
            for item in valid:
                self._apply(item)
        result: dict[str, Any] = {"message": "success", "attributes_processed": len(valid)}
        if errors:
            result["errors"] = errors
        return Response(201, result)

    def _apply(self, item: dict[str, Any]) -> None:
        kind = identity(item)
        assert kind is not None
        value = item[kind]
        key = (kind, value if isinstance(value, str) else repr(value))
        if kind in ("email", "phone") and key not in self.users:
            # Braze finds a profile by its email/phone attribute, whatever its primary id.
            key = self.by_contact.get(key, key)
        if key not in self.users:
            if item.get("_update_existing_only"):
                return
            self.users[key] = {kind: value}
        user = self.users[key]
        for name, new in item.items():
            if name in ("_update_existing_only", kind):
                continue
            if name == "subscription_groups":
                states = user.setdefault("subscription_groups", {})
                for group in new:
                    states[group["subscription_group_id"]] = group["subscription_state"]
            elif isinstance(new, dict) and set(new) <= {"add", "remove"}:
                current = list(user.get(name) or [])
                current += [v for v in new.get("add", []) if v not in current]
                user[name] = [v for v in current if v not in set(new.get("remove", []))]
            else:
                user[name] = new
        for contact in ("email", "phone"):
            if isinstance(user.get(contact), str):
                self.by_contact[(contact, user[contact])] = key


def identity(item: dict[str, Any]) -> str | None:
    """The identifier field of an object: exactly one primary id, else email, else phone."""
    primary = [k for k in PRIMARY if item.get(k)]
    if len(primary) > 1:
        return None
    if primary:
        return primary[0]
    return "email" if item.get("email") else "phone" if item.get("phone") else None


def _problem(item: Any, groups: set[str]) -> str | None:
    if not isinstance(item, dict) or identity(item) is None:
        return MISSING_ID
    email = item.get("email")
    if email is not None and not _EMAIL.fullmatch(str(email)):
        return BAD_EMAIL
    phone = item.get("phone")
    if phone is not None and not _E164.fullmatch(str(phone)):
        return BAD_PHONE
    for group in item.get("subscription_groups") or []:
        if not isinstance(group, dict) or group.get("subscription_group_id") not in groups:
            return "Invalid subscription group ID."
        if group.get("subscription_state") not in ("subscribed", "unsubscribed"):
            return "Invalid subscription state."
    return None
