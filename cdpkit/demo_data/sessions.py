"""Event rows of one web or app session: pages/screens, product events, identify, checkout."""

from __future__ import annotations

import math
import random
from typing import Final

from cdpkit.demo_data.catalog import (
    BLOG_PATHS,
    COLLECTION_PATHS,
    MISC_PATHS,
    REFERRERS,
    SITE,
    UTM_QUERIES,
    UTM_REFERRERS,
    UTM_SOURCES,
    Product,
    cents_text,
)
from cdpkit.demo_data.clock import fmt
from cdpkit.demo_data.commerce import draw_product
from cdpkit.demo_data.ids import event_id

BOUNCE, BROWSE, CONTENT, PRICING, CART, PURCHASE = range(6)
INTENT_CUM: Final = (0.30, 0.68, 0.82, 0.87, 1.00)
"""Ordinary sessions: bounce, browse, content, pricing, cart (abandoned); purchases are planned."""
EMPTY_PROPS: Final = "{}"
_NGAPS: Final = 4096
_GAPS: Final = tuple(
    4 + min(int(-math.log(1 - (i + 0.5) / _NGAPS) / 0.03), 380) for i in range(_NGAPS)
)
"""Seconds between hits: exponential (mean ~33 s) quantiles, capped so sessions stay short."""
_URLS: Final[dict[str, str]] = {}


def _url(path: str) -> str:
    url = _URLS.get(path)
    if url is None:
        url = _URLS[path] = SITE + path
    return url


class SessionWriter:
    """Appends one session's events; holds what every event of the session repeats."""

    __slots__ = ("events", "rng", "seq", "base", "t", "anon", "uid", "device_id", "source", "app")

    def __init__(
        self,
        events: list[tuple[str | None, ...]],
        rng: random.Random,
        base: int,
        seq: int,
        t: int,
        anon: str | None,
        uid: str | None,
        device_id: str | None,
        source: str,
    ) -> None:
        self.events = events
        self.rng = rng
        self.base = base
        self.seq = seq
        self.t = t
        self.anon = anon
        self.uid = uid
        self.device_id = device_id
        self.source = source
        self.app = source != "web"

    def _stamp(self) -> tuple[str, str]:
        """Next (event_id, occurred_at): the clock moves by a typical gap between hits."""
        self.seq += 1
        self.t += _GAPS[int(self.rng.random() * _NGAPS)]
        return event_id(self.base + self.seq), fmt(self.t)

    def page(self, path: str, landing: bool = False) -> None:
        """A page view (web) or screen view (app); a web landing page may carry UTM and referrer."""
        eid, ts = self._stamp()
        if self.app:
            self.events.append(
                (eid, "screen", "screen_viewed", self.anon, self.uid, None, None, self.device_id,
                 ts, self.source, path, None, None, None, None, None, EMPTY_PROPS)
            )  # fmt: skip
            return
        url, ref, utm_s, utm_m, utm_c = _url(path), None, None, None, None
        if landing:
            r = self.rng.random()
            if r < 0.30:
                k = int(r / 0.30 * len(UTM_SOURCES))
                utm_s, utm_m, utm_c = UTM_SOURCES[k]
                url, ref = url + UTM_QUERIES[k], UTM_REFERRERS[k]
            elif r < 0.70:
                ref = REFERRERS[int((r - 0.30) / 0.40 * len(REFERRERS))]
        self.events.append(
            (eid, "page", "page_viewed", self.anon, self.uid, None, None, self.device_id, ts,
             self.source, path, url, ref, utm_s, utm_m, utm_c, EMPTY_PROPS)
        )  # fmt: skip

    def track(self, name: str, path: str | None, props: str) -> None:
        """A track event (product_viewed, product_added, checkout_started, order_completed...)."""
        eid, ts = self._stamp()
        self.events.append(
            (eid, "track", name, self.anon, self.uid, None, None, self.device_id, ts, self.source,
             path, None, None, None, None, None, props)
        )  # fmt: skip

    def _call(self, kind: str, email: str | None = None, phone: str | None = None) -> None:
        eid, ts = self._stamp()
        self.events.append(
            (eid, kind, kind, self.anon, self.uid, email, phone, self.device_id, ts, self.source,
             None, None, None, None, None, None, EMPTY_PROPS)
        )  # fmt: skip

    def identify(self, email: str | None, phone: str | None) -> None:
        """An identify call: user_id (if logged in) + anonymous_id, sometimes email and phone."""
        self._call("identify", email, phone)

    def alias(self) -> None:
        """An alias call tying the anonymous_id to the new user_id (mobile SDK signups)."""
        self._call("alias")

    def server_track(self, name: str, email: str | None, phone: str | None, props: str) -> None:
        """A server-side track event: user_id and contact fields, no anonymous_id or device."""
        eid, ts = self._stamp()
        self.events.append(
            (eid, "track", name, None, self.uid, email, phone, None, ts, "server",
             None, None, None, None, None, None, props)
        )  # fmt: skip

    def view_product(self, product: Product) -> None:
        """Product page (or screen) followed by its product_viewed event."""
        self.page(product.path)
        self.track("product_viewed", product.path, product.viewed_json)

    def add_product(self, product: Product, qty: int) -> None:
        """product_added (add to cart) with the product's fields plus quantity."""
        self.track("product_added", product.path, product.added_json[qty])

    def checkout(self, cart_cents: int) -> None:
        """The checkout page and checkout_started with the cart value."""
        self.page("/checkout")
        self.track("checkout_started", "/checkout", f'{{"cart_value":{cents_text(cart_cents)}}}')

    def order_completed(self, order_id: str, revenue_cents: int) -> None:
        """order_completed with the order id and revenue (the orders table has the same order)."""
        props = f'{{"order_id":"{order_id}","revenue":{cents_text(revenue_cents)}}}'
        self.track("order_completed", "/checkout", props)
        self.page("/checkout/thank-you")


