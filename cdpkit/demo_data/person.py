"""Who a generated person is: identity, contact points, habits and the traps they carry."""

from __future__ import annotations

import random
from bisect import bisect
from dataclasses import dataclass
from typing import Final

from cdpkit.demo_data import ids
from cdpkit.demo_data.clock import DAY, END, HOUR, LAST, START
from cdpkit.demo_data.contact import (
    JUNK_EMAILS,
    JUNK_IDS,
    JUNK_PHONES,
    Phone,
    canonical_email,
    email_typo,
    make_phone,
    other_email,
    pick,
)
from cdpkit.demo_data.household import Household, household_of
from cdpkit.demo_data.places import COUNTRIES, COUNTRY_CUM_WEIGHTS, Country

WEB, CRM_ONLY, STORE_ONLY, EMAIL_ONLY = "web", "crm_only", "store_only", "email_only"
LAPSED_GAP: Final = 91 * DAY
"""Lapsed people stop all activity more than 90 days before the reference time."""
SESSION_ROOM: Final = 5 * HOUR
"""Sessions start at least this long before the end so their events stay in the window."""
_JUNK_EMAIL_CUM: Final = (30.0, 40.0, 50.0, 58.0, 66.0, 74.0, 90.0)
"""test@test.com is the favourite; the rest are spread (same order as JUNK_EMAILS)."""
_JUNK_PHONE_CUM: Final = (60.0, 75.0, 90.0, 100.0)


@dataclass(frozen=True)
class Person:
    """One ground-truth person; everything they emit is derived from this and their generator."""

    index: int
    person_id: str
    kind: str
    country: Country
    first_name: str
    last_name: str
    city: str
    emails: tuple[str, ...]
    """Canonical (lowercase) addresses in the order the person used them."""
    email_switch_at: int
    phones: tuple[Phone, ...]
    phone_switch_at: int
    first_seen: int
    last_active: int
    lapsed: bool
    household: Household | None
    uses_tablet: bool
    logs_in: bool
    user_id: str | None
    loyalty_id: str | None
    web_orders: int
    store_orders: int
    spend_tier: float
    pricing_lurker: bool
    cart_abandoner: bool
    subscriber: bool
    in_crm: bool
    crm_duplicate: bool
    typo_email: str | None
    junk_email: str | None
    junk_phone: str | None
    junk_id: str | None

    def email_at(self, t: int) -> str:
        """The canonical address in use at time t."""
        return self.emails[-1] if t >= self.email_switch_at else self.emails[0]

    def phone_at(self, t: int) -> Phone | None:
        """The phone in use at time t, if the person has one."""
        if not self.phones:
            return None
        return self.phones[-1] if t >= self.phone_switch_at else self.phones[0]


def person_id(index: int) -> str:
    """Ground-truth id of the person with this index."""
    return f"P{index + 1:08d}"


def person_rng(seed: int, index: int) -> random.Random:
    """The person's own generator: depends on (seed, index) only, so people stream and shard."""
    return random.Random(f"{seed}:person:{index}")


def _order_count(rng: random.Random, heavy: float) -> int:
    n = 1 + int(rng.lognormvariate(-0.4, 1.0))
    if rng.random() < heavy:
        n = n * 4 + 3
    return min(n, 40)


