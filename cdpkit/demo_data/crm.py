"""CRM contact records: typed-in contact data, B2B fields, lifecycle stage, duplicates."""

from __future__ import annotations

import random
from bisect import bisect
from typing import Final

from cdpkit.demo_data import ids
from cdpkit.demo_data.catalog import COMPANIES, JOB_TITLES
from cdpkit.demo_data.clock import LAST, fmt
from cdpkit.demo_data.contact import CRM, email_spelling
from cdpkit.demo_data.person import CRM_ONLY, Person
from cdpkit.demo_data.quirks import Quirks
from cdpkit.demo_data.rows import Rows

_PROSPECT_STAGES: Final = (
    "subscriber",
    "lead",
    "marketing_qualified_lead",
    "sales_qualified_lead",
    "opportunity",
    "other",
)
_PROSPECT_CUM: Final = (0.20, 0.60, 0.80, 0.90, 0.95, 1.00)


def _name(rng: random.Random, name: str) -> str:
    r = rng.random()
    return name if r < 0.86 else name.upper() if r < 0.93 else name.lower()


def _stage(p: Person, rng: random.Random) -> str:
    if p.web_orders or p.store_orders:
        return "evangelist" if rng.random() < 0.08 else "customer"
    if p.kind == CRM_ONLY:
        return _PROSPECT_STAGES[bisect(_PROSPECT_CUM, rng.random())]
    return "subscriber" if p.subscriber else "lead"


def _contact(
    p: Person, rng: random.Random, rows: Rows, quirks: Quirks, duplicate: int, created: int
) -> None:
    updated = created + int(rng.random() * (LAST - created))
    email: str | None = None
    if rng.random() >= (0.06 if duplicate == 0 else 0.3):
        canonical = p.emails[0] if duplicate or rng.random() < 0.3 else p.email_at(updated)
        email = quirks.email(email_spelling(rng, canonical, CRM))
    phone_obj = p.phone_at(updated)
    phone: str | None = None
    if phone_obj is not None and rng.random() < 0.7:
        phone = quirks.phone(phone_obj.spell(rng, CRM))
    elif quirks.junk_phone is not None and rng.random() < 0.5:
        phone = quirks.spend_junk_phone()
    b2b = rng.random() < 0.3
    crm_id = ids.crm_id(p.index, duplicate)
    rows.crm_contacts.append(
        (
            crm_id,
            email,
            phone,
            _name(rng, p.first_name),
            _name(rng, p.last_name),
            COMPANIES[rng.randrange(len(COMPANIES))] if b2b else None,
            JOB_TITLES[rng.randrange(len(JOB_TITLES))] if b2b or rng.random() < 0.1 else None,
            "lead" if duplicate else _stage(p, rng),
            p.city if rng.random() < 0.95 else None,
            p.country.code,
            fmt(created),
            fmt(updated),
        )
    )
    rows.see("crm_id", crm_id)
    rows.see("email", email)
    rows.see("phone", phone)


def write_crm(p: Person, rng: random.Random, rows: Rows, quirks: Quirks) -> None:
    """One contact per CRM person; a few get a second, duplicate record created later."""
    created = p.first_seen + int(rng.random() * (p.last_active - p.first_seen))
    _contact(p, rng, rows, quirks, 0, created)
    if p.crm_duplicate:
        _contact(p, rng, rows, quirks, 1, created + int(rng.random() * (LAST - created)))
