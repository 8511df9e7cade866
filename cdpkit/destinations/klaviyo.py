"""`type: klaviyo`: profiles upserted into a Klaviyo list through bulk import jobs.

```yaml
# destinations/klaviyo.yml
type: klaviyo
api_key: ${KLAVIYO_PRIVATE_KEY}         # scopes lists:write profiles:write
default_region: US                      # reads national phone numbers
syncs:
  - audience: newsletter_engaged
    mode: mirror
    identifier: email
    mapping: {email: email, phone_number: phone, first_name: first_name,
              location.city: city, properties.ltv: total_revenue}
    list: Engaged subscribers            # found by name, or created; or set list_id
```

Adds and updates: `POST /api/profile-bulk-import-jobs` (≤ 10,000 profiles and ≤ 5 MB per job,
split further by size) attached to the list, then the job is polled until `complete` and its
`/import-errors` become per-record rejections (matched by the profile index in
`source.pointer`). Removals: profile ids looked up by the identifier (`any(email, [...])`,
100 at a time) and `DELETE /api/lists/{id}/relationships/profiles` (≤ 1,000 ids); removing
from a list never changes consent. Every call pins the `revision` header. 429 `throttled`
waits for `Retry-After`.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, ClassVar, Literal

import requests
from pydantic import Field, field_validator, model_validator

from cdpkit.destinations.audience_support import identifier_field, json_body, sync_config
from cdpkit.destinations.base import (
    Batch,
    BatchResult,
    Destination,
    PlanInfo,
    RateLimit,
    jsonable,
)
from cdpkit.destinations.errors import BatchRejected, TerminalError, TransientError
from cdpkit.matchkeys import normalize
from cdpkit.matchkeys.values import InvalidPolicy, InvalidValue
from cdpkit.spec.diagnostics import did_you_mean
from cdpkit.spec.validation import spec_error
from cdpkit.sync.config import DestinationConfig, SyncConfig
from cdpkit.sync.envref import EnvText, Secret, Text

REVISION = "2025-01-15"
IDENTIFIERS = ("email", "phone_number", "external_id")
STANDARD = (
    *IDENTIFIERS,
    "first_name",
    "last_name",
    "organization",
    "title",
    "image",
    "locale",
)
LOCATION = (
    "address1",
    "address2",
    "city",
    "country",
    "region",
    "zip",
    "timezone",
    "latitude",
    "longitude",
)
MAX_BODY = 5 * 1024 * 1024 - 64 * 1024  # headroom under the 5 MB limit
MAX_PROFILE = 100 * 1024
RELATIONSHIP_IDS = 1_000
LOOKUP_VALUES = 100
THROTTLED_READ_RETRIES = 5
_INDEX = re.compile(r"/data/attributes/profiles/data/(\d+)")


class KlaviyoSync(SyncConfig):
    """A sync mapping Klaviyo profile attributes, `location.*` and `properties.*`."""

    @field_validator("mapping")
    @classmethod
    def _klaviyo_fields(cls, mapping: dict[str, str]) -> dict[str, str]:
        for name in mapping:
            head, dot, tail = name.partition(".")
            ok = (
                (name in STANDARD and not dot)
                or (head == "location" and tail in LOCATION)
                or (head == "properties" and tail)
            )
            if not ok:
                raise spec_error(
                    "D060",
                    f"'{name}' is not a Klaviyo profile attribute",
                    key=name,
                    hint=did_you_mean(name, [*STANDARD, *(f"location.{k}" for k in LOCATION)])
                    or f"custom properties are written `properties.{name}`",
                )
        return mapping

    @model_validator(mode="after")
    def _identifier_mapped(self) -> KlaviyoSync:
        if identifier_field(self) not in IDENTIFIERS:
            raise spec_error(
                "D060",
                f"the identifier '{self.identifier}' must be mapped to one of "
                f"{', '.join(IDENTIFIERS)} so that Klaviyo can find and remove profiles",
                hint=f"add `email: {self.identifier}` to the mapping",
            )
        return self


class KlaviyoConfig(DestinationConfig):
    """A Klaviyo account's lists."""

    type: Literal["klaviyo"]
    base_url: Text = Field(default_factory=lambda: EnvText("https://a.klaviyo.com"))
    api_key: Secret
    revision: str = Field(default=REVISION, pattern=r"^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$")
    list_id: Text | None = None
    default_region: str | None = None
    on_invalid_value: InvalidPolicy = "reject"
    job_wait_s: float = Field(default=600.0, gt=0, le=86_400)
    job_poll_s: float = Field(default=2.0, gt=0, le=600)
    syncs: list[KlaviyoSync] = Field(min_length=1)  # type: ignore[assignment]


