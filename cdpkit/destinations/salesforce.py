"""`type: salesforce`: Contacts or Leads upserted by an external id; membership as a Campaign.

```yaml
# destinations/salesforce.yml
type: salesforce
base_url: https://acme.my.salesforce.com     # the org's My Domain URL (token endpoint host)
client_id: ${SF_CLIENT_ID}                    # connected app with the client credentials flow
client_secret: ${SF_CLIENT_SECRET}
object: Contact                               # Contact | Lead
external_id_field: Cdpkit_Key__c              # a Text field marked External ID (+ Unique)
membership: campaign                          # campaign | field | none
bulk_threshold: 10000                         # runs with this many upserts use Bulk API 2.0
create_defaults: {LastName: "[not provided]"}  # only for new records lacking required fields
syncs:
  - audience: pricing_lurkers
    mode: mirror
    identifier: email                         # its value goes into external_id_field
    mapping: {Email: email, FirstName: first_name, LastName: last_name}
    list: Pricing lurkers                     # the campaign (membership: field -> a checkbox
                                              # field's API name, e.g. Pricing_Lurker__c)
```

Upserts: sObject Collections (`PATCH composite/sobjects/{object}/{external id}`, ≤ 200 per
request, allOrNone false, per-record errors -> per-record rejections); when a run has at least
`bulk_threshold` adds+updates, each engine batch is one Bulk API 2.0 ingest job instead (set
`batch_size` up to 10,000 so jobs are large). Membership: CampaignMember records of a campaign
found or created by name (a duplicate member counts as present), or a checkbox field set true on
upsert and false on removal. Removals never delete contacts or leads. Record ids come back from
every upsert and are kept in the sync state; removals use them (looked up by external id when
unknown or stale). Auth, limits and failures: cdpkit.destinations.salesforce_api.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from cdpkit.destinations.audience_support import MAPPING_CODE, sync_config
from cdpkit.destinations.base import Batch, BatchResult, Destination, PlanInfo, Record, RunSummary
from cdpkit.destinations.crm_support import chunks
from cdpkit.destinations.errors import BatchRejected, TerminalError
from cdpkit.destinations.salesforce_api import LOGIN_URL, SalesforceApi, soql_quote
from cdpkit.destinations.salesforce_bulk import BulkIngest, JobFailed, JobResult, to_csv
from cdpkit.spec.validation import spec_error
from cdpkit.sync.config import DestinationConfig, SyncConfig
from cdpkit.sync.envref import EnvText, Secret, Text
from cdpkit.sync.http import HttpClient

log = logging.getLogger("cdpkit.destinations.salesforce")

API_NAME = r"^[A-Za-z][A-Za-z0-9_]*$"
MAX_COLLECTION = 200
_API_NAME = re.compile(API_NAME)
ALREADY_MEMBER = "DUPLICATE_VALUE"
GONE = ("ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY")


class SalesforceSync(SyncConfig):
    """A sync to Salesforce: destination fields are field API names."""

    @field_validator("mapping")
    @classmethod
    def _api_names(cls, mapping: dict[str, str]) -> dict[str, str]:
        for name in mapping:
            if not _API_NAME.match(name):
                raise spec_error(
                    MAPPING_CODE,
                    f"'{name}' is not a Salesforce field API name",
                    key=name,
                    hint="e.g. FirstName, MailingCity, Lifetime_Value__c",
                )
        return mapping


class SalesforceConfig(DestinationConfig):
    """A Salesforce org reached with an OAuth 2.0 client-credentials connected app."""

    type: Literal["salesforce"]
    base_url: Text = Field(default_factory=lambda: EnvText(LOGIN_URL))
    client_id: Secret
    client_secret: Secret
    api_version: str = Field(default="62.0", pattern=r"^\d{2}\.\d$")
    object: Literal["Contact", "Lead"] = "Contact"
    external_id_field: str = Field(default="Cdpkit_Key__c", pattern=API_NAME)
    membership: Literal["campaign", "field", "none"] = "campaign"
    campaign_member_status: str | None = None
    bulk_threshold: int = Field(default=10_000, ge=1)
    bulk_poll_interval_s: float = Field(default=2.0, gt=0, le=60)
    bulk_timeout_s: float = Field(default=1800.0, gt=0)
    max_api_usage_percent: float = Field(default=100.0, gt=0, le=100)
    create_defaults: dict[str, str | int | float | bool] = Field(default_factory=dict)
    syncs: list[SalesforceSync] = Field(min_length=1)  # type: ignore[assignment]

    @model_validator(mode="after")
    def _mappings(self) -> SalesforceConfig:
        if float(self.api_version) < 46.0:
            raise spec_error(
                "D003",
                f"api_version {self.api_version} is too old: sObject Collections upsert "
                "needs 46.0 or later",
                hint='use e.g. api_version: "62.0"',
            )
        bad = [name for name in self.create_defaults if not _API_NAME.match(name)]
        if bad:
            raise spec_error(
                MAPPING_CODE,
                f"create_defaults names {', '.join(map(repr, bad))}: use field API names",
                hint='e.g. create_defaults: {LastName: "[not provided]"}',
            )
        for sync in self.syncs:
            source = sync.mapping.get(self.external_id_field)
            if source is not None and source != sync.identifier:
                raise spec_error(
                    MAPPING_CODE,
                    f"sync '{sync.sync_name}' maps {self.external_id_field} from '{source}', but "
                    f"the external id field always holds the sync's identifier "
                    f"('{sync.identifier}')",
                    hint=f"remove {self.external_id_field} from the mapping",
                )
            if self.membership == "field" and not (
                sync.list and sync.list.endswith("__c") and _API_NAME.match(sync.list)
            ):
                raise spec_error(
                    MAPPING_CODE,
                    f"sync '{sync.sync_name}': with membership: field, `list:` names the "
                    "checkbox field that marks members",
                    hint="e.g. list: Pricing_Lurker__c",
                )
        return self


class SalesforceDestination(Destination):
    type = "salesforce"
    config_model = SalesforceConfig
    description = "Salesforce: Contacts/Leads upserted by external id, audience as a Campaign"
    max_batch_size = 10_000
    default_batch_size = 2_000
    rate_limit = None  # Salesforce meters requests per 24 h, not per second (see salesforce_api)
    max_concurrency = 4

    config: SalesforceConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._api_client: SalesforceApi | None = None
        self._lock = threading.Lock()
        # What a batch got confirmed before a retry of it (forgotten when the batch is done):
        self._confirmed: dict[str, str] = {}  # payload digest -> record id
        self._jobs: dict[str, str] = {}  # "upsert:<batch key>" / "members:<batch key>" -> job
        self.bulk = False
        self.campaign_id: str | None = None

    def account_key(self) -> str:
        client = hashlib.sha256(self.config.client_id.reveal().encode()).hexdigest()[:16]
        return f"salesforce:{self.config.base_url.resolve()}:{client}"

    @property
    def api(self) -> SalesforceApi:
        if self._api_client is None:
            self._api_client = make_api(self.config, self.http, self.sync.destination)
        return self._api_client

    @property
    def obj(self) -> str:
        return self.config.object

    @property
    def ext(self) -> str:
        return self.config.external_id_field

    @property
    def person_field(self) -> str:
        return "ContactId" if self.obj == "Contact" else "LeadId"

    # -- lifecycle ---------------------------------------------------------------------------
    def check(self) -> None:
        """Authenticate and read the object's fields: every name the sync uses must exist."""
        described = self.api.json("GET", f"{self.api.data_path}/sobjects/{self.obj}/describe")
        fields = {f["name"]: f for f in (described or {}).get("fields", [])}
        ext = fields.get(self.ext)
        if ext is None or not ext.get("externalId"):
            raise TerminalError(
                f"Salesforce {self.obj} has no external id field {self.ext}: create a Text field "
                "with 'External ID' and 'Unique' checked, or set external_id_field to one"
            )
        sync = sync_config(self.config.syncs, self.sync)
        wanted = [n for n in sync.mapping if n != self.ext]
        missing = [n for n in wanted if n not in fields]
        if self.config.membership == "field":
            flag = fields.get(self.sync.list_name)
            if flag is None or flag.get("type") != "boolean":
                raise TerminalError(
                    f"Salesforce {self.obj} has no checkbox field {self.sync.list_name} "
                    "(membership: field); create it or change the sync's `list:`"
                )
        if missing:
            raise TerminalError(
                f"Salesforce {self.obj} has no field(s) {', '.join(missing)} (mapped by sync "
                f"'{self.sync.sync_name}'); use API names (custom fields end in __c)"
            )
        locked = [n for n in wanted if not fields[n].get("updateable")]
        if locked:
            raise TerminalError(
                f"Salesforce {self.obj} field(s) {', '.join(locked)} cannot be written by the "
                "run-as user; remove them from the mapping or grant field access"
            )
        required = [
            name
            for name, f in fields.items()
            if f.get("createable")
            and not f.get("nillable")
            and not f.get("defaultedOnCreate")
            and name not in sync.mapping
            and name not in self.config.create_defaults
            and name != self.ext
        ]
        if required:
            log.warning(
                "%s: %s requires %s on create but the sync does not map them: new records will "
                "be rejected",
                self.sync.sync_id,
                self.obj,
                ", ".join(required),
            )

    def open(self, plan: PlanInfo) -> None:
        self.bulk = plan.adds + plan.updates >= self.config.bulk_threshold
        if self.bulk:
            log.info(
                "%s: %d upserts: using Bulk API 2.0", self.sync.sync_id, plan.adds + plan.updates
            )
        if self.config.membership == "campaign":
            self.campaign_id = self._find_or_create_campaign(self.sync.list_name)

    def close(self, summary: RunSummary) -> None:
        usage = self.api.usage
        if usage.used is not None:
            log.info(
                "%s: Sforce-Limit-Info api-usage=%s/%s", self.sync.sync_id, usage.used, usage.limit
            )

    # -- upsert ------------------------------------------------------------------------------
    def upsert(self, batch: Batch) -> BatchResult:
        rejected: dict[str, str] = {}
        groups: dict[str, list[Record]] = {}
        for record in batch.records:
            if not record.key.strip():
                rejected[record.key] = "empty identifier"
                continue
            groups.setdefault(record.key.strip().lower(), []).append(record)
        payloads = {norm: self._payload(records) for norm, records in groups.items()}
        digests = {norm: _digest(p) for norm, p in payloads.items()}
        with self._lock:
            done = {n: self._confirmed[d] for n, d in digests.items() if d in self._confirmed}
        todo = {n: p for n, p in payloads.items() if n not in done}
        if todo:
            if self.bulk:
                ids, failed, missing = self._bulk_upsert(batch, todo)
            else:
                ids, failed, missing = self._collections_upsert(todo, digests)
            retry = self._with_create_defaults(todo, missing)
            if retry:  # new records lacking required fields: again, with the configured defaults
                ids2, failed2, _ = self._collections_upsert(retry, digests)
                ids.update(ids2)
                failed = {n: r for n, r in failed.items() if n not in ids2} | failed2
            with self._lock:
                self._confirmed.update({digests[n]: rid for n, rid in ids.items()})
            done.update(ids)
            for norm, reason in failed.items():
                for record in groups[norm]:
                    rejected[record.key] = reason
        if self.campaign_id is not None and done:
            for norm, reason in self._add_members(batch, done).items():
                done.pop(norm, None)
                for record in groups[norm]:
                    rejected[record.key] = reason
        destination_ids = {
            r.key: done[norm] for norm, rs in groups.items() if norm in done for r in rs
        }
        with self._lock:  # the batch is done: its memo is not needed any more (bounded memory)
            for digest in digests.values():
                self._confirmed.pop(digest, None)
            for kind in ("upsert", "members"):
                self._jobs.pop(f"{kind}:{batch.idempotency_key}", None)
        return BatchResult(rejected=rejected, destination_ids=destination_ids)

    def _payload(self, records: list[Record]) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        for record in records:
            fields.update(record.json_fields())
        fields.pop(self.ext, None)
        payload = {self.ext: records[0].key.strip(), **fields}
        if self.config.membership == "field":
            payload[self.sync.list_name] = True
        return payload

    def _with_create_defaults(
        self, todo: dict[str, dict[str, Any]], missing: dict[str, set[str]]
    ) -> dict[str, dict[str, Any]]:
        """Payloads to send again: records that do not exist yet and lack only fields that
        `create_defaults` provides (safe: nothing existing is overwritten by a default)."""
        defaults = self.config.create_defaults
        retry: dict[str, dict[str, Any]] = {}
        for norm, fields in missing.items():
            if fields and fields <= set(defaults):
                payload = dict(todo[norm])
                for name, value in defaults.items():
                    if payload.get(name) is None:
                        payload[name] = value
                retry[norm] = payload
        return retry

    def _collections_upsert(
        self, todo: dict[str, dict[str, Any]], digests: dict[str, str]
    ) -> tuple[dict[str, str], dict[str, str], dict[str, set[str]]]:
        """(norm -> id, norm -> rejection reason, norm -> required fields it lacked)."""
        ids: dict[str, str] = {}
        failed: dict[str, str] = {}
        missing: dict[str, set[str]] = {}
        path = f"{self.api.data_path}/composite/sobjects/{self.obj}/{self.ext}"
        items = list(todo.items())
        for part in chunks(items, MAX_COLLECTION):
            body = {
                "allOrNone": False,
                "records": [{"attributes": {"type": self.obj}, **p} for _, p in part],
            }
            response = self.api.call("PATCH", path, json_body=body, allow=(400,))
            results = response.json()
            if response.status_code == 400:
                self._refused(results)
            for (norm, _), result in zip(part, results, strict=True):
                if result.get("success"):
                    ids[norm] = str(result["id"])
                    with self._lock:
                        self._confirmed[digests[norm]] = ids[norm]  # survives a retry
                else:
                    errors = result.get("errors") or []
                    failed[norm] = _reason(errors)
                    if _codes(errors) == {"REQUIRED_FIELD_MISSING"}:
                        missing[norm] = {f for e in errors for f in e.get("fields") or []}
        return ids, failed, missing

    def _refused(self, body: Any) -> None:
        first = body[0] if isinstance(body, list) and body and isinstance(body[0], dict) else {}
        code, message = first.get("errorCode", ""), first.get("message", str(body)[:300])
        if code in ("INVALID_FIELD", "INVALID_TYPE", "NOT_FOUND"):
            raise TerminalError(f"Salesforce refused the request ({code}): {message}")
        raise BatchRejected(f"Salesforce refused the batch (400 {code}): {message}")

    def _bulk_upsert(
        self, batch: Batch, todo: dict[str, dict[str, Any]]
    ) -> tuple[dict[str, str], dict[str, str], dict[str, set[str]]]:
        columns = list(dict.fromkeys(k for p in todo.values() for k in p))
        result = self._job(
            f"upsert:{batch.idempotency_key}", "upsert", columns, list(todo.values()), self.ext
        )
        ids = {r[self.ext].strip().lower(): r["sf__Id"] for r in result.successes}
        failed: dict[str, str] = {}
        missing: dict[str, set[str]] = {}
        for row in result.failures:
            norm, error = row[self.ext].strip().lower(), row.get("sf__Error", "")
            failed[norm] = _bulk_reason(error)
            if error.startswith("REQUIRED_FIELD_MISSING:"):
                fields = error.removesuffix("--").strip().rsplit(":", 1)[-1]
                missing[norm] = {f.strip() for f in fields.split(",") if f.strip()}
        lost = [n for n in todo if n not in ids and n not in failed]
        for norm in lost:
            failed[norm] = f"Bulk API job {result.job_id} returned no result for this record"
        return {n: i for n, i in ids.items() if n in todo}, failed, missing

    def _job(
        self,
        memo: str,
        operation: str,
        columns: list[str],
        rows: list[dict[str, Any]],
        external_id: str | None,
        obj: str | None = None,
    ) -> JobResult:
        runner = BulkIngest(
            self.api,
            poll_interval_s=self.config.bulk_poll_interval_s,
            timeout_s=self.config.bulk_timeout_s,
            stop=self.http.stop,
        )
        with self._lock:
            job_id = self._jobs.get(memo)
        if job_id is None:
            job_id = runner.start(obj or self.obj, operation, to_csv(columns, rows), external_id)
            with self._lock:
                self._jobs[memo] = job_id
        try:
            return runner.wait(job_id)
        except JobFailed:
            with self._lock:
                self._jobs.pop(memo, None)  # the retry starts a new job
            raise

    # -- membership --------------------------------------------------------------------------
    def _add_members(self, batch: Batch, ids: dict[str, str]) -> dict[str, str]:
        """Add records to the campaign; returns norm key -> reason for those that failed."""
        todo = dict(ids)  # re-adding a member is answered DUPLICATE_VALUE: counted as present
        status = self.config.campaign_member_status
        rows = [
            {
                "CampaignId": self.campaign_id,
                self.person_field: rid,
                **({"Status": status} if status else {}),
            }
            for rid in dict.fromkeys(todo.values())
        ]
        failures: dict[str, str] = {}  # record id -> reason
        if self.bulk:
            columns = list(rows[0])
            result = self._job(
                f"members:{batch.idempotency_key}", "insert", columns, rows, None, "CampaignMember"
            )
            for row in result.failures:
                error = row.get("sf__Error", "")
                if not error.startswith(ALREADY_MEMBER):
                    failures[row.get(self.person_field, "")] = _bulk_reason(error)
        else:
            for part in chunks(rows, MAX_COLLECTION):
                body = {
                    "allOrNone": False,
                    "records": [{"attributes": {"type": "CampaignMember"}, **r} for r in part],
                }
                results = self.api.json(
                    "POST", f"{self.api.data_path}/composite/sobjects", json_body=body
                )
                for row, result in zip(part, results, strict=True):
                    errors = result.get("errors") or []
                    if result.get("success") or _codes(errors) == {ALREADY_MEMBER}:
                        continue
                    failures[row[self.person_field]] = _reason(errors)
        return {
            n: f"could not add to campaign '{self.sync.list_name}': {failures[rid]}"
            for n, rid in todo.items()
            if rid in failures
        }

    def remove(self, batch: Batch) -> BatchResult:
        if self.config.membership == "none":
            return BatchResult.ok()  # records are never deleted; nothing marks membership
        stored = {r.key: r.destination_id for r in batch.records if r.destination_id}
        ids = dict(stored)
        ids.update(self._ids_by_key([r.key for r in batch.records if not r.destination_id]))
        rejected: dict[str, str] = {}
        if self.config.membership == "campaign":
            untouched = self._remove_members(ids)
        else:
            untouched, rejected = self._clear_flags(ids)
        stale = [k for k in untouched if k in stored]
        if stale:  # ids can go stale when records are merged or re-created: look them up again
            fresh = {k: v for k, v in self._ids_by_key(stale).items() if v != stored[k]}
            if fresh and self.config.membership == "campaign":
                self._remove_members(fresh)
            elif fresh:
                rejected.update(self._clear_flags(fresh)[1])
        return BatchResult(rejected=rejected)

    def _remove_members(self, ids: dict[str, str]) -> list[str]:
        """Delete the CampaignMembers of these records; returns keys that had none."""
        by_id = {rid: key for key, rid in ids.items()}
        found: set[str] = set()
        member_ids: list[str] = []
        for part in chunks(list(by_id), MAX_COLLECTION):
            soql = (
                f"SELECT Id, {self.person_field} FROM CampaignMember WHERE CampaignId = "
                f"{soql_quote(self.campaign_id or '')} AND {self.person_field} IN "
                f"({', '.join(soql_quote(i) for i in part)})"
            )
            for row in self.api.query(soql):
                member_ids.append(str(row["Id"]))
                found.add(str(row.get(self.person_field)))
        for part in chunks(member_ids, MAX_COLLECTION):
            results = self.api.json(
                "DELETE",
                f"{self.api.data_path}/composite/sobjects",
                params={"ids": ",".join(part), "allOrNone": "false"},
            )
            for result in results or []:
                if not result.get("success") and not _codes(result.get("errors")) & set(GONE):
                    raise TerminalError(
                        f"Salesforce refused to delete CampaignMember {result.get('id')}: "
                        f"{_reason(result.get('errors'))}"
                    )
        return [key for rid, key in by_id.items() if rid not in found]

    def _clear_flags(self, ids: dict[str, str]) -> tuple[list[str], dict[str, str]]:
        """Set the membership checkbox false; (keys whose record is gone, rejections)."""
        gone: list[str] = []
        rejected: dict[str, str] = {}
        items = list(ids.items())
        for part in chunks(items, MAX_COLLECTION):
            body = {
                "allOrNone": False,
                "records": [
                    {"attributes": {"type": self.obj}, "Id": rid, self.sync.list_name: False}
                    for _, rid in part
                ],
            }
            results = self.api.json(
                "PATCH", f"{self.api.data_path}/composite/sobjects", json_body=body
            )
            for (key, _), result in zip(part, results, strict=True):
                if result.get("success"):
                    continue
                if _codes(result.get("errors")) & set(GONE):
                    gone.append(key)
                else:
                    rejected[key] = _reason(result.get("errors"))
        return gone, rejected

    def _ids_by_key(self, keys: Sequence[str]) -> dict[str, str]:
        """key -> record id for the external ids Salesforce knows."""
        out: dict[str, str] = {}
        for part in chunks(list(keys), MAX_COLLECTION):
            soql = (
                f"SELECT Id, {self.ext} FROM {self.obj} WHERE {self.ext} IN "
                f"({', '.join(soql_quote(k.strip()) for k in part)})"
            )
            found = {
                str(r.get(self.ext) or "").strip().lower(): str(r["Id"])
                for r in self.api.query(soql)
            }
            for key in part:
                if key.strip().lower() in found:
                    out[key] = found[key.strip().lower()]
        return out

    def _find_or_create_campaign(self, name: str) -> str:
        soql = (
            f"SELECT Id FROM Campaign WHERE Name = {soql_quote(name)} ORDER BY CreatedDate LIMIT 1"
        )
        rows = list(self.api.query(soql))
        if rows:
            return str(rows[0]["Id"])
        created = self.api.json(
            "POST",
            f"{self.api.data_path}/sobjects/Campaign",
            json_body={"Name": name, "IsActive": True},
            allow=(400,),
        )
        if not isinstance(created, dict) or not created.get("id"):
            raise TerminalError(f"Salesforce refused to create campaign '{name}': {created}")
        log.info("created Salesforce campaign '%s' (%s)", name, created["id"])
        return str(created["id"])