def build_person(seed: int, index: int, rng: random.Random, events_scale: float = 1.0) -> Person:
    """Draw a person's profile; the same generator then drives their activity.

    `events_scale` scales web purchases with the other sessions (a buyer keeps at least one).
    """
    house, position = household_of(seed, index)
    if house is not None:
        country, last, city = house.country, house.last_name, house.city
    else:
        country = COUNTRIES[pick(rng, COUNTRY_CUM_WEIGHTS)]
        last = country.last_names[rng.randrange(len(country.last_names))]
        city = country.cities[rng.randrange(len(country.cities))]
    first = country.first_names[rng.randrange(len(country.first_names))]
    uses_tablet = house is not None and (position < 2 or rng.random() < 0.7)

    r = rng.random()
    if uses_tablet or r < 0.80:
        kind = WEB
    else:
        kind = (CRM_ONLY, STORE_ONLY, EMAIL_ONLY)[bisect((0.40, 0.85), rng.random())]

    first_seen = START + int(rng.random() * (LAST - SESSION_ROOM - 10 * DAY - START))
    lapsed = first_seen < END - 150 * DAY and rng.random() < 0.30
    if lapsed:
        last_active = first_seen + int((END - LAPSED_GAP - first_seen) * rng.uniform(0.15, 1.0))
    else:
        last_active = LAST - SESSION_ROOM

    number = index + 1
    emails: tuple[str, ...] = (canonical_email(rng, country, first, last, number),)
    email_switch_at = END
    if rng.random() < 0.08:
        emails += (other_email(rng, country, first, last, number, emails[0]),)
        email_switch_at = first_seen + int((last_active - first_seen) * rng.uniform(0.2, 0.9))

    phones: tuple[Phone, ...] = ()
    phone_switch_at = END
    if rng.random() < (0.95 if kind == STORE_ONLY else 0.72):
        phones = (make_phone(rng, country.code, index * 2),)
        if rng.random() < 0.06:
            phones += (make_phone(rng, country.code, index * 2 + 1),)
            phone_switch_at = first_seen + int((last_active - first_seen) * rng.uniform(0.2, 0.9))

    logs_in = kind == WEB and rng.random() < (0.75 if uses_tablet else 0.62)
    pricing_lurker = kind == WEB and rng.random() < 0.07
    cart_abandoner = kind == WEB and not pricing_lurker and rng.random() < 0.18
    buyer = kind == WEB and not pricing_lurker and rng.random() < (0.52 if logs_in else 0.18)
    if cart_abandoner and rng.random() < 0.6:
        buyer = False
    web_orders = 0
    if buyer:
        web_orders = min(80, max(1, int(_order_count(rng, 0.03) * events_scale + rng.random())))
    store_orders = 0
    if kind == STORE_ONLY or (buyer and rng.random() < 0.15):
        store_orders = _order_count(rng, 0.02)
    loyal = store_orders > 0 and (rng.random() < (0.55 if kind == STORE_ONLY else 0.45))
    if store_orders and not phones:
        loyal = True  # an in-store order needs a phone or a card to be attributable at all

    subscriber = rng.random() < {
        WEB: 0.40 if logs_in else 0.12,
        CRM_ONLY: 0.5,
        EMAIL_ONLY: 1.0,
    }.get(kind, 0.15)
    in_crm = kind == CRM_ONLY or rng.random() < {WEB: 0.35 if logs_in else 0.04}.get(kind, 0.3)
    if kind == EMAIL_ONLY:
        in_crm = False

    typo = rng.random() < 0.04
    junk_email = None
    if rng.random() < (0.12 if kind == WEB else 0.08):
        junk_email = JUNK_EMAILS[pick(rng, _JUNK_EMAIL_CUM)]
    junk_phone = None
    if rng.random() < (0.16 if store_orders else 0.04):
        junk_phone = JUNK_PHONES[pick(rng, _JUNK_PHONE_CUM)]
    junk_id = JUNK_IDS[rng.randrange(2)] if kind == WEB and rng.random() < 0.04 else None

    return Person(
        index=index,
        person_id=person_id(index),
        kind=kind,
        country=country,
        first_name=first,
        last_name=last,
        city=city,
        emails=emails,
        email_switch_at=email_switch_at,
        phones=phones,
        phone_switch_at=phone_switch_at,
        first_seen=first_seen,
        last_active=last_active,
        lapsed=lapsed,
        household=house,
        uses_tablet=uses_tablet,
        logs_in=logs_in,
        user_id=ids.user_id(index) if logs_in else None,
        loyalty_id=ids.loyalty_id(index) if loyal else None,
        web_orders=web_orders,
        store_orders=store_orders,
        spend_tier=rng.lognormvariate(0.0, 0.5),
        pricing_lurker=pricing_lurker,
        cart_abandoner=cart_abandoner,
        subscriber=subscriber,
        in_crm=in_crm,
        crm_duplicate=in_crm and rng.random() < 0.05,
        typo_email=email_typo(rng, emails[0]) if typo else None,
        junk_email=junk_email,
        junk_phone=junk_phone,
        junk_id=junk_id,
    )