class KlaviyoDestination(Destination):
    type = "klaviyo"
    config_model = KlaviyoConfig
    description = "Klaviyo lists through profile bulk import jobs"
    max_batch_size = 10_000
    default_batch_size = 10_000
    rate_limit = RateLimit(per_second=2.5, burst=10)  # bulk import: 10/s burst, 150/min steady
    max_concurrency = 4
    default_consent: ClassVar[str | None] = "marketing"

    config: KlaviyoConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync = sync_config(self.config.syncs, self.sync)
        self.identifier = identifier_field(self._sync) or "email"
        self.list_id = self.config.list_id.resolve() if self.config.list_id else ""

    def account_key(self) -> str:
        """Klaviyo meters per account; keys are told apart by their env var name."""
        return f"{self.type}:{self.config.base_url.resolve()}:{self.config.api_key}"

    # -- lifecycle --
    def check(self) -> None:
        self._call("GET", "/api/lists", params={"page[size]": 1})

    def open(self, plan: PlanInfo) -> None:
        if self.list_id:
            return
        name = self.sync.list_name
        found = self._call(
            "GET", "/api/lists", params={"filter": f"equals(name,{json.dumps(name)})"}
        )
        rows = [
            r
            for r in (found or {}).get("data", [])
            if (r.get("attributes") or {}).get("name") == name
        ]
        if rows:
            self.list_id = str(rows[0]["id"])
            return
        created = self._call(
            "POST", "/api/lists", json={"data": {"type": "list", "attributes": {"name": name}}}
        )
        self.list_id = str(created["data"]["id"])

    def upsert(self, batch: Batch) -> BatchResult:
        rejected: dict[str, str] = {}
        profiles: list[tuple[str, dict[str, Any]]] = []
        for record in batch.records:
            try:
                attributes = self._attributes(record.fields)
            except InvalidValue as invalid:
                rejected[record.key] = invalid.reason
                continue
            profile = {"type": "profile", "attributes": attributes}
            if len(json.dumps(profile)) > MAX_PROFILE:
                rejected[record.key] = "profile larger than Klaviyo's 100 KB limit"
                continue
            profiles.append((record.key, profile))
        for chunk in _by_size(profiles):
            rejected.update(self._import(chunk))
        return BatchResult(rejected=rejected)

    def remove(self, batch: Batch) -> BatchResult:
        rejected: dict[str, str] = {}
        wanted: dict[str, str] = {}  # normalized identifier -> record key
        ids: list[str] = []
        for record in batch.records:
            if record.destination_id:
                ids.append(record.destination_id)
                continue
            try:
                wanted[self._identifier_value(record.key)] = record.key
            except InvalidValue as invalid:
                rejected[record.key] = invalid.reason
        values = list(wanted)
        for start in range(0, len(values), LOOKUP_VALUES):
            ids += self._lookup(values[start : start + LOOKUP_VALUES])
        for start in range(0, len(ids), RELATIONSHIP_IDS):
            chunk = ids[start : start + RELATIONSHIP_IDS]
            self._call(
                "DELETE",
                f"/api/lists/{self.list_id}/relationships/profiles",
                json={"data": [{"type": "profile", "id": i} for i in chunk]},
            )
        return BatchResult(rejected=rejected)

    # -- profiles --
    def _attributes(self, fields: dict[str, Any]) -> dict[str, Any]:
        policy = self.config.on_invalid_value
        attributes: dict[str, Any] = {}
        for name, value in fields.items():
            if value is None:
                continue
            try:
                if name == "email":
                    value = normalize.email(value)
                elif name == "phone_number":
                    value = normalize.phone_e164(value, region=self._region(fields))
            except InvalidValue as invalid:
                if policy == "reject" or name == self.identifier:
                    raise InvalidValue(f"{name}: {invalid.reason}") from None
                continue
            head, _, tail = name.partition(".")
            if head in ("location", "properties"):
                attributes.setdefault(head, {})[tail] = jsonable(value)
            else:
                attributes[name] = jsonable(value)
        if not any(attributes.get(k) for k in IDENTIFIERS):
            raise InvalidValue("no email, phone_number or external_id to identify the profile")
        return attributes

    def _region(self, fields: dict[str, Any]) -> str | None:
        country = fields.get("location.country")
        if country:
            try:
                return normalize.country(country)
            except InvalidValue:
                pass
        return self.config.default_region

    def _identifier_value(self, key: str) -> str:
        if self.identifier == "email":
            return normalize.email(key)
        if self.identifier == "phone_number":
            return normalize.phone_e164(key, region=self.config.default_region)
        return normalize.external_id(key)

    def _lookup(self, values: list[str]) -> list[str]:
        found: list[str] = []
        params: dict[str, Any] | None = {
            "filter": f"any({self.identifier},{json.dumps(values)})",
            "page[size]": 100,
        }
        path = "/api/profiles"
        while path:
            body = self._call("GET", path, params=params) or {}
            found += [str(row["id"]) for row in body.get("data", [])]
            path, params = (body.get("links") or {}).get("next") or "", None
        return found

    # -- import jobs --
    def _import(self, chunk: list[tuple[str, dict[str, Any]]]) -> dict[str, str]:
        """Run one import job; a refused profile (400 naming its index) is rejected and the
        rest sent again."""
        rejected: dict[str, str] = {}
        while chunk:
            body = {
                "data": {
                    "type": "profile-bulk-import-job",
                    "attributes": {"profiles": {"data": [profile for _, profile in chunk]}},
                    "relationships": {"lists": {"data": [{"type": "list", "id": self.list_id}]}},
                }
            }
            try:
                job = self._call("POST", "/api/profile-bulk-import-jobs", json=body)
            except _Invalid as refused:
                index = refused.index
                if index is None or index >= len(chunk):
                    raise BatchRejected(str(refused)) from None
                rejected[chunk[index][0]] = str(refused)
                chunk = chunk[:index] + chunk[index + 1 :]
                continue
            job_id = str(job["data"]["id"])
            self._wait(job_id)
            return {**rejected, **self._import_errors(job_id, chunk)}
        return rejected

    def _wait(self, job_id: str) -> None:
        deadline = time.monotonic() + self.config.job_wait_s
        while True:
            job = self._call("GET", f"/api/profile-bulk-import-jobs/{job_id}")
            status = ((job or {}).get("data") or {}).get("attributes", {}).get("status")
            if status == "complete":
                return
            if status == "cancelled":
                raise TransientError(f"Klaviyo cancelled import job {job_id}; sending it again")
            if time.monotonic() >= deadline:
                raise TransientError(
                    f"Klaviyo import job {job_id} still {status} after {self.config.job_wait_s:g}s"
                )
            stop = self.http.stop
            if stop is not None and stop.wait(self.config.job_poll_s):
                raise TransientError("stopped while waiting for a Klaviyo import job")
            if stop is None:
                time.sleep(self.config.job_poll_s)

    def _import_errors(
        self, job_id: str, chunk: list[tuple[str, dict[str, Any]]]
    ) -> dict[str, str]:
        rejected: dict[str, str] = {}
        path = f"/api/profile-bulk-import-jobs/{job_id}/import-errors"
        params: dict[str, Any] | None = {"page[size]": 100}
        while path:
            body = self._call("GET", path, params=params) or {}
            for item in body.get("data", []):
                attributes = item.get("attributes") or {}
                pointer = str((attributes.get("source") or {}).get("pointer", ""))
                match = _INDEX.match(pointer)
                if match and int(match.group(1)) < len(chunk):
                    detail = attributes.get("detail") or attributes.get("title") or "import error"
                    rejected[chunk[int(match.group(1))][0]] = f"Klaviyo: {detail}"
            path, params = (body.get("links") or {}).get("next") or "", None
        return rejected

    # -- HTTP --
    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        """One API call. A throttled read is retried here (the limiter already holds the account
        back for Retry-After), so polling a job never restarts the whole batch."""
        for attempt in range(THROTTLED_READ_RETRIES + 1):
            try:
                return self._call_once(method, path, params=params, json=json)
            except TransientError as exc:
                if method != "GET" or not exc.throttled or attempt == THROTTLED_READ_RETRIES:
                    raise
        raise AssertionError("unreachable")

    def _call_once(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None,
        json: Any,
    ) -> Any:
        headers = {
            "Authorization": f"Klaviyo-API-Key {self.config.api_key.reveal()}",
            "revision": self.config.revision,
            "Accept": "application/vnd.api+json",
        }
        if json is not None:
            headers["Content-Type"] = "application/vnd.api+json"
        response = self.http.request(
            method,
            path,
            params=params,
            data=None if json is None else _dumps(json),
            headers=headers,
            classify=False,
        )
        if 200 <= response.status_code < 300:
            return json_body(response)
        raise self._failure(response)

    def _failure(self, response: requests.Response) -> Exception:
        status = response.status_code
        errors = (json_body(response) or {}).get("errors") or [{}]
        first = errors[0] if isinstance(errors[0], dict) else {}
        detail = str(first.get("detail") or first.get("title") or f"HTTP {status}")
        if status in (400, 413) and first.get("code") in ("invalid", "request_too_large"):
            pointer = str((first.get("source") or {}).get("pointer", ""))
            match = _INDEX.match(pointer)
            return _Invalid(f"Klaviyo: {detail}", int(match.group(1)) if match else None)
        if status in (401, 403):
            return TerminalError(
                f"Klaviyo refused the API key (HTTP {status}: {detail}); use a private key with "
                f"lists:write and profiles:write scopes in {self.config.api_key}"
            )
        if status == 404:
            return TerminalError(f"Klaviyo: {detail}; check list_id / the list name")
        try:
            self.http.classify(response)  # 429 (Retry-After), 5xx -> TransientError
        except (TransientError, TerminalError, BatchRejected) as exc:
            return exc
        return TerminalError(f"Klaviyo: {detail}")


class _Invalid(BatchRejected):
    """A 400 naming the profile at fault by index (or not)."""

    def __init__(self, message: str, index: int | None) -> None:
        super().__init__(message)
        self.index = index


def _by_size(profiles: list[tuple[str, dict[str, Any]]]) -> list[list[tuple[str, dict[str, Any]]]]:
    chunks: list[list[tuple[str, dict[str, Any]]]] = []
    size = 0
    for item in profiles:
        length = len(_dumps(item[1])) + 1
        if not chunks or size + length > MAX_BODY:
            chunks.append([])
            size = 0
        chunks[-1].append(item)
        size += length
    return chunks


def _dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
