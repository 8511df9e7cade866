"""One person, start to finish: profile, journey, store visits, CRM, email, consents, truth."""

from __future__ import annotations

from cdpkit.demo_data.commerce import write_store_orders
from cdpkit.demo_data.crm import write_crm
from cdpkit.demo_data.journey import simulate_web
from cdpkit.demo_data.marketing import offline_optin, write_sms_consent, write_subscription
from cdpkit.demo_data.person import WEB, build_person, person_rng
from cdpkit.demo_data.quirks import Quirks
from cdpkit.demo_data.rows import Rows


def simulate_person(seed: int, index: int, events_scale: float, rows: Rows) -> None:
    """Append every row person `index` produces; a pure function of (seed, index, scale)."""
    rng = person_rng(seed, index)
    p = build_person(seed, index, rng, events_scale)
    rows.start_person(p.person_id)
    quirks = Quirks(p, rng)
    optin: tuple[int, str] | None = None
    if p.kind == WEB:
        outcome = simulate_web(p, rng, rows, quirks, events_scale)
        if outcome.optin_at is not None and outcome.optin_email is not None:
            optin = (outcome.optin_at, outcome.optin_email)
    write_store_orders(p, rng, rows, quirks, first_seq=p.web_orders)
    if p.in_crm:
        write_crm(p, rng, rows, quirks)
    optin = optin or offline_optin(p, rng, quirks)
    if optin is not None:
        write_subscription(p, rng, rows, *optin)
    write_sms_consent(p, rng, rows)