def make_api(config: SalesforceConfig, http: HttpClient, destination: str) -> SalesforceApi:
    """The API client of a destination (credentials resolved from the environment)."""
    return SalesforceApi(
        http,
        login_url=config.base_url.resolve(),
        client_id=config.client_id.reveal(),
        client_secret=config.client_secret.reveal(),
        version=config.api_version,
        where=f"Salesforce ({destination})",
        credentials_ref=f"the client credentials in {config.client_id} / {config.client_secret}",
        max_usage_percent=config.max_api_usage_percent,
    )


def _digest(payload: dict[str, Any]) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _codes(errors: Iterable[Any] | None) -> set[str]:
    return {
        str(e.get("statusCode") or e.get("errorCode")) for e in errors or [] if isinstance(e, dict)
    }


def _reason(errors: Iterable[Any] | None) -> str:
    parts = []
    for error in errors or []:
        if isinstance(error, dict):
            fields = f" ({', '.join(error.get('fields') or [])})" if error.get("fields") else ""
            code = error.get("statusCode") or error.get("errorCode")
            parts.append(f"{code}: {error.get('message')}{fields}")
    return "; ".join(parts) or "rejected by Salesforce"


def _bulk_reason(error: str) -> str:
    """`CODE:message:fields --` from a failedResults row, as `CODE: message`."""
    code, _, rest = error.partition(":")
    message = rest.rsplit(":", 1)[0] if rest.endswith("--") else rest
    return f"{code}: {message.strip()}" if rest else error
