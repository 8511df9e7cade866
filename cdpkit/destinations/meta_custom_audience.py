"""`type: meta_custom_audience`: a customer-file Custom Audience in a Meta ad account.

```yaml
# destinations/meta.yml
type: meta_custom_audience
access_token: ${META_ACCESS_TOKEN}      # system-user token with ads_management
ad_account_id: "1234567890"             # with or without act_
default_region: US                      # reads national phone numbers without a country code
syncs:
  - audience: high_value
    mode: mirror
    identifier: email
    mapping: {EMAIL: email, PHONE: phone, FN: first_name, LN: last_name, COUNTRY: country}
    list: High value customers           # the audience name (found, or created)
```

The audience is found by name in the ad account, or created (`subtype=CUSTOM`). Members are
added with `POST /{audience_id}/users` and removed with `DELETE` (≤ 10,000 rows, a multi-key
schema in the mapping's keys, every key normalized and hashed by `cdpkit.matchkeys` except
`EXTERN_ID`/`MADID`), each request in an upload session. A full resync of a mirror sync
replaces the audience through one `usersreplace` session committed only when the run
succeeds (upsert and add_only syncs never drop members: their full resyncs add). Meta signals
throttling by error code (4, 17, 613, 80003), not HTTP status; an expired token (190) stops
the sync with what to do. Rows Meta counts in `num_invalid_entries` are rejected per record.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from cdpkit.destinations.audience_support import (
    check_fields,
    full_resync,
    identifier_field,
    json_body,
    require_identifier,
    sync_config,
)
from cdpkit.destinations.base import (
    Batch,
    BatchResult,
    Destination,
    PlanInfo,
    RateLimit,
    Record,
    RunSummary,
)
from cdpkit.destinations.errors import BatchRejected, TerminalError, TransientError
from cdpkit.matchkeys import META_KEYS, InvalidPolicy, build_meta_row
from cdpkit.matchkeys.normalize import country as normalize_country
from cdpkit.matchkeys.values import InvalidValue
from cdpkit.sync.config import DestinationConfig, SyncConfig
from cdpkit.sync.envref import EnvText, Secret, Text
from cdpkit.sync.retry import parse_retry_after

log = logging.getLogger("cdpkit.destinations.meta")

THROTTLE_CODES = frozenset({4, 17, 32, 613, 80003})
IDENTIFIER_KEYS = ("EMAIL", "PHONE", "EXTERN_ID", "MADID")
FileSource = Literal[
    "USER_PROVIDED_ONLY", "PARTNER_PROVIDED_ONLY", "BOTH_USER_AND_PARTNER_PROVIDED"
]


class MetaSync(SyncConfig):
    """A sync whose mapping keys are Meta schema keys (EMAIL, PHONE, FN, LN, ...)."""

    @field_validator("mapping")
    @classmethod
    def _meta_keys(cls, mapping: dict[str, str]) -> dict[str, str]:
        return check_fields(mapping, META_KEYS, kind="Meta Custom Audiences", upper=True)

    @model_validator(mode="after")
    def _identifier_mapped(self) -> MetaSync:
        require_identifier(self, IDENTIFIER_KEYS, kind="Meta")
        return self


class MetaCustomAudienceConfig(DestinationConfig):
    """A Meta ad account's customer-file Custom Audiences."""

    type: Literal["meta_custom_audience"]
    base_url: Text = Field(default_factory=lambda: EnvText("https://graph.facebook.com"))
    api_version: str = Field(default="v25.0", pattern=r"^v\d+\.0$")
    access_token: Secret
    ad_account_id: Text
    customer_file_source: FileSource = "USER_PROVIDED_ONLY"
    default_region: str | None = None
    on_invalid_value: InvalidPolicy = "reject"
    syncs: list[MetaSync] = Field(min_length=1)  # type: ignore[assignment]

    @field_validator("default_region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return normalize_country(value)
        except InvalidValue as invalid:
            raise ValueError(invalid.reason) from None


class MetaCustomAudienceDestination(Destination):
    type = "meta_custom_audience"
    config_model = MetaCustomAudienceConfig
    description = "Meta (Facebook/Instagram) customer-file Custom Audiences, hashed match keys"
    max_batch_size = 10_000
    default_batch_size = 10_000
    rate_limit = RateLimit(per_second=2, burst=4)
    max_concurrency = 2
    default_consent: ClassVar[str | None] = "advertising"
    replaces_on_full_resync = True  # usersreplace swaps the audience only when the run ends
    removals_with_fields = True  # DELETE rows with every key uploaded: exact matches

    config: MetaCustomAudienceConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync = sync_config(self.config.syncs, self.sync)
        self.schema = tuple(k for k in META_KEYS if k in self._sync.mapping)
        self.identifier_key = identifier_field(self._sync) or "EMAIL"
        self.audience_id: str | None = None
        self._session_id = secrets.randbits(62)
        self._lock = threading.RLock()
        self._seq = 0
        self._replace = False
        self._estimated = 0
        self.received = 0
        self.invalid = 0

    def account_key(self) -> str:
        """Meta meters calls per ad account."""
        return f"{self.type}:{self.config.base_url.resolve()}:{self._account()}"

    # -- lifecycle --
    def check(self) -> None:
        self._graph("GET", self._account(), params={"fields": "id,name"})

    def open(self, plan: PlanInfo) -> None:
        self.audience_id = self._find_or_create(self.sync.list_name)
        # Only a mirror may drop who is not in the audience; upsert/add_only resync by adding.
        self._replace = full_resync(plan) and self.sync.mode == "mirror"
        self._estimated = plan.adds + plan.updates if not self._replace else plan.audience_size

    def upsert(self, batch: Batch) -> BatchResult:
        schema = self.schema
        rows, rejected = self._rows(batch.records, schema)
        if not rows:
            return BatchResult(rejected=rejected)
        if self._replace:
            with self._lock:  # usersreplace needs strictly increasing batch_seq
                result = self._send("POST", "usersreplace", schema, rows, self._next_session())
        else:
            result = self._send("POST", "users", schema, rows, self._next_session())
        return self._result(result, rows, rejected)

    def remove(self, batch: Batch) -> BatchResult:
        """Rows with every match key last uploaded (from the sync state), so Meta removes
        exactly the people the upload matched; rows synced before the state kept fields go
        by the identifier alone (a request per schema)."""
        if self._replace:
            return BatchResult.ok()  # the replace session drops them
        rejected: dict[str, str] = {}
        groups = (
            ([r for r in batch.records if r.fields], self.schema),
            ([r for r in batch.records if not r.fields], (self.identifier_key,)),
        )
        for records, schema in groups:
            if not records:
                continue
            rows, refused = self._rows(records, schema, removal=True)
            rejected.update(refused)
            if rows:
                result = self._send("DELETE", "users", schema, rows, self._next_session())
                rejected.update(self._result(result, rows, {}).rejected)
        return BatchResult(rejected=rejected)

    def close(self, summary: RunSummary) -> None:
        if self._replace and self.audience_id and summary.status in ("success", "partial"):
            with self._lock:
                session = self._next_session(last=True)
                self._send("POST", "usersreplace", (self.identifier_key,), [], session)
        if self.received:
            log.log(
                logging.WARNING if self.invalid else logging.INFO,
                "%s: Meta received %d rows, %d counted invalid (num_invalid_entries)",
                self.sync.sync_id,
                self.received,
                self.invalid,
            )

    # -- payloads --
    def _rows(
        self, records: Sequence[Record], schema: tuple[str, ...], *, removal: bool = False
    ) -> tuple[list[tuple[str, list[str]]], dict[str, str]]:
        rows: list[tuple[str, list[str]]] = []
        rejected: dict[str, str] = {}
        policy = self.config.on_invalid_value
        for record in records:
            values: dict[str, Any] = dict(record.fields)
            if removal and not values:
                values = {self.identifier_key: record.key}
            row = build_meta_row(schema, values, default_region=self.config.default_region)
            # A removal drops a stale invalid value rather than keep the person in the audience.
            reason = row.rejection(("drop" if record.fields else "reject") if removal else policy)
            if reason:
                rejected[record.key] = reason
            else:
                rows.append((record.key, list(row.values)))
        return rows, rejected

    def _next_session(self, last: bool = False) -> dict[str, Any]:
        with self._lock:
            self._seq += 1
            seq = self._seq
        session = {"session_id": self._session_id, "batch_seq": seq, "last_batch_flag": last}
        if self._estimated:
            session["estimated_num_total"] = self._estimated
        return session

    def _send(
        self,
        method: str,
        edge: str,
        schema: tuple[str, ...],
        rows: list[tuple[str, list[str]]],
        session: dict[str, Any],
    ) -> dict[str, Any]:
        payload = {"schema": list(schema), "is_raw": True, "data": [values for _, values in rows]}
        body = self._graph(
            method, f"{self.audience_id}/{edge}", json={"payload": payload, "session": session}
        )
        return body if isinstance(body, dict) else {}

    def _result(
        self, result: dict[str, Any], rows: list[tuple[str, list[str]]], rejected: dict[str, str]
    ) -> BatchResult:
        invalid = int(result.get("num_invalid_entries") or 0)
        with self._lock:
            self.received += int(result.get("num_received") or len(rows))
            self.invalid += invalid
        if not invalid:
            return BatchResult(rejected=rejected)
        samples = result.get("invalid_entry_samples") or {}
        named = {}
        for key, values in rows:
            hit = next((v for v in values if v and v in samples), None)
            if hit is not None:
                named[key] = f"Meta counted the row invalid: {samples[hit]}"
        if len(named) < invalid:
            # Meta did not say which rows: split the batch until each invalid row is alone.
            if len(rows) == 1:
                key = rows[0][0]
                return BatchResult(
                    rejected={**rejected, key: "Meta counted the row invalid (num_invalid_entries)"}
                )
            raise BatchRejected(f"Meta counted {invalid} of {len(rows)} rows invalid")
        return BatchResult(rejected={**rejected, **named})

    # -- audience --
    def _account(self) -> str:
        account = self.config.ad_account_id.resolve().strip()
        return account if account.startswith("act_") else f"act_{account}"

    def _find_or_create(self, name: str) -> str:
        params: dict[str, Any] | None = {"fields": "id,name", "limit": 200}
        path = f"{self._account()}/customaudiences"
        found: list[str] = []
        while True:
            body = self._graph("GET", path, params=params) or {}
            found += [str(a["id"]) for a in body.get("data", []) if a.get("name") == name]
            after = (body.get("paging") or {}).get("cursors", {}).get("after")
            if not (body.get("paging") or {}).get("next") or not after:
                break
            params = {"fields": "id,name", "limit": 200, "after": after}
        if found:
            if len(found) > 1:
                log.warning("%d Meta audiences are named %r; using the oldest", len(found), name)
            return min(found, key=int)
        created = self._graph(
            "POST",
            path,
            json={
                "name": name,
                "subtype": "CUSTOM",
                "customer_file_source": self.config.customer_file_source,
                "description": f"Managed by cdpkit ({self.sync.sync_id})",
            },
        )
        return str(created["id"])

    # -- HTTP --
    def _graph(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
    ) -> Any:
        token = self.config.access_token.reveal()
        response = self.http.request(
            method,
            f"/{self.config.api_version}/{path}",
            params=params,
            json=json,
            headers={"Authorization": f"Bearer {token}"},
            classify=False,
        )
        body = json_body(response)
        if 200 <= response.status_code < 300:
            return body
        error = (body or {}).get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            self.http.classify(response)
            raise TransientError(f"Meta answered HTTP {response.status_code} without an error body")
        raise self._failure(response.status_code, error, response.headers)

    def _failure(self, status: int, error: dict[str, Any], headers: Any) -> Exception:
        code = int(error.get("code") or 0)
        subcode = error.get("error_subcode")
        message = str(error.get("error_user_msg") or error.get("message") or "")
        where = f"Meta error {code}" + (f"/{subcode}" if subcode else "")
        if code in THROTTLE_CODES:
            # Meta sends no Retry-After; honour one if a proxy adds it, else the BUC estimate.
            wait = parse_retry_after(headers.get("Retry-After"))
            if wait is None:
                wait = _regain_seconds(headers.get("X-Business-Use-Case-Usage"))
            self.http.limiter.pause(wait if wait is not None else 1.0)
            self.http.metrics.add(throttled=1)
            return TransientError(
                f"{where}: throttled: {message}", retry_after=wait, throttled=True
            )
        if code == 190:
            return TerminalError(
                f"{where}: the Meta access token is expired or invalid ({message}). Create a new "
                f"system-user token with ads_management in Business Manager and put it in "
                f"{str(self.config.access_token).strip('${}')}"
            )
        if code == 2500 or 200 <= code <= 299 or code == 10:
            return TerminalError(
                f"{where}: {message}. The token needs ads_management on {self._account()}"
            )
        if code == 2650 and subcode == 1487366:
            return TerminalError(
                f"{where}: the audience {self.audience_id} was deleted in Meta; rerun with "
                "--full-resync to create it again and upload every member"
            )
        if code == 100 and subcode == 1713230:
            return TerminalError(f"{where}: Meta blocked uploads to this audience: {message}")
        if code == 100 and subcode == 33:
            return TerminalError(f"{where}: {message}; check ad_account_id and the audience")
        if error.get("is_transient") or code in (1, 2) or status >= 500:
            return TransientError(f"{where}: {message}")
        if code == 100:
            return BatchRejected(f"{where}: {message}")
        return TerminalError(f"{where}: {message}")


def _regain_seconds(header: str | None) -> float | None:
    """`estimated_time_to_regain_access` (minutes) from X-Business-Use-Case-Usage, in seconds."""
    if not header:
        return None
    try:
        usage = json.loads(header)
    except ValueError:
        return None
    minutes = [
        entry.get("estimated_time_to_regain_access") or 0
        for entries in (usage.values() if isinstance(usage, dict) else [])
        for entry in (entries if isinstance(entries, list) else [])
        if isinstance(entry, dict)
    ]
    longest = max(minutes, default=0)
    return float(longest) * 60 if longest else None
