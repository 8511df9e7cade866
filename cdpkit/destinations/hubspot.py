"""`type: hubspot`: contacts upserted by email, audience membership as a static HubSpot list.

```yaml
# destinations/hubspot.yml
type: hubspot
token: ${HUBSPOT_TOKEN}            # private-app access token (never written in the file)
tier: professional                 # free | starter | professional | enterprise: default limits
# ten_second_limit: 190            # override the tier's requests per rolling 10 s
# daily_limit: 650000              # override the tier's requests per day
create_properties: true            # create missing custom contact properties on first run
property_types: {ltv: number}      # their types (default string)
syncs:
  - audience: pricing_lurkers
    mode: mirror
    identifier: email
    mapping: {email: email, firstname: first_name, ltv: total_revenue}
    list: Pricing lurkers          # static (MANUAL) list, found or created by name
```

Per batch (≤ 100 records): one `POST /crm/v3/objects/contacts/batch/upsert` (inputs keyed by
email, duplicates merged, empty values skipped by the engine's `skip_nulls`), then one
`PUT /crm/v3/lists/{id}/memberships/add` with the record ids HubSpot returned (kept in the
sync state). Removals take contacts out of the list by id (found by email when unknown);
contacts themselves are never deleted. Limits and failures: see cdpkit.destinations.hubspot_api.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from collections.abc import Sequence
from typing import Any, Literal
from urllib.parse import quote

from pydantic import Field, field_validator, model_validator

from cdpkit.destinations.audience_support import MAPPING_CODE, sync_config
from cdpkit.destinations.base import (
    Batch,
    BatchResult,
    Destination,
    PlanInfo,
    RateLimit,
    Record,
)
from cdpkit.destinations.crm_support import chunks
from cdpkit.destinations.errors import BatchRejected, TerminalError
from cdpkit.destinations.hubspot_api import TIERS, WINDOW_S, HubSpotApi, limits
from cdpkit.spec.validation import spec_error
from cdpkit.sync.config import DestinationConfig, SyncConfig
from cdpkit.sync.envref import EnvText, Secret, Text
from cdpkit.sync.http import HttpClient
from cdpkit.sync.ratelimit import LIMITERS

log = logging.getLogger("cdpkit.destinations.hubspot")

API_URL = "https://api.hubapi.com"
CONTACTS = "0-1"
MAX_INPUTS = 100
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PROPERTY_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
PropertyType = Literal["string", "number", "date", "datetime", "bool"]
FIELD_TYPES = {
    "string": "text",
    "number": "number",
    "date": "date",
    "datetime": "date",
    "bool": "booleancheckbox",
}
FATAL_PROBLEMS = {"PROPERTY_DOESNT_EXIST", "READ_ONLY_VALUE"}


class HubSpotSync(SyncConfig):
    """A sync to HubSpot: destination fields are contact property internal names."""

    @field_validator("mapping")
    @classmethod
    def _property_names(cls, mapping: dict[str, str]) -> dict[str, str]:
        for name in mapping:
            if not PROPERTY_NAME.match(name):
                raise spec_error(
                    MAPPING_CODE,
                    f"'{name}' is not a HubSpot property internal name (lowercase letters, "
                    "digits, _)",
                    key=name,
                    hint="use the internal name, e.g. 'firstname', 'lifecyclestage'",
                )
        return mapping

    @model_validator(mode="after")
    def _email_is_the_identifier(self) -> HubSpotSync:
        source = self.mapping.get("email")
        if source is not None and source != self.identifier:
            raise spec_error(
                MAPPING_CODE,
                f"sync '{self.sync_name}' maps email from '{source}' but identifies contacts by "
                f"'{self.identifier}'; HubSpot upserts contacts by email",
                hint=f"set `identifier: {source}` or map `email: {self.identifier}`",
            )
        return self


class HubSpotConfig(DestinationConfig):
    """A HubSpot account reached with a private-app token."""

    type: Literal["hubspot"]
    base_url: Text = Field(default_factory=lambda: EnvText(API_URL))
    token: Secret
    tier: Literal["free", "starter", "professional", "enterprise"] = "starter"
    limit_increase_packs: int = Field(default=0, ge=0, le=2)
    ten_second_limit: int | None = Field(default=None, ge=1, le=10_000)
    daily_limit: int | None = Field(default=None, ge=1)
    create_properties: bool = False
    property_types: dict[str, PropertyType] = Field(default_factory=dict)
    lists: bool = True
    syncs: list[HubSpotSync] = Field(min_length=1)  # type: ignore[assignment]

    @property
    def window_limit(self) -> int:
        return self.ten_second_limit or limits(self.tier, self.limit_increase_packs).ten_second

    @property
    def day_limit(self) -> int:
        return self.daily_limit or limits(self.tier, self.limit_increase_packs).daily


class HubSpotDestination(Destination):
    type = "hubspot"
    config_model = HubSpotConfig
    description = "HubSpot CRM: contacts upserted by email, audience as a static list"
    max_batch_size = MAX_INPUTS
    default_batch_size = MAX_INPUTS
    rate_limit = RateLimit.rolling(TIERS["starter"].ten_second, WINDOW_S)  # see rate_limit_for
    max_concurrency = 5
    default_consent = None

    config: HubSpotConfig

    @classmethod
    def rate_limit_for(cls, config: DestinationConfig) -> RateLimit | None:
        """The tier's (or `ten_second_limit`'s) requests per rolling 10 seconds."""
        assert isinstance(config, HubSpotConfig)
        return RateLimit.rolling(config.window_limit, WINDOW_S)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._api_client: HubSpotApi | None = None
        self._properties: dict[str, dict[str, Any]] | None = None
        self.list_id: str | None = None

    def account_key(self) -> str:
        return account_key(self.config)

    @property
    def api(self) -> HubSpotApi:
        if self._api_client is None:
            self._api_client = make_api(self.config, self.http, self.sync.destination)
        return self._api_client

    # -- lifecycle ---------------------------------------------------------------------------
    def check(self) -> None:
        """Read the contact property definitions (cheap, needs the token and schema scope)."""
        data = self.api.json("GET", "/crm/v3/properties/contacts")
        self._properties = {p["name"]: p for p in data.get("results", []) if "name" in p}

    def open(self, plan: PlanInfo) -> None:
        if self._properties is None:
            self.check()
        self._ensure_properties()
        if self.config.lists:
            self.list_id = self._find_or_create_list(self.sync.list_name)
        self._warn_about_daily_budget(plan)

    def upsert(self, batch: Batch) -> BatchResult:
        rejected: dict[str, str] = {}
        groups: dict[str, list[Record]] = {}
        for record in batch.records:
            email = record.key.strip()
            if not EMAIL.match(email):
                rejected[record.key] = f"'{record.key}' is not a valid email address"
                continue
            groups.setdefault(email.lower(), []).append(record)
        ids: dict[str, str] = {}
        if groups:
            inputs = [_input(email, records) for email, records in groups.items()]
            found, refused = self._upsert(inputs)
            for email, records in groups.items():
                for record in records:
                    if email in refused:
                        rejected[record.key] = refused[email]
                    elif email in found:
                        ids[record.key] = found[email]
                    else:
                        rejected[record.key] = "HubSpot did not return this contact"
        if self.list_id is not None and ids:
            missing = self._edit_list("add", sorted(set(ids.values()), key=_numeric))
            for key, rid in list(ids.items()):
                if rid in missing:
                    rejected[key] = (
                        f"contact {rid} could not be added to the list: HubSpot no longer has it "
                        "(deleted or merged meanwhile); it is sent again next run"
                    )
                    del ids[key]
        return BatchResult(rejected=rejected, destination_ids=ids)

    def remove(self, batch: Batch) -> BatchResult:
        if self.list_id is None:
            return BatchResult.ok()  # contacts are never deleted; without a list nothing to undo
        known = {r.key: r.destination_id for r in batch.records if r.destination_id}
        unknown = [r.key for r in batch.records if not r.destination_id]
        ids = dict(known)
        ids.update(self._ids_by_email(unknown))
        if ids:
            missing = self._edit_list("remove", sorted(set(ids.values()), key=_numeric))
            stale = [key for key, rid in ids.items() if rid in missing]
            if stale:
                # Stored ids can go stale when HubSpot merges contacts; look them up again.
                fresh = self._ids_by_email(stale)
                if fresh:
                    self._edit_list("remove", sorted(set(fresh.values()), key=_numeric))
        return BatchResult.ok()

    # -- contacts ----------------------------------------------------------------------------
    def _upsert(self, inputs: list[dict[str, Any]]) -> tuple[dict[str, str], dict[str, str]]:
        """(email -> record id, email -> rejection reason) for one batch of inputs."""
        response = self.api.call(
            "POST",
            "/crm/v3/objects/contacts/batch/upsert",
            json_body={"inputs": inputs},
            allow=(400,),
        )
        data = response.json() if response.content else {}
        if response.status_code == 400:
            self._raise_for_batch(data, len(inputs))
        found: dict[str, str] = {}
        for result in data.get("results") or []:
            email = str((result.get("properties") or {}).get("email") or "").strip().lower()
            if email and result.get("id") is not None:
                found[email] = str(result["id"])
        refused: dict[str, str] = {}
        for error in data.get("errors") or []:
            reason = str(error.get("message") or error.get("category") or "rejected by HubSpot")
            for rid in (error.get("context") or {}).get("ids") or []:
                refused[str(rid).strip().lower()] = reason
        return found, refused

    def _raise_for_batch(self, data: dict[str, Any], size: int) -> None:
        message = str(data.get("message") or "HTTP 400")
        problems = _problems(message)
        fatal = sorted({p.get("name", "?") for p in problems if p.get("error") in FATAL_PROBLEMS})
        if fatal:
            raise TerminalError(
                f"HubSpot refused contact properties {', '.join(fatal)} (they do not exist or are "
                "read-only); fix the sync's mapping or set create_properties: true"
            )
        category = data.get("category", "")
        raise BatchRejected(f"HubSpot refused the batch (400 {category}): {message}")

    def _ids_by_email(self, emails: Sequence[str]) -> dict[str, str]:
        """key -> current record id for the emails HubSpot knows."""
        out: dict[str, str] = {}
        for part in chunks(list(emails), MAX_INPUTS):
            data = self.api.json(
                "POST",
                "/crm/v3/objects/contacts/batch/read",
                json_body={
                    "idProperty": "email",
                    "inputs": [{"id": e} for e in part],
                    "properties": ["email"],
                },
            )
            by_email = {
                str((r.get("properties") or {}).get("email") or "").lower(): str(r["id"])
                for r in data.get("results") or []
            }
            for email in part:
                if email.strip().lower() in by_email:
                    out[email] = by_email[email.strip().lower()]
        return out

    # -- properties --------------------------------------------------------------------------
    def _ensure_properties(self) -> None:
        known = self._properties or {}
        wanted = [name for name in self._sync().mapping if name != "email"]
        read_only = [
            n
            for n in wanted
            if n in known and (known[n].get("modificationMetadata") or {}).get("readOnlyValue")
        ]
        if read_only:
            raise TerminalError(
                f"HubSpot contact properties {', '.join(read_only)} are read-only; remove them "
                f"from the mapping of sync '{self.sync.sync_name}'"
            )
        missing = [n for n in wanted if n not in known]
        if not missing:
            return
        if not self.config.create_properties:
            raise TerminalError(
                f"HubSpot has no contact properties named {', '.join(missing)} (used by sync "
                f"'{self.sync.sync_name}'); create them in HubSpot (Settings -> Properties) or set "
                f"`create_properties: true` in destinations/{self.sync.destination}.yml"
            )
        inputs = [self._definition(name) for name in missing]
        response = self.api.call(
            "POST",
            "/crm/v3/properties/contacts/batch/create",
            json_body={"inputs": inputs},
            allow=(400, 409),
        )
        if response.status_code == 400:
            raise TerminalError(
                f"HubSpot refused to create properties {', '.join(missing)}: "
                f"{response.json().get('message', 'HTTP 400')}"
            )
        if response.status_code == 409:
            self.check()  # another run created some of them meanwhile
            return
        created = response.json().get("results") or []
        self._properties = {**known, **{p["name"]: p for p in created if "name" in p}}
        log.info("created HubSpot contact properties: %s", ", ".join(missing))

    def _definition(self, name: str) -> dict[str, Any]:
        kind = self.config.property_types.get(name, "string")
        definition: dict[str, Any] = {
            "name": name,
            "label": name.replace("_", " ").strip().capitalize(),
            "type": kind,
            "fieldType": FIELD_TYPES[kind],
            "groupName": "contactinformation",
            "description": "Synced from the warehouse by cdpkit",
        }
        if kind == "bool":
            definition["options"] = [
                {"label": "Yes", "value": "true", "displayOrder": 0},
                {"label": "No", "value": "false", "displayOrder": 1},
            ]
        return definition

    # -- lists -------------------------------------------------------------------------------
    def _find_or_create_list(self, name: str) -> str:
        found = self._list_by_name(name)
        if found is None:
            response = self.api.call(
                "POST",
                "/crm/v3/lists",
                json_body={"name": name, "objectTypeId": CONTACTS, "processingType": "MANUAL"},
                allow=(400,),
            )
            data = response.json() if response.content else {}
            if response.status_code == 400:
                if data.get("subCategory") != "ILS.DUPLICATE_LIST_NAMES":
                    raise TerminalError(
                        f"HubSpot refused to create list '{name}': {data.get('message', '')}"
                    )
                found = self._list_by_name(name)  # created concurrently by another run
            else:
                found = data.get("list") or {}
                log.info("created HubSpot static list '%s' (%s)", name, found.get("listId"))
        if not found:
            raise TerminalError(f"HubSpot list '{name}' could not be found or created")
        kind = found.get("processingType")
        if kind not in ("MANUAL", "SNAPSHOT"):
            raise TerminalError(
                f"HubSpot list '{name}' is a {kind} (active) list, whose members HubSpot computes; "
                "cdpkit needs a static list. Rename that list or set another `list:` name"
            )
        return str(found["listId"])

    def _list_by_name(self, name: str) -> dict[str, Any] | None:
        path = f"/crm/v3/lists/object-type-id/{CONTACTS}/name/{quote(name, safe='')}"
        response = self.api.call("GET", path, allow=(404,))
        if response.status_code == 404:
            return None
        return (response.json() or {}).get("list")

    def _edit_list(self, action: str, ids: list[str]) -> set[str]:
        """Add/remove record ids; returns the ids HubSpot reported missing."""
        assert self.list_id is not None
        response = self.api.call(
            "PUT", f"/crm/v3/lists/{self.list_id}/memberships/{action}", json_body=ids
        )
        data = response.json() if response.content else {}
        return {str(i) for i in data.get("recordIdsMissing") or []}

    # -- helpers -----------------------------------------------------------------------------
    def _sync(self) -> Any:
        return sync_config(self.config.syncs, self.sync)

    def _warn_about_daily_budget(self, plan: PlanInfo) -> None:
        per_batch = 2 if self.list_id else 1
        size = self.batch_size_for(self.config)
        upserts = math.ceil((plan.adds + plan.updates) / size)
        needed = per_batch * (upserts + math.ceil(plan.removes / size))
        remaining = self.api.state.daily_remaining
        budget = remaining if remaining is not None else self.config.day_limit
        if needed > budget:
            log.warning(
                "%s: this run needs about %d HubSpot requests but only %d remain today; it will "
                "stop cleanly at the limit and the next run resumes",
                self.sync.sync_id,
                needed,
                budget,
            )


def account_key(config: HubSpotConfig) -> str:
    """One rate-limit account per base URL and token (the token only as a digest)."""
    digest = hashlib.sha256(config.token.reveal().encode()).hexdigest()[:16]
    return f"hubspot:{config.base_url.resolve()}:{digest}"


def make_api(config: HubSpotConfig, http: HttpClient, destination: str) -> HubSpotApi:
    """The API client of a destination, paced by its account's rolling window.

    The engine gives a sync's HttpClient the account's limiter (`rate_limit_for`); a client
    without one (`cdpkit import hubspot`, tests) gets the same shared limiter here.
    """
    if http.limiter.unlimited:
        rate = HubSpotDestination.rate_limit_for(config)
        assert rate is not None
        http.limiter = LIMITERS.get(account_key(config), rate.per_second, rate.burst, WINDOW_S)
    return HubSpotApi(
        http,
        config.token.reveal(),
        where=f"HubSpot ({destination})",
        token_ref=f"the private-app token in {config.token}",
    )


def _input(email: str, records: list[Record]) -> dict[str, Any]:
    """One upsert input for an email; records sharing it (case variants) merge, later wins."""
    properties: dict[str, Any] = {}
    for record in records:
        properties.update(record.json_fields())
    properties.pop("email", None)  # HubSpot takes the email from the id
    values = {k: _value(v) for k, v in properties.items()}
    return {"idProperty": "email", "id": email, "properties": values}


def _value(value: Any) -> Any:
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    return value


def _problems(message: str) -> list[dict[str, Any]]:
    """The list after 'Property values were not valid: ' in a 400 message (else [])."""
    _, sep, rest = message.partition("Property values were not valid:")
    if not sep:
        return []
    try:
        parsed = json.loads(rest.strip())
    except ValueError:
        return []
    return [p for p in parsed if isinstance(p, dict)] if isinstance(parsed, list) else []


def _numeric(value: str) -> tuple[int, str]:
    return (int(value), value) if value.isdigit() else (0, value)


__all__ = ["TIERS", "HubSpotConfig", "HubSpotDestination"]