def browse_pages(w: SessionWriter, intent: int, depth: float = 1.0) -> None:
    """The pages of an ordinary (non-purchase) session; `depth` < 1 views fewer products."""
    rng = w.rng
    if intent == BOUNCE:
        r = rng.random()
        if r < 0.35:
            w.page("/", landing=True)
        elif r < 0.65:
            product = draw_product(rng)
            w.page(product.path, landing=True)
            w.track("product_viewed", product.path, product.viewed_json)
        elif r < 0.85:
            w.page(BLOG_PATHS[rng.randrange(len(BLOG_PATHS))], landing=True)
        else:
            w.page(COLLECTION_PATHS[rng.randrange(len(COLLECTION_PATHS))], landing=True)
        if rng.random() < 0.3:
            w.page(MISC_PATHS[rng.randrange(len(MISC_PATHS))])
    elif intent == BROWSE:
        w.page("/", landing=True)
        if rng.random() < depth:
            w.page(COLLECTION_PATHS[rng.randrange(len(COLLECTION_PATHS))])
        for _ in range(max(1, int((2 + int(rng.random() * 5)) * depth))):
            w.view_product(draw_product(rng))
    elif intent == CONTENT:
        w.page(BLOG_PATHS[rng.randrange(len(BLOG_PATHS))], landing=True)
        for _ in range(int(rng.random() * 3)):
            w.page(BLOG_PATHS[rng.randrange(len(BLOG_PATHS))])
        if rng.random() < 0.3:
            w.view_product(draw_product(rng))
    elif intent == PRICING:
        w.page("/pricing", landing=rng.random() < 0.5)
        if rng.random() < 0.5:
            w.view_product(draw_product(rng))
        if rng.random() < 0.4:
            w.page("/pricing")
    else:  # CART: add to cart, maybe start checkout, then leave
        w.page("/", landing=True)
        cart = 0
        for i in range(max(1, int((1 + int(rng.random() * 4)) * depth))):
            product = draw_product(rng)
            w.view_product(product)
            if i == 0 or rng.random() < 0.5:
                qty = 1 if rng.random() < 0.85 else 2
                w.add_product(product, qty)
                cart += product.price_cents * qty
        w.page("/cart")
        if rng.random() < 0.45:
            w.checkout(cart)
