"""The Salesforce fake's org: object schemas, records, and DML with Salesforce's rules.

Errors come in two kinds, as in Salesforce: `RequestError` refuses a whole call (HTTP 400 with
the top-level array body `[{"message", "errorCode", "fields"}]`), `RecordError` fails one
record (`{"statusCode", "message", "fields"}` in a per-record result). No HTTP here.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
PREFIXES = {
    "Account": "001",
    "Contact": "003",
    "Lead": "00Q",
    "Campaign": "701",
    "CampaignMember": "00v",
}


class RequestError(Exception):
    """The whole call is refused (HTTP `status`, Salesforce's top-level error array)."""

    def __init__(self, code: str, message: str, status: int = 400, fields: list[str] | None = None):
        super().__init__(message)
        self.code, self.message, self.status, self.fields = code, message, status, fields or []

    def body(self) -> list[dict[str, Any]]:
        item: dict[str, Any] = {"message": self.message, "errorCode": self.code}
        if self.fields:
            item["fields"] = self.fields
        return [item]


class RecordError(Exception):
    """One record failed; the rest of the call goes on."""

    def __init__(self, code: str, message: str, fields: list[str] | None = None):
        super().__init__(message)
        self.code, self.message, self.fields = code, message, fields or []

    def item(self) -> dict[str, Any]:
        return {"statusCode": self.code, "message": self.message, "fields": self.fields}

    def bulk(self) -> str:
        """The `sf__Error` text of a Bulk API result row."""
        return f"{self.code}:{self.message}:{','.join(self.fields)} --"


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str = "string"  # id string email phone boolean double datetime reference picklist
    length: int = 255
    external_id: bool = False
    unique: bool = False
    createable: bool = True
    updateable: bool = True
    nillable: bool = True
    default: Any = None
    reference_to: str | None = None

    @property
    def required(self) -> bool:
        return self.createable and not self.nillable and self.default is None

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.name.removesuffix("__c").replace("_", " "),
            "type": self.type,
            "length": self.length if self.type in ("string", "email", "phone", "picklist") else 0,
            "externalId": self.external_id,
            "unique": self.unique,
            "idLookup": self.external_id or self.type == "id",
            "createable": self.createable,
            "updateable": self.updateable,
            "nillable": self.nillable,
            "defaultedOnCreate": self.default is not None,
            "caseSensitive": False,
            "custom": self.name.endswith("__c"),
            "referenceTo": [self.reference_to] if self.reference_to else [],
        }


def _system() -> list[FieldDef]:
    return [
        FieldDef("Id", "id", 18, createable=False, updateable=False, nillable=False),
        FieldDef("CreatedDate", "datetime", createable=False, updateable=False, nillable=False),
        FieldDef(
            "LastModifiedDate", "datetime", createable=False, updateable=False, nillable=False
        ),
    ]


def default_schema() -> dict[str, dict[str, FieldDef]]:
    key = FieldDef("Cdpkit_Key__c", external_id=True, unique=True)
    objects = {
        "Account": [FieldDef("Name", nillable=False), FieldDef("Industry")],
        "Contact": [
            FieldDef("FirstName", length=40),
            FieldDef("LastName", length=80, nillable=False),
            FieldDef("Email", "email", 80),
            FieldDef("Phone", "phone", 40),
            FieldDef("Title", length=128),
            FieldDef("MailingCity", length=40),
            FieldDef("MailingCountry", length=80),
            FieldDef("AccountId", "reference", 18, reference_to="Account"),
            FieldDef("Description", length=32_000),
            key,
        ],
        "Lead": [
            FieldDef("FirstName", length=40),
            FieldDef("LastName", length=80, nillable=False),
            FieldDef("Company", nillable=False),
            FieldDef("Email", "email", 80),
            FieldDef("Phone", "phone", 40),
            FieldDef("Title", length=128),
            FieldDef("Status", "picklist", 40, nillable=False, default="Open - Not Contacted"),
            FieldDef("City", length=40),
            FieldDef("Country", length=80),
            key,
        ],
        "Campaign": [
            FieldDef("Name", length=80, nillable=False),
            FieldDef("IsActive", "boolean", default=False, nillable=False),
            FieldDef("Status", "picklist", 40),
            FieldDef("Type", "picklist", 40),
        ],
        "CampaignMember": [
            FieldDef(
                "CampaignId",
                "reference",
                18,
                updateable=False,
                nillable=False,
                reference_to="Campaign",
            ),
            FieldDef("ContactId", "reference", 18, updateable=False, reference_to="Contact"),
            FieldDef("LeadId", "reference", 18, updateable=False, reference_to="Lead"),
            FieldDef("Status", "picklist", 40, default="Sent", nillable=False),
        ],
    }
    return {name: {f.name: f for f in [*_system(), *fields]} for name, fields in objects.items()}


