"""Baskets, orders and line items (web, app and point of sale), totals exact to the cent."""

from __future__ import annotations

import random
from bisect import bisect
from dataclasses import dataclass
from typing import Final

from cdpkit.demo_data import ids
from cdpkit.demo_data.catalog import PRODUCT_CUM_WEIGHTS, PRODUCTS, STORES, Product, cents_text
from cdpkit.demo_data.clock import fmt
from cdpkit.demo_data.contact import POS
from cdpkit.demo_data.person import Person
from cdpkit.demo_data.quirks import Quirks
from cdpkit.demo_data.rows import Rows

_TOTAL_WEIGHT: Final = PRODUCT_CUM_WEIGHTS[-1]
_QTY_CUM: Final = (0.80, 0.94, 0.98, 1.00)
"""Quantities 1, 2, 3, 4."""


@dataclass(frozen=True)
class Basket:
    """Products and quantities of one order, with the exact total in cents."""

    lines: tuple[tuple[Product, int], ...]
    total_cents: int


def draw_product(rng: random.Random) -> Product:
    """A product by popularity (a few best sellers, a long tail)."""
    return PRODUCTS[bisect(PRODUCT_CUM_WEIGHTS, rng.random() * _TOTAL_WEIGHT)]


def draw_basket(rng: random.Random, spend_tier: float) -> Basket:
    """1-8 distinct products; big spenders (log-normal tier) fill bigger baskets."""
    n = min(8, 1 + int(rng.expovariate(1.2) * spend_tier * 1.5))
    chosen: dict[str, tuple[Product, int]] = {}
    for _ in range(n):
        product = draw_product(rng)
        if product.sku not in chosen:
            chosen[product.sku] = (product, 1 + bisect(_QTY_CUM, rng.random()))
    lines = tuple(chosen.values())
    return Basket(lines, sum(p.price_cents * q for p, q in lines))


def order_status(rng: random.Random) -> str:
    """Mostly completed; a few refunded or cancelled."""
    r = rng.random()
    return "completed" if r < 0.90 else "refunded" if r < 0.96 else "cancelled"


def write_order(
    rows: Rows,
    order_id: str,
    basket: Basket,
    *,
    user_id: str | None,
    email: str | None,
    phone: str | None,
    loyalty_id: str | None,
    channel: str,
    store_id: str | None,
    currency: str,
    status: str,
    t: int,
) -> None:
    """Append the order, its line items and its identifiers to the truth."""
    rows.orders.append(
        (
            order_id,
            user_id,
            email,
            phone,
            loyalty_id,
            channel,
            store_id,
            cents_text(basket.total_cents),
            currency,
            status,
            fmt(t),
        )
    )
    for product, qty in basket.lines:
        rows.order_items.append(
            (order_id, product.sku, product.name, product.category, str(qty), product.price)
        )
    rows.see("user_id", user_id)
    rows.see("email", email)
    rows.see("phone", phone)
    rows.see("loyalty_id", loyalty_id)


def write_store_orders(
    p: Person, rng: random.Random, rows: Rows, quirks: Quirks, first_seq: int
) -> None:
    """In-store orders, keyed only by a phone number or a loyalty card (never email/user_id)."""
    if not p.store_orders:
        return
    home = STORES[rng.randrange(len(STORES))]
    span = p.last_active - p.first_seen
    times = sorted(p.first_seen + int(rng.random() * span) for _ in range(p.store_orders))
    for seq, t in enumerate(times, start=first_seq):
        phone_obj = p.phone_at(t)
        phone: str | None = None
        loyalty: str | None = None
        r = rng.random()
        if p.loyalty_id is not None and (phone_obj is None or r < 0.45):
            loyalty = p.loyalty_id
        elif phone_obj is not None and (p.loyalty_id is None or r < 0.85):
            phone = phone_obj.spell(rng, POS)
        else:
            loyalty, phone = p.loyalty_id, phone_obj.spell(rng, POS) if phone_obj else None
        if quirks.junk_phone is not None and rng.random() < 0.5:
            phone, loyalty = quirks.spend_junk_phone(), None  # the cashier's placeholder
        store = home if rng.random() < 0.8 else STORES[rng.randrange(len(STORES))]
        write_order(
            rows,
            ids.order_id(p.index, seq),
            draw_basket(rng, p.spend_tier),
            user_id=None,
            email=None,
            phone=phone,
            loyalty_id=loyalty,
            channel="pos",
            store_id=store,
            currency=p.country.currency,
            status=order_status(rng),
            t=t,
        )
