"""A person's web and app journey: sessions across devices, logins, guest checkouts, consents."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Final

from cdpkit.demo_data import ids
from cdpkit.demo_data.catalog import MISC_PATHS
from cdpkit.demo_data.clock import DAY, clamp, fmt
from cdpkit.demo_data.commerce import draw_basket, draw_product, order_status, write_order
from cdpkit.demo_data.contact import WEB, email_spelling, pick
from cdpkit.demo_data.devices import Device, build_devices
from cdpkit.demo_data.person import Person
from cdpkit.demo_data.quirks import Quirks
from cdpkit.demo_data.rows import Rows
from cdpkit.demo_data.sessions import (
    CART,
    INTENT_CUM,
    PRICING,
    PURCHASE,
    SessionWriter,
    browse_pages,
)

EXTRA_SESSIONS_MU: Final = 0.5
"""Log-mean of sessions beyond one per device (sigma 0.9): about 29 events per person overall."""
_GDPR: Final = frozenset({"GB", "DE", "FR"})


@dataclass(frozen=True)
class WebOutcome:
    """What the journey decided that other tables depend on."""

    signup_at: int | None
    optin_at: int | None
    """When the person ticked 'email me' (at signup or in the newsletter form)."""
    optin_email: str | None
    """The address as typed there."""


class _State:
    """Mutable bookkeeping of one journey (login state, event sequence, opt-in)."""

    __slots__ = ("seq", "signup_at", "identified", "logged_devices", "bannered", "optin_at",
                 "optin_email")  # fmt: skip

    def __init__(self) -> None:
        self.seq = 0
        self.signup_at: int | None = None
        self.identified: dict[tuple[int, int], None] = {}
        self.logged_devices: dict[int, None] = {}
        self.bannered: dict[tuple[int, int], None] = {}
        self.optin_at: int | None = None
        self.optin_email: str | None = None


def _plan(
    p: Person, rng: random.Random, devices: list[Device], scale: float
) -> list[tuple[int, int, int, int]]:
    """Sessions as (start, tie-break, device number, intent), in time order."""
    span = p.last_active - p.first_seen
    n_dev = len(devices)
    plan: list[tuple[int, int, int, int]] = []

    def add(t: int, device: int, intent: int) -> None:
        plan.append((t, len(plan), device, intent))

    def device() -> int:
        return 0 if n_dev == 1 or rng.random() < 0.55 else 1 + int(rng.random() * (n_dev - 1))

    def when() -> int:
        return p.first_seen + int(rng.random() * span)

    for d in range(n_dev):
        add(p.first_seen if d == 0 else when(), d, pick(rng, INTENT_CUM))
    for _ in range(int(rng.lognormvariate(EXTRA_SESSIONS_MU + math.log(scale), 0.9))):
        add(when(), device(), pick(rng, INTENT_CUM))
    if p.pricing_lurker:
        for _ in range(3 + int(rng.random() * 3)):
            add(when(), device(), PRICING)
    if p.cart_abandoner:
        for _ in range(1 + int(rng.random() * 2)):
            add(when(), device(), CART)
    for _ in range(p.web_orders):
        add(when(), device(), PURCHASE)
    plan.sort()
    return plan


def _consent(rows: Rows, kind: str, value: str, purpose: str, granted: bool, t: int) -> None:
    rows.consents.append((kind, value, purpose, "true" if granted else "false", fmt(t)))


def _banner(p: Person, rng: random.Random, rows: Rows, anon: str, t: int) -> None:
    """Cookie-banner choices recorded against the anonymous_id (most often under GDPR)."""
    if rng.random() >= (0.9 if p.country.code in _GDPR else 0.15):
        return
    _consent(rows, "anonymous_id", anon, "analytics", rng.random() < 0.75, t)
    advertising = rng.random() < 0.55
    _consent(rows, "anonymous_id", anon, "advertising", advertising, t)
    if advertising and rng.random() < 0.08:
        _consent(
            rows,
            "anonymous_id",
            anon,
            "advertising",
            False,
            clamp(t + int(rng.random() * 60 * DAY)),
        )


def _login(
    p: Person,
    rng: random.Random,
    rows: Rows,
    quirks: Quirks,
    st: _State,
    w: SessionWriter,
    dev: Device,
) -> None:
    """Identify the logged-in user; the very first login is the signup (server event, opt-in)."""
    w.uid = p.user_id
    rows.see("user_id", p.user_id)
    phone_obj = p.phone_at(w.t)
    if st.signup_at is None:
        st.signup_at = w.t
        email = p.email_at(w.t)
        typed = quirks.email(email_spelling(rng, email, WEB))
        phone = (
            quirks.phone(phone_obj.spell(rng, WEB)) if phone_obj and rng.random() < 0.3 else None
        )
        w.identify(typed, phone)
        w.server_track("signed_up", email, None, '{"method":"email"}')
        rows.see("email", typed)
        rows.see("email", email)
        rows.see("phone", phone)
        if dev.source != "web" and rng.random() < 0.5:
            w.alias()
        if p.subscriber:
            st.optin_at, st.optin_email = w.t, typed
    else:
        typed_email = None
        if rng.random() < 0.5:
            typed_email = quirks.email(email_spelling(rng, p.email_at(w.t), WEB))
        phone = (
            quirks.phone(phone_obj.spell(rng, WEB)) if phone_obj and rng.random() < 0.15 else None
        )
        w.identify(typed_email, phone)
        rows.see("email", typed_email)
        rows.see("phone", phone)
    if p.user_id and dev.source != "web" and rng.random() < 0.3:  # the app's tracking prompt
        _consent(rows, "user_id", p.user_id, "advertising", rng.random() < 0.35, w.t)


def _purchase(
    p: Person,
    rng: random.Random,
    rows: Rows,
    quirks: Quirks,
    st: _State,
    w: SessionWriter,
    dev: Device,
    seq: int,
    scale: float,
) -> None:
    """View, add to cart, check out (logging in or as a guest) and complete one order."""
    basket = draw_basket(rng, p.spend_tier)
    first = basket.lines[0][0]
    if rng.random() < 0.5 * scale:
        w.page("/", landing=True)
        w.view_product(first)
    else:
        w.page(first.path, landing=True)
        w.track("product_viewed", first.path, first.viewed_json)
    w.add_product(first, basket.lines[0][1])
    for product, qty in basket.lines[1:]:
        w.view_product(product)
        w.add_product(product, qty)
    if rng.random() < 0.3 * scale:
        w.view_product(draw_product(rng))
    w.page("/cart")
    w.checkout(basket.total_cents)
    phone_obj = p.phone_at(w.t)
    phone = phone_obj.spell(rng, WEB) if phone_obj and rng.random() < 0.3 else None
    if p.logs_in:
        if w.uid is None:
            _login(p, rng, rows, quirks, st, w, dev)
        email = email_spelling(rng, p.email_at(w.t), WEB)
    else:  # guest checkout: the form's email is identified against the anonymous_id
        email = quirks.email(email_spelling(rng, p.email_at(w.t), WEB))
        w.identify(email, phone)
    order_id = ids.order_id(p.index, seq)
    w.order_completed(order_id, basket.total_cents)
    loyalty = p.loyalty_id if p.loyalty_id and rng.random() < 0.5 else None
    write_order(
        rows,
        order_id,
        basket,
        user_id=w.uid,
        email=email,
        phone=phone,
        loyalty_id=loyalty,
        channel="web" if dev.source == "web" else "app",
        store_id=None,
        currency=p.country.currency,
        status=order_status(rng),
        t=w.t,
    )


def simulate_web(
    p: Person, rng: random.Random, rows: Rows, quirks: Quirks, scale: float
) -> WebOutcome:
    """Write the person's events (and the web orders, banner and ATT consents they cause)."""
    devices = build_devices(p, rng, scale)
    plan = _plan(p, rng, devices, scale)
    st = _State()
    base = ids.event_base(p.index)
    login_after: dict[int, int] = {}
    if p.logs_in:
        purchases = [t for t, _, _, intent in plan if intent == PURCHASE]
        signup = p.first_seen + int((p.last_active - p.first_seen) * rng.random() * 0.5)
        signup = min([signup, *purchases])
        login_after[0] = signup
        for d in range(1, len(devices)):
            if rng.random() < (0.7 if devices[d].shared else 0.45):
                login_after[d] = signup + int(rng.random() * (p.last_active - signup))
    newsletter_at = rng.randrange(len(plan)) if p.subscriber and not p.logs_in else -1
    order_seq = 0
    for n, (t, _, d, intent) in enumerate(plan):
        dev = devices[d]
        epoch, anon = dev.anon_at(t)
        key = (d, epoch)
        w = SessionWriter(rows.events, rng, base, st.seq, t, anon, None, dev.device_id, dev.source)
        rows.see("anonymous_id", anon)
        rows.see("device_id", dev.device_id)
        if key not in st.bannered:
            st.bannered[key] = None
            _banner(p, rng, rows, anon, t)
        login_now = False
        if p.logs_in:
            if key in st.identified:
                w.uid = p.user_id
            else:
                after = login_after.get(d)
                login_now = (
                    after is not None
                    and t >= after
                    and (d not in st.logged_devices or rng.random() < 0.55)
                )
        elif quirks.junk_id is not None and rng.random() < 0.3:
            w.uid = quirks.take_junk_id()  # a buggy client stringified a missing user id
            rows.see("user_id", w.uid)
        if login_now and intent != PURCHASE:
            w.page("/account/login", landing=True)
            _login(p, rng, rows, quirks, st, w, dev)
            st.identified[key] = None
            st.logged_devices[d] = None
            w.page("/account")
        if intent == PURCHASE:
            _purchase(p, rng, rows, quirks, st, w, dev, order_seq, min(1.0, scale))
            order_seq += 1
            if w.uid is not None:
                st.identified[key] = None
                st.logged_devices[d] = None
        else:
            browse_pages(w, intent, min(1.0, scale))
            if rng.random() < 0.1:
                w.page(MISC_PATHS[int(rng.random() * len(MISC_PATHS))])
        if n == newsletter_at:
            w.page("/newsletter")
            typed = quirks.email(email_spelling(rng, p.email_at(w.t), WEB))
            w.identify(typed, None)
            rows.see("email", typed)
            st.optin_at, st.optin_email = w.t, typed
        st.seq = w.seq
    if p.user_id and st.signup_at is not None and st.signup_at < p.email_switch_at < p.last_active:
        w = SessionWriter(
            rows.events, rng, base, st.seq, p.email_switch_at, None, p.user_id, None, "server"
        )
        w.server_track("email_updated", p.emails[-1], None, "{}")
        rows.see("email", p.emails[-1])
        st.seq = w.seq
    return WebOutcome(st.signup_at, st.optin_at, st.optin_email)
