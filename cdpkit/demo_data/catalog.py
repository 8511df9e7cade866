"""Static reference data: products, pages, campaigns, stores, companies, with precomputed JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import accumulate
from typing import Final

from cdpkit.demo_data.clock import DAY, END, HOUR, START, fmt

SITE: Final = "https://shop.example.com"


@dataclass(frozen=True)
class Product:
    """One catalog item; the JSON fragments are built once so the hot loop only concatenates."""

    sku: str
    name: str
    category: str
    price_cents: int
    slug: str
    path: str
    url: str
    viewed_json: str
    added_json: tuple[str, ...]
    """Index q holds the product_added properties for quantity q (0 unused)."""

    @property
    def price(self) -> str:
        """Price as decimal text, e.g. '49.99'."""
        return cents_text(self.price_cents)


def cents_text(cents: int) -> str:
    """Exact decimal text of an amount in cents (no float rounding)."""
    return f"{cents // 100}.{cents % 100:02d}"


_CATEGORIES: Final = (
    ("apparel", ("T-Shirt", "Hoodie", "Rain Jacket", "Slim Jeans", "Wool Sweater"), 1900, 700),
    ("footwear", ("Runner Sneaker", "Chelsea Boot", "Trail Shoe", "Slide Sandal"), 5900, 1500),
    (
        "accessories",
        ("Backpack", "Baseball Cap", "Sunglasses", "Leather Wallet", "Scarf"),
        1500,
        900,
    ),
    (
        "home",
        ("Ceramic Mug", "Soy Candle", "Throw Blanket", "Desk Lamp", "Linen Napkins"),
        1200,
        800,
    ),
    ("beauty", ("Vitamin C Serum", "Daily Shampoo", "Lip Balm", "Hand Cream"), 900, 500),
    (
        "electronics",
        ("Wireless Earbuds", "USB-C Charger", "Bluetooth Speaker", "Smartwatch"),
        2900,
        4500,
    ),
    ("outdoor", ("Dome Tent", "Water Bottle", "Hiking Poles", "Camping Stove"), 2400, 3000),
    ("kids", ("Plush Bear", "Wooden Puzzle", "Art Kit", "Kids Raincoat"), 1100, 600),
)
_STYLES: Final = ("Classic", "Everyday", "Pro", "Organic")


def _slug(text: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in text.lower()).split())


def _build_products() -> tuple[Product, ...]:
    products = []
    for cat_no, (category, nouns, base, step) in enumerate(_CATEGORIES):
        for noun_no, noun in enumerate(nouns):
            for style_no, style in enumerate(_STYLES):
                i = len(products)
                cents = base + step * ((noun_no * 3 + style_no * 5 + cat_no) % 7) + 99 - 100
                name = f"{style} {noun}"
                slug = _slug(name)
                path = f"/products/{slug}"
                viewed = {
                    "sku": f"SKU-{10_000 + i * 7}",
                    "product_name": name,
                    "category": category,
                    "price": cents / 100,
                }
                added = tuple(
                    json.dumps({**viewed, "quantity": q}, separators=(",", ":")) for q in range(7)
                )
                products.append(
                    Product(
                        sku=viewed["sku"],
                        name=name,
                        category=category,
                        price_cents=cents,
                        slug=slug,
                        path=path,
                        url=SITE + path,
                        viewed_json=json.dumps(viewed, separators=(",", ":")),
                        added_json=added,
                    )
                )
    return tuple(products)


PRODUCTS: Final = _build_products()
PRODUCT_CUM_WEIGHTS: Final = tuple(
    accumulate(1.0 / ((i * 53) % len(PRODUCTS) + 4) for i in range(len(PRODUCTS)))
)
"""Zipf-like popularity (a few best sellers, a long tail), ranks spread over categories."""
CATEGORIES: Final = tuple(c[0] for c in _CATEGORIES)

BLOG_PATHS: Final = tuple(
    f"/blog/{slug}"
    for slug in (
        "how-to-layer-for-autumn",
        "best-gifts-under-50",
        "caring-for-leather",
        "our-sustainability-report",
        "packing-list-weekend-hike",
        "skincare-routine-basics",
        "desk-setup-ideas",
        "kids-rainy-day-activities",
        "sneaker-size-guide",
        "behind-the-scenes-at-our-studio",
        "holiday-gift-guide",
        "five-camping-mistakes",
    )
)
COLLECTION_PATHS: Final = tuple(f"/collections/{c}" for c in CATEGORIES)
MISC_PATHS: Final = ("/about", "/stores", "/faq", "/shipping-and-returns", "/search")

REFERRERS: Final = (
    "https://www.google.com/",
    "https://www.google.com/",
    "https://www.bing.com/",
    "https://www.facebook.com/",
    "https://www.instagram.com/",
    "https://t.co/",
    "https://www.pinterest.com/",
    "https://duckduckgo.com/",
)

UTM_SOURCES: Final = (
    ("google", "cpc", "brand_search"),
    ("google", "cpc", "shopping_always_on"),
    ("facebook", "paid_social", "autumn_sale"),
    ("instagram", "social", "creator_collab"),
    ("newsletter", "email", "weekly_digest"),
    ("tiktok", "paid_social", "new_arrivals"),
    ("bing", "cpc", "brand_search"),
    ("partner_blog", "referral", "gift_guide"),
)
UTM_QUERIES: Final = tuple(
    f"?utm_source={s}&utm_medium={m}&utm_campaign={c}" for s, m, c in UTM_SOURCES
)
UTM_REFERRERS: Final = (
    "https://www.google.com/",
    "https://www.google.com/",
    "https://www.facebook.com/",
    "https://www.instagram.com/",
    None,
    "https://www.tiktok.com/",
    "https://www.bing.com/",
    "https://gifts.example.org/",
)

STORES: Final = tuple(f"store_{n:03d}" for n in (101, 102, 105, 110, 118, 120, 204, 233, 301, 412))

_THEMES: Final = (
    "new_arrivals",
    "weekly_digest",
    "flash_sale",
    "back_in_stock",
    "member_perks",
    "style_guide",
)


def _build_campaigns() -> tuple[tuple[str, int], ...]:
    campaigns = []
    t = START + 3 * DAY + 14 * HOUR
    n = 0
    while t < END - DAY:
        day = fmt(t)[:10].replace("-", "")
        campaigns.append((f"cmp_{day}_{_THEMES[n % len(_THEMES)]}", t))
        t += 14 * DAY
        n += 1
    return tuple(campaigns)


CAMPAIGNS: Final = _build_campaigns()
"""Fortnightly newsletter sends over the window: (campaign_id, send epoch second)."""
CAMPAIGN_TIMES: Final = tuple(t for _, t in CAMPAIGNS)

COMPANIES: Final = (
    "Northwind Traders",
    "Contoso Ltd",
    "Initech",
    "Globex",
    "Umbrella Health",
    "Hooli",
    "Stark Logistics",
    "Wayne Foods",
    "Acme Corp",
    "Vandelay Industries",
    "Soylent Labs",
    "Wonka Sweets",
    "Cyberdyne Systems",
    "Pied Piper",
    "Massive Dynamic",
)
JOB_TITLES: Final = (
    "Marketing Manager",
    "Software Engineer",
    "Office Manager",
    "Head of Operations",
    "Buyer",
    "Account Executive",
    "Designer",
    "Teacher",
    "Nurse",
    "Data Analyst",
    "Founder",
    "Procurement Lead",
)
