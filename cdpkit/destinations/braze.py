"""`type: braze`: audience membership and attributes on Braze user profiles (`/users/track`).

```yaml
# destinations/braze.yml
type: braze
base_url: https://rest.iad-01.braze.com   # your instance's REST endpoint
api_key: ${BRAZE_REST_API_KEY}            # permission users.track
membership: {type: boolean}               # attribute `in_<audience>` true/false
# membership: {type: array, attribute: cdpkit_audiences}   # audience names in one array
subscription_group: {id: "sg-…", on_remove: unsubscribed}  # optional
syncs:
  - audience: high_value
    mode: mirror
    identifier: customer_id
    mapping: {external_id: customer_id, email: email, phone: phone, first_name: first_name,
              lifetime_value: total_revenue}           # other names: custom attributes
```

Each request carries ≤ 75 attribute objects (50 with `limit_mode: mau`). Members get the
membership attribute set (and the subscription group state when configured); leavers get it
cleared with `_update_existing_only`, so no user is created just to be removed. Emails are
trimmed and lowercased, phones sent in E.164. Non-fatal errors come back by index and become
per-record rejections; 429 waits until `X-RateLimit-Reset`.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar, Literal

import requests
from pydantic import Field, model_validator

from cdpkit.destinations.audience_support import identifier_field, json_body, sync_config
from cdpkit.destinations.base import (
    Batch,
    BatchResult,
    Destination,
    RateLimit,
    Record,
    jsonable,
)
from cdpkit.destinations.errors import BatchRejected, TerminalError, TransientError
from cdpkit.matchkeys import normalize
from cdpkit.matchkeys.values import InvalidPolicy, InvalidValue
from cdpkit.spec.validation import spec_error
from cdpkit.sync.config import DestinationConfig, Strict, SyncConfig
from cdpkit.sync.envref import Secret, Text
from cdpkit.sync.retry import parse_retry_after

IDENTIFIERS = ("external_id", "email", "phone")
LIMITS = {"per_array": 75, "combined": 75, "mau": 50}
FATAL_INPUT = "Max Input Length Exceeded"


class Membership(Strict):
    """How audience membership shows on the profile."""

    type: Literal["boolean", "array"] = "boolean"
    attribute: str | None = Field(default=None, min_length=1, max_length=255)


class SubscriptionGroup(Strict):
    """A subscription group members join (and optionally leave)."""

    id: str = Field(min_length=1)
    on_add: Literal["subscribed", "unchanged"] = "subscribed"
    on_remove: Literal["unsubscribed", "unchanged"] = "unchanged"


class BrazeSync(SyncConfig):
    @model_validator(mode="after")
    def _identifier_mapped(self) -> BrazeSync:
        if identifier_field(self) not in IDENTIFIERS:
            raise spec_error(
                "D060",
                f"the identifier '{self.identifier}' must be mapped to one of "
                f"{', '.join(IDENTIFIERS)} so that Braze can find the user",
                hint=f"add `external_id: {self.identifier}` to the mapping",
            )
        return self


class BrazeConfig(DestinationConfig):
    """A Braze workspace reached through its REST API key."""

    type: Literal["braze"]
    base_url: Text
    api_key: Secret
    membership: Membership = Field(default_factory=Membership)
    subscription_group: SubscriptionGroup | None = None
    limit_mode: Literal["per_array", "combined", "mau"] = "per_array"
    default_region: str | None = None
    on_invalid_value: InvalidPolicy = "reject"
    syncs: list[BrazeSync] = Field(min_length=1)  # type: ignore[assignment]

    @model_validator(mode="after")
    def _batch_fits_the_contract(self) -> BrazeConfig:
        limit = LIMITS[self.limit_mode]
        if self.batch_size is not None and self.batch_size > limit:
            raise spec_error(
                "D041",
                f"batch_size {self.batch_size} is over Braze's {limit} objects per request "
                f"(limit_mode {self.limit_mode})",
            )
        return self


class BrazeDestination(Destination):
    type = "braze"
    config_model = BrazeConfig
    description = "Braze user attributes and subscription groups via /users/track"
    max_batch_size = 75
    default_batch_size = 75
    rate_limit = RateLimit(per_second=200, burst=50)  # /users/track: 3,000 per 3 s
    max_concurrency = 4
    default_consent: ClassVar[str | None] = "marketing"

    config: BrazeConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync = sync_config(self.config.syncs, self.sync)
        self.identifier = identifier_field(self._sync) or "external_id"
        self.limit = min(LIMITS[self.config.limit_mode], self.config.batch_size or 75)
        membership = self.config.membership
        default = f"in_{self.sync.audience}" if membership.type == "boolean" else "cdpkit_audiences"
        self.attribute = membership.attribute or default

    def account_key(self) -> str:
        """Braze meters per workspace (its REST key), named by the key's env var."""
        return f"{self.type}:{self.config.base_url.resolve()}:{self.config.api_key}"

    def check(self) -> None:
        # /users/track has no read-only call; an empty request proves the key and permission
        # (Braze answers 400 "Valid data must be provided" when both are fine).
        response = self._post({"attributes": []})
        if response.status_code not in (200, 201, 202, 400):
            raise self._failure(response)

    def upsert(self, batch: Batch) -> BatchResult:
        return self._track(batch, member=True)

    def remove(self, batch: Batch) -> BatchResult:
        return self._track(batch, member=False)

    # -- objects --
    def _track(self, batch: Batch, *, member: bool) -> BatchResult:
        rejected: dict[str, str] = {}
        objects: list[tuple[str, dict[str, Any]]] = []
        for record in batch.records:
            try:
                objects.append((record.key, self._object(record, member)))
            except InvalidValue as invalid:
                rejected[record.key] = invalid.reason
        for start in range(0, len(objects), self.limit):
            rejected.update(self._send(objects[start : start + self.limit]))
        return BatchResult(rejected=rejected)

    def _object(self, record: Record, member: bool) -> dict[str, Any]:
        item: dict[str, Any] = {}
        if member:
            for name, value in record.fields.items():
                if value is None:
                    continue
                try:
                    item[name] = self._value(name, value, record.fields)
                except InvalidValue as invalid:
                    if self.config.on_invalid_value == "reject" or name == self.identifier:
                        raise InvalidValue(f"{name}: {invalid.reason}") from None
        item[self.identifier] = self._value(self.identifier, record.key, record.fields)
        if self.config.membership.type == "boolean":
            item[self.attribute] = member
        else:
            item[self.attribute] = {"add" if member else "remove": [self.sync.list_name]}
        group = self.config.subscription_group
        state = (group.on_add if member else group.on_remove) if group else "unchanged"
        if group is not None and state != "unchanged":
            item["subscription_groups"] = [
                {"subscription_group_id": group.id, "subscription_state": state}
            ]
        if not member:
            item["_update_existing_only"] = True
        return item

    def _value(self, name: str, value: Any, fields: Any) -> Any:
        if name == "email":
            return normalize.email(value)
        if name == "phone":
            region = fields.get("country") if hasattr(fields, "get") else None
            try:
                home = normalize.country(region) if region else self.config.default_region
            except InvalidValue:
                home = self.config.default_region
            return normalize.phone_e164(value, region=home)
        if name == "external_id":
            return normalize.external_id(value)
        return jsonable(value)

    # -- HTTP --
    def _send(self, objects: list[tuple[str, dict[str, Any]]]) -> dict[str, str]:
        response = self._post({"attributes": [item for _, item in objects]})
        body = json_body(response) or {}
        if response.status_code in (200, 201, 202):
            return _by_index(objects, body.get("errors") or [])
        if response.status_code == 400:
            message = str(body.get("message", ""))
            errors = body.get("errors") or []
            if errors and len(errors) >= len(objects):
                return _by_index(objects, errors)
            if FATAL_INPUT in message:
                raise BatchRejected(f"Braze: {message}")
            raise BatchRejected(f"Braze refused the request: {message or 'HTTP 400'}")
        raise self._failure(response)

    def _post(self, body: dict[str, Any]) -> requests.Response:
        return self.http.post(
            "/users/track",
            json=body,
            headers={"Authorization": f"Bearer {self.config.api_key.reveal()}"},
            classify=False,
        )

    def _failure(self, response: requests.Response) -> Exception:
        status = response.status_code
        message = str((json_body(response) or {}).get("message") or f"HTTP {status}")
        if status == 429:
            wait = parse_retry_after(response.headers.get("Retry-After"))
            reset = response.headers.get("X-RateLimit-Reset")
            if wait is None:  # Braze's documented signal: the window's reset (epoch seconds)
                wait = max(0.1, float(reset) - time.time()) if reset else 1.0
            self.http.limiter.pause(wait)
            self.http.metrics.add(throttled=1)
            return TransientError(
                f"Braze rate limit reached: {message}", retry_after=wait, throttled=True
            )
        if status in (401, 403):
            return TerminalError(
                f"Braze refused the REST API key (HTTP {status}: {message}); give the key in "
                f"{self.config.api_key} the users.track permission, and check base_url is your "
                "instance's REST endpoint"
            )
        try:
            self.http.classify(response)
        except (TransientError, TerminalError, BatchRejected) as exc:
            return exc
        return TerminalError(f"Braze: {message}")


def _by_index(objects: list[tuple[str, dict[str, Any]]], errors: list[Any]) -> dict[str, str]:
    rejected: dict[str, str] = {}
    for error in errors:
        if not isinstance(error, dict) or error.get("input_array", "attributes") != "attributes":
            continue
        index = error.get("index")
        if isinstance(index, int) and 0 <= index < len(objects):
            rejected[objects[index][0]] = f"Braze: {error.get('type', 'rejected')}"
    return rejected
