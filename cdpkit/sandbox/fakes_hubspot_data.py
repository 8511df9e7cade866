"""The HubSpot fake's portal: contact properties, contacts, static lists, and value validation.

Plain data with HubSpot's rules (api-contracts §1): emails unique case-insensitively, values
stored as strings, read-only and unknown properties refused, values checked per property type,
list membership only on MANUAL/SNAPSHOT lists with set semantics. No HTTP here.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
CONTACTS_TYPE_ID = "0-1"
TYPES = {
    "string": {"text", "textarea", "phonenumber", "html", "file"},
    "number": {"number", "calculation_equation"},
    "bool": {"booleancheckbox"},
    "date": {"date"},
    "datetime": {"date"},
    "enumeration": {"select", "radio", "checkbox", "booleancheckbox"},
}
LIFECYCLE = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)


@dataclass(frozen=True)
class Property:
    name: str
    label: str
    type: str = "string"
    field_type: str = "text"
    group: str = "contactinformation"
    read_only: bool = False
    unique: bool = False
    options: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "fieldType": self.field_type,
            "groupName": self.group,
            "hasUniqueValue": self.unique,
            "modificationMetadata": {"readOnlyValue": self.read_only, "archivable": True},
            "options": [{"label": o, "value": o} for o in self.options],
            "hubspotDefined": self.group == "contactinformation" and not self.name.startswith("x"),
        }


def default_properties() -> dict[str, Property]:
    props = [
        Property("email", "Email", unique=True),
        Property("firstname", "First Name"),
        Property("lastname", "Last Name"),
        Property("phone", "Phone Number", field_type="phonenumber"),
        Property("company", "Company Name"),
        Property("jobtitle", "Job Title"),
        Property("city", "City"),
        Property("country", "Country/Region"),
        Property("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", options=LIFECYCLE),
        Property("createdate", "Create Date", "datetime", "date", read_only=True),
        Property("lastmodifieddate", "Last Modified Date", "datetime", "date", read_only=True),
        Property("hs_object_id", "Record ID", "number", "number", read_only=True),
    ]
    return {p.name: p for p in props}


@dataclass
class Contact:
    id: str
    properties: dict[str, str]
    created_at: float
    updated_at: float

    def as_json(self, names: list[str] | None = None) -> dict[str, Any]:
        props = dict(self.properties)
        props.update(
            hs_object_id=self.id,
            createdate=stamp(self.created_at),
            lastmodifieddate=stamp(self.updated_at),
        )
        if names is not None:
            props = {n: props.get(n) for n in names}
        return {
            "id": self.id,
            "properties": props,
            "createdAt": stamp(self.created_at),
            "updatedAt": stamp(self.updated_at),
            "archived": False,
        }


@dataclass
class StaticList:
    list_id: str
    name: str
    processing_type: str
    created_at: float
    members: set[str] = field(default_factory=set)
    version: int = 1

    def as_json(self) -> dict[str, Any]:
        return {
            "listId": self.list_id,
            "listVersion": self.version,
            "name": self.name,
            "objectTypeId": CONTACTS_TYPE_ID,
            "processingType": self.processing_type,
            "processingStatus": "COMPLETE",
            "createdAt": stamp(self.created_at),
            "updatedAt": stamp(self.created_at),
            "size": len(self.members),
        }


def stamp(epoch: float) -> str:
    moment = dt.datetime.fromtimestamp(epoch, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def problem(name: str, error: str, message: str) -> dict[str, Any]:
    return {
        "isValid": False,
        "message": message,
        "error": error,
        "name": name,
        "localizedErrorMessage": message,
    }


class Portal:
    """One HubSpot account's CRM data (guard with `lock`)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.properties = default_properties()
        self.contacts: dict[str, Contact] = {}
        self.by_email: dict[str, str] = {}
        self.lists: dict[str, StaticList] = {}
        self._contact_ids = itertools.count(101)
        self._list_ids = itertools.count(1)
        self._last_stamp = 0.0

    # -- time ----------------------------------------------------------------------------------
    def now(self) -> float:
        """Strictly increasing timestamps (ms resolution), so updatedAt always moves forward."""
        moment = round(time.time(), 3)
        if moment <= self._last_stamp:
            moment = round(self._last_stamp + 0.001, 3)
        self._last_stamp = moment
        return moment

    # -- validation ----------------------------------------------------------------------------
    def check_values(
        self, values: dict[str, Any], *, on_create: bool = True
    ) -> list[dict[str, Any]]:
        """HubSpot's per-property problems for one input (empty when every value is valid)."""
        problems = []
        for name, value in values.items():
            prop = self.properties.get(name)
            if prop is None:
                problems.append(
                    problem(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
                )
                continue
            if prop.read_only:
                problems.append(
                    problem(
                        name,
                        "READ_ONLY_VALUE",
                        f'"{name}" is a read only property; its value cannot be set.',
                    )
                )
                continue
            reason = _bad_value(prop, value)
            if reason is not None:
                problems.append(problem(name, reason[0], reason[1]))
        return problems

    # -- contacts ------------------------------------------------------------------------------
    def find(self, id_property: str | None, value: str) -> Contact | None:
        if id_property in (None, "hs_object_id"):
            return self.contacts.get(str(value))
        if id_property == "email":
            cid = self.by_email.get(str(value).strip().lower())
            return self.contacts.get(cid) if cid else None
        for contact in self.contacts.values():
            if contact.properties.get(id_property) == str(value):
                return contact
        return None

    def create(self, values: dict[str, Any]) -> Contact:
        moment = self.now()
        contact = Contact(str(next(self._contact_ids)), {}, moment, moment)
        self._write(contact, values)
        self.contacts[contact.id] = contact
        return contact

    def update(self, contact: Contact, values: dict[str, Any]) -> None:
        """Write values; lastmodifieddate moves only when a value actually changed."""
        before = dict(contact.properties)
        self._write(contact, values)
        if contact.properties != before:
            contact.updated_at = self.now()

    def _write(self, contact: Contact, values: dict[str, Any]) -> None:
        for name, value in values.items():
            text = "" if value is None else _as_text(value)
            if name == "email":
                old = contact.properties.get("email")
                if old:
                    self.by_email.pop(old, None)
                text = text.strip().lower()
                if text:
                    self.by_email[text] = contact.id
            if text == "":
                contact.properties.pop(name, None)
            else:
                contact.properties[name] = text

    # -- lists ---------------------------------------------------------------------------------
    def list_named(self, name: str) -> StaticList | None:
        wanted = name.strip().lower()
        return next((x for x in self.lists.values() if x.name.strip().lower() == wanted), None)

    def create_list(self, name: str, processing_type: str) -> StaticList:
        lst = StaticList(str(next(self._list_ids)), name, processing_type, self.now())
        self.lists[lst.list_id] = lst
        return lst

    def members_by_list(self) -> dict[str, dict[str, Any]]:
        """For inspection: list name -> id, type and member emails."""
        return {
            x.name: {
                "listId": x.list_id,
                "processingType": x.processing_type,
                "members": sorted(x.members, key=int),
                "emails": sorted(
                    self.contacts[m].properties.get("email", "")
                    for m in x.members
                    if m in self.contacts
                ),
            }
            for x in self.lists.values()
        }


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _bad_value(prop: Property, value: Any) -> tuple[str, str] | None:
    """(error code, message) when `value` does not fit `prop`, else None."""
    if value is None or value == "":
        return None  # clears the property
    if isinstance(value, dict | list):
        return "INVALID_OBJECT_VALUE", f"{prop.name} must be a string, number or boolean"
    text = _as_text(value)
    if prop.name == "email" and not EMAIL.match(text.strip()):
        return "INVALID_EMAIL", f"Email address {text} is invalid"
    if prop.type == "number":
        try:
            float(text)
        except ValueError:
            return "INVALID_DECIMAL", f"{text} was not a valid number."
    if prop.type == "bool" and text.lower() not in ("true", "false"):
        return "INVALID_BOOLEAN", f"{text} was not a valid boolean (true or false)."
    if prop.type == "enumeration" and prop.options:
        allowed = set(prop.options)
        chosen = text.split(";") if prop.field_type == "checkbox" else [text]
        if any(c not in allowed for c in chosen):
            return (
                "INVALID_OPTION",
                f"{text} was not one of the allowed options: [{', '.join(prop.options)}]",
            )
    if prop.type in ("date", "datetime") and not _valid_time(text, date_only=prop.type == "date"):
        return "INVALID_DATE", f"{text} is not a valid {prop.type} (ISO 8601 or epoch ms)."
    return None


def _valid_time(text: str, *, date_only: bool) -> bool:
    if text.isdigit():
        return not date_only or int(text) % 86_400_000 == 0
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    if date_only:
        return (parsed.hour, parsed.minute, parsed.second, parsed.microsecond) == (0, 0, 0, 0)
    return True


def property_problems(body: dict[str, Any], existing: dict[str, Property]) -> str | None:
    """Why a property definition cannot be created, or None."""
    name = body.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        return (
            f"Property name {name!r} is invalid: use lowercase letters, digits and underscores, "
            "starting with a letter"
        )
    if not body.get("label") or not body.get("groupName"):
        return f"Property {name}: 'label' and 'groupName' are required"
    kind, field_type = body.get("type"), body.get("fieldType")
    if kind not in TYPES:
        return f"Property {name}: unknown type {kind!r} (one of {', '.join(TYPES)})"
    if field_type not in TYPES[kind]:
        return f"Property {name}: fieldType {field_type!r} does not fit type {kind}"
    if kind == "enumeration" and not body.get("options") and field_type != "booleancheckbox":
        return f"Property {name}: an enumeration needs options"
    return None