def sf_time(epoch: float) -> str:
    moment = dt.datetime.fromtimestamp(epoch, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def parse_time(text: str) -> dt.datetime | None:
    value = text.strip().replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", value):
        value = value[:-2] + ":" + value[-2:]
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


class Org:
    """One Salesforce org's data (guard with `lock`)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.schema = default_schema()
        self.records: dict[str, dict[str, dict[str, Any]]] = {o: {} for o in self.schema}
        self.reject: dict[str, str] = {}  # lower-cased external id -> per-record failure reason
        self._keys: dict[tuple[str, str], dict[str, set[str]]] = {}  # (object, field) -> value
        self._members: set[tuple[str, str]] = set()  # (CampaignId, ContactId or LeadId)
        self._ids = itertools.count(1)
        self._last = 0.0

    def now(self) -> float:
        moment = round(time.time(), 3)
        if moment <= self._last:
            moment = round(self._last + 0.001, 3)
        self._last = moment
        return moment

    def new_id(self, obj: str) -> str:
        return f"{PREFIXES.get(obj, 'a0X')}Dn000{next(self._ids):010d}"

    def object(self, name: str) -> dict[str, FieldDef]:
        if name not in self.schema:
            raise RequestError("NOT_FOUND", "The requested resource does not exist", 404)
        return self.schema[name]

    def external_field(self, obj: str, name: str) -> FieldDef:
        fields = self.object(obj)
        found = fields.get(name)
        if found is None or not (found.external_id or found.type == "id"):
            raise RequestError(
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {name}",
                404,
            )
        return found

    # -- indexes (external ids, campaign members) -----------------------------------------------
    def reindex(self) -> None:
        """Rebuild the indexes after `records` was replaced (rollback) or the schema changed."""
        self._keys.clear()
        self._members.clear()
        for obj, records in self.records.items():
            for rid, record in records.items():
                self._index(obj, rid, record, add=True)

    def _index(self, obj: str, rid: str, record: dict[str, Any], *, add: bool) -> None:
        for name, f in self.schema[obj].items():
            value = record.get(name)
            if f.external_id and value is not None:
                bucket = self._keys.setdefault((obj, name), {}).setdefault(
                    str(value).strip().lower(), set()
                )
                (bucket.add if add else bucket.discard)(rid)
        if obj == "CampaignMember":
            pair = (record.get("CampaignId"), record.get("ContactId") or record.get("LeadId"))
            (self._members.add if add else self._members.discard)(pair)  # type: ignore[arg-type]

    def find_by(self, obj: str, field_name: str, value: Any) -> list[str]:
        wanted = str(value).strip().lower()
        if self.schema[obj][field_name].external_id:
            return sorted(self._keys.get((obj, field_name), {}).get(wanted, set()))
        return [
            rid
            for rid, rec in self.records[obj].items()
            if rec.get(field_name) is not None and str(rec[field_name]).strip().lower() == wanted
        ]

    # -- validation ----------------------------------------------------------------------------
    def check_columns(self, obj: str, names: list[str]) -> None:
        """Unknown fields refuse the whole request (INVALID_FIELD)."""
        fields = self.object(obj)
        for name in names:
            if name != "attributes" and name not in fields:
                raise RequestError(
                    "INVALID_FIELD", f"No such column '{name}' on sobject of type {obj}"
                )

    def coerce(self, obj: str, values: dict[str, Any], *, text: bool = False) -> dict[str, Any]:
        """JSON (or CSV text) values checked against the field types.

        JSON type mismatches refuse the whole request (JSON_PARSER_ERROR), as Salesforce's
        deserializer does; CSV mismatches fail the row (INVALID_TYPE_ON_FIELD_IN_RECORD).
        """
        fields = self.object(obj)
        out: dict[str, Any] = {}
        for name, value in values.items():
            if name == "attributes":
                continue
            f = fields[name]
            if value is None:
                out[name] = None
                continue
            try:
                out[name] = _coerce(f, value, text=text)
            except ValueError:
                message = f"{name}: value not of required type: {value}"
                if text:
                    raise RecordError("INVALID_TYPE_ON_FIELD_IN_RECORD", message, [name]) from None
                raise RequestError(
                    "JSON_PARSER_ERROR",
                    f"Cannot deserialize instance of {f.type} from value {value!r} for field "
                    f"{name}",
                ) from None
        return out

    def _check_record(self, obj: str, values: dict[str, Any], *, creating: bool) -> None:
        fields = self.object(obj)
        locked = [
            n for n in values if not (fields[n].createable if creating else fields[n].updateable)
        ]
        if locked:
            raise RecordError(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {', '.join(locked)}. Please check the security "
                "settings of this field and verify that it is read/write for your profile or "
                "permission set.",
                locked,
            )
        for name, value in values.items():
            f = fields[name]
            if value is None and not f.nillable:
                raise RecordError(
                    "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{name}]", [name]
                )
            if value is None:
                continue
            if f.type == "email" and not EMAIL.match(str(value)):
                raise RecordError(
                    "INVALID_EMAIL_ADDRESS", f"{name}: invalid email address: {value}", [name]
                )
            if f.type in ("string", "email", "phone", "picklist") and len(str(value)) > f.length:
                raise RecordError(
                    "STRING_TOO_LONG",
                    f"{name}: data value too large: {str(value)[:40]} (max length={f.length})",
                    [name],
                )
            if f.type == "reference" and value not in self.records.get(f.reference_to or "", {}):
                raise RecordError(
                    "INVALID_CROSS_REFERENCE_KEY",
                    f"{name}: id value of incorrect type: {value}",
                    [name],
                )
        if creating:
            missing = [n for n, f in fields.items() if f.required and values.get(n) is None]
            if missing:
                raise RecordError(
                    "REQUIRED_FIELD_MISSING",
                    f"Required fields are missing: [{', '.join(missing)}]",
                    missing,
                )
        if obj == "CampaignMember":
            self._check_member(values, creating=creating)

    def _check_member(self, values: dict[str, Any], *, creating: bool) -> None:
        if not creating:
            return
        who = values.get("ContactId") or values.get("LeadId")
        if not who:
            raise RecordError(
                "REQUIRED_FIELD_MISSING",
                "Required fields are missing: [ContactId, LeadId]",
                ["ContactId", "LeadId"],
            )
        if (values["CampaignId"], who) in self._members:
            raise RecordError("DUPLICATE_VALUE", "Already a campaign member.", [])

    # -- DML -----------------------------------------------------------------------------------
    def create(self, obj: str, values: dict[str, Any]) -> str:
        fields = self.object(obj)
        self._check_record(obj, values, creating=True)
        rid = self.new_id(obj)
        moment = sf_time(self.now())
        record = {n: f.default for n, f in fields.items() if f.default is not None}
        record.update(values)
        record.update(Id=rid, CreatedDate=moment, LastModifiedDate=moment)
        self.records[obj][rid] = record
        self._index(obj, rid, record, add=True)
        return rid

    def update(self, obj: str, rid: str, values: dict[str, Any]) -> None:
        self._check_record(obj, values, creating=False)
        record = self.records[obj][rid]
        self._index(obj, rid, record, add=False)
        record.update(values)
        record["LastModifiedDate"] = sf_time(self.now())
        self._index(obj, rid, record, add=True)

    def upsert(self, obj: str, ext_field: str, values: dict[str, Any]) -> tuple[str, bool]:
        """(id, created) for one record keyed by `ext_field`."""
        key = values.get(ext_field)
        if key in (None, ""):
            raise RecordError("MISSING_ARGUMENT", f"{ext_field} not specified", [ext_field])
        reason = self.reject.get(str(key).strip().lower())
        if reason:
            raise RecordError("INVALID_EMAIL_ADDRESS", reason, ["Email"])
        matches = (
            self.find_by(obj, ext_field, key)
            if ext_field != "Id"
            else ([str(key)] if str(key) in self.records[obj] else [])
        )
        if len(matches) > 1:
            raise RecordError(
                "DUPLICATE_EXTERNAL_ID",
                f"The record you are attempting to edit, or one of its related records, has "
                f"more than one match for {ext_field} {key}",
                [ext_field],
            )
        if matches:
            self.update(obj, matches[0], {k: v for k, v in values.items() if k != "Id"})
            return matches[0], False
        if ext_field == "Id":
            raise RecordError("NOT_FOUND", f"Record {key} does not exist", ["Id"])
        return self.create(obj, values), True

    def delete(self, rid: str) -> None:
        for obj, records in self.records.items():
            if rid in records:
                self._index(obj, rid, records.pop(rid), add=False)
                if obj in ("Contact", "Lead"):
                    members = self.records["CampaignMember"]
                    for mid in [
                        m
                        for m, r in members.items()
                        if rid in (r.get("ContactId"), r.get("LeadId"))
                    ]:
                        self._index("CampaignMember", mid, members.pop(mid), add=False)
                return
        raise RecordError("ENTITY_IS_DELETED", "entity is deleted", [])

    def snapshot(self) -> dict[str, Any]:
        """For inspection: record counts and campaigns with their member keys."""
        campaigns = {}
        for cid, camp in self.records["Campaign"].items():
            members = []
            for m in self.records["CampaignMember"].values():
                if m["CampaignId"] != cid:
                    continue
                who = m.get("ContactId") or m.get("LeadId")
                person = self.records["Contact"].get(who) or self.records["Lead"].get(who) or {}
                members.append(person.get("Cdpkit_Key__c") or person.get("Email") or who)
            campaigns[camp["Name"]] = {"id": cid, "members": sorted(map(str, members))}
        return {
            "counts": {o: len(r) for o, r in self.records.items()},
            "campaigns": campaigns,
        }


def _coerce(f: FieldDef, value: Any, *, text: bool) -> Any:
    if f.type == "boolean":
        if isinstance(value, bool):
            return value
        if text and str(value).lower() in ("true", "false", "1", "0"):
            return str(value).lower() in ("true", "1")
        raise ValueError
    if f.type == "double":
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, int | float):
            return value
        if text:
            return float(str(value))
        raise ValueError
    if f.type == "datetime":
        if not isinstance(value, str) or parse_time(value) is None:
            raise ValueError
        return value
    if isinstance(value, dict | list):
        raise ValueError
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


@dataclass
class Session:
    token: str
    expires: float
    client_id: str
    scopes: set[str] = field(default_factory=lambda: {"api"})
