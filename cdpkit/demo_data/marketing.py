"""Newsletter subscriptions: email engagement by campaign, and the consents they record."""

from __future__ import annotations

import random
from bisect import bisect_left
from typing import Final

from cdpkit.demo_data.catalog import CAMPAIGN_TIMES, CAMPAIGNS
from cdpkit.demo_data.clock import DAY, HOUR, LAST, clamp, fmt
from cdpkit.demo_data.contact import CRM, POS, WEB, email_spelling
from cdpkit.demo_data.person import CRM_ONLY, EMAIL_ONLY, STORE_ONLY, Person
from cdpkit.demo_data.quirks import Quirks
from cdpkit.demo_data.rows import Rows

_ENGAGEMENT: Final = ((0.25, 0.55, 0.30), (0.75, 0.20, 0.15), (1.01, 0.02, 0.10))
"""(cumulative share, open rate, click-through of opens): engaged, ordinary, dormant readers."""
RECEIVE_RATE: Final = 0.6
"""Share of campaigns a subscriber is in the audience of."""


def _consent(rows: Rows, kind: str, value: str, purpose: str, granted: bool, t: int) -> None:
    rows.consents.append((kind, value, purpose, "true" if granted else "false", fmt(t)))


def offline_optin(p: Person, rng: random.Random, quirks: Quirks) -> tuple[int, str] | None:
    """Opt-in time and typed address of subscribers who did not sign up on the web."""
    if not p.subscriber or p.kind not in (CRM_ONLY, EMAIL_ONLY, STORE_ONLY):
        return None
    t = p.first_seen + int(rng.random() * (p.last_active - p.first_seen))
    context = {CRM_ONLY: CRM, STORE_ONLY: POS}.get(p.kind, WEB)
    return t, quirks.email(email_spelling(rng, p.email_at(t), context))


def write_subscription(
    p: Person, rng: random.Random, rows: Rows, optin_at: int, typed: str
) -> None:
    """Consent at opt-in, campaign deliveries/opens/clicks, unsubscribes and re-subscribes."""
    rows.see("email", typed)
    _consent(rows, "email", typed, "marketing", True, optin_at)
    # The email platform stores the address lower-cased and trimmed, unless it was imported raw.
    address = typed if rng.random() < 0.12 else typed.strip().lower()
    if "@" not in address:
        return  # a junk placeholder cannot receive mail; only the consent row exists
    undeliverable = address.strip().lower() == p.typo_email  # a misspelt address hard-bounces
    r = rng.random()
    open_rate, click_rate = next((o, c) for share, o, c in _ENGAGEMENT if r < share)
    stop = LAST
    if rng.random() < 0.04:  # revoked in the preference centre, no email event
        stop = optin_at + int(rng.random() * (LAST - optin_at))
        _consent(rows, "email", typed, "marketing", False, stop)
    out = rows.email_events
    written = len(out)
    _campaigns(rng, rows, address, optin_at, stop, open_rate, click_rate, undeliverable)
    if len(out) > written:
        rows.see("email", address)


def _campaigns(
    rng: random.Random,
    rows: Rows,
    address: str,
    optin_at: int,
    stop: int,
    open_rate: float,
    click_rate: float,
    undeliverable: bool,
) -> None:
    """Email events of one subscriber from opt-in until `stop`, unsubscribe or hard bounce."""
    out = rows.email_events
    i = bisect_left(CAMPAIGN_TIMES, optin_at)
    while i < len(CAMPAIGNS):
        campaign, send = CAMPAIGNS[i]
        i += 1
        if send >= stop:
            break
        if rng.random() >= RECEIVE_RATE:
            continue
        t = send + int(rng.random() * HOUR)
        if undeliverable or rng.random() < 0.004:
            out.append((address, "bounced", campaign, fmt(t)))
            break
        out.append((address, "delivered", campaign, fmt(t)))
        if rng.random() >= open_rate:
            continue
        t = clamp(t + 60 + int(rng.expovariate(1 / (8 * HOUR))))
        out.append((address, "opened", campaign, fmt(t)))
        if rng.random() < click_rate:
            t = clamp(t + 5 + int(rng.random() * 600))
            out.append((address, "clicked", campaign, fmt(t)))
        if rng.random() < 0.01:
            t = clamp(t + 30)
            out.append((address, "unsubscribed", campaign, fmt(t)))
            _consent(rows, "email", address, "marketing", False, t)
            if rng.random() >= 0.25:
                break
            back = clamp(t + 30 * DAY + int(rng.random() * 90 * DAY))
            _consent(rows, "email", address, "marketing", True, back)
            i = bisect_left(CAMPAIGN_TIMES, back)


def write_sms_consent(p: Person, rng: random.Random, rows: Rows) -> None:
    """SMS marketing opt-ins against a phone number; a quarter later text STOP."""
    phone = p.phone_at(p.last_active)
    if phone is None or rng.random() >= 0.12:
        return
    t = p.first_seen + int(rng.random() * (p.last_active - p.first_seen))
    typed = phone.spell(rng, WEB)
    rows.see("phone", typed)
    _consent(rows, "phone", typed, "marketing", True, t)
    if rng.random() < 0.25:
        _consent(rows, "phone", typed, "marketing", False, clamp(t + int(rng.random() * 200 * DAY)))
