"""Hand-made identity scenarios: the traps of real data, each with a known right answer."""

from __future__ import annotations

from .rawdata import RawData

JUNK_SHARED_EMAIL = "shared@inbox-example.org"
"""Not in any junk list: only the max_links guardrail can stop it."""
TABLET = "TABLET-0001"
DUP_EMAIL = "dup@example.com"
CHAIN = 100
"""Chain of 2 * CHAIN identifiers (shopify ids and anonymous ids alternating)."""


def guardrail_scenario() -> tuple[RawData, list[tuple[str, str, str]]]:
    """Raw tables + Shopify link rows (customer_ref, anonymous_id, linked_at)."""
    d = RawData()
    # 1. A junk email shared by 500 people, and a listed junk email shared by 30.
    for i in range(500):
        d.event(user_id=f"jk{i}", email=JUNK_SHARED_EMAIL, anonymous_id=f"jk-anon{i}")
    for i in range(30):
        d.order(user_id=f"tt{i}", email="test@test.com")
    # 2. A family tablet shared by 4 people: own phones, own app installs on the tablet; two
    #    of them log in on the tablet.
    for k in range(4):
        d.event(
            anonymous_id=f"fam-tab-anon{k}",
            device_id=TABLET,
            occurred_at=f"2026-0{k + 1}-01 10:00:00",
        )
        if k < 2:
            d.event(anonymous_id=f"fam-tab-anon{k}", device_id=TABLET, user_id=f"fam-user{k}")
        d.event(
            anonymous_id=f"fam-phone-anon{k}", device_id=f"fam-phone{k}", user_id=f"fam-user{k}"
        )
        d.order(user_id=f"fam-user{k}", email=f"member{k}@family.example")
    # 3. Two user_ids on one email.
    d.event(user_id="dup-a", email=DUP_EMAIL, anonymous_id="dup-anon-a")
    d.event(user_id="dup-b", email=DUP_EMAIL, anonymous_id="dup-anon-b")
    # 4. Two customers joined only through a shared phone, two links away from each user_id.
    d.event(user_id="lim-1", email="lim1@example.com")
    d.order(email="lim1@example.com", phone="+1 212 555 0101")
    d.order(email="lim2@example.com", phone="(212) 555-0101")
    d.event(user_id="lim-2", email="lim2@example.com")
    # 5. Normalization: phone formats, a GB number, email case and whitespace, junk values.
    for k, fmt in enumerate(["+1 (415) 555-0100", "415.555.0100", "4155550100", "1-415-555-0100"]):
        d.event(anonymous_id=f"fmt-anon{k}", phone=fmt)
    d.event(anonymous_id="gb-anon1", phone="00 44 20 7946 0958")
    d.event(anonymous_id="gb-anon2", phone="+44 20 7946 0958")
    d.crm(crm_id="GB-CRM-1", phone="020 7946 0958", country="GB", first_name="Olivia")
    d.order(order_id="gb-order", phone="020 7946 0958", channel="pos")
    d.event(anonymous_id="case-anon", email="  Mixed.Case@Example.COM ")
    d.event(user_id="case-user", email="mixed.case@example.com")
    d.event(anonymous_id="junk-anon1", user_id="undefined")
    d.event(anonymous_id="junk-anon2", email="N/A")
    d.event(anonymous_id="junk-anon3", phone="0000000000")
    d.event(anonymous_id="junk-anon4", user_id="   ")
    d.event(anonymous_id="same-value")
    d.event(anonymous_id="x-anon", device_id="same-value")
    # Consent: the latest record per purpose over all identifiers wins.
    d.consent(
        identifier_type="email",
        identifier="MIXED.CASE@example.com",
        purpose="marketing",
        granted=True,
        recorded_at="2026-01-01 00:00:00",
    )
    d.consent(
        identifier_type="user_id",
        identifier="case-user",
        purpose="marketing",
        granted=False,
        recorded_at="2026-02-01 00:00:00",
    )
    d.consent(
        identifier_type="anonymous_id",
        identifier="case-anon",
        purpose="advertising",
        granted=True,
        recorded_at="2026-03-01 00:00:00",
    )
    # Orders: totals net of refunds and cancellations.
    d.order(order_id="case-o1", user_id="case-user", total_amount="100.00", status="completed")
    d.order(order_id="case-o2", user_id="case-user", total_amount="40.00", status="refunded")
    d.order(order_id="case-o3", user_id="case-user", total_amount="15.00", status="cancelled")
    d.add("order_items", order_id="case-o1", quantity=3, unit_price="33.33")

    shopify: list[tuple[str, str, str]] = []
    # 6. A chain of 2 * CHAIN identifiers: shop-i links anon-i and anon-(i+1).
    for i in range(CHAIN):
        shopify.append((f"shop-{i}", f"chain-anon{i}", "2026-01-01 00:00:00"))
        if i + 1 < CHAIN:
            shopify.append((f"shop-{i}", f"chain-anon{i + 1}", "2026-01-02 00:00:00"))
    # A 30-cycle and a 40-star.
    for i in range(15):
        shopify.append((f"cyc-{i}", f"cyc-anon{i}", "2026-01-01 00:00:00"))
        shopify.append((f"cyc-{i}", f"cyc-anon{(i + 1) % 15}", "2026-01-01 00:00:00"))
    for i in range(40):
        shopify.append(("star-hub", f"star-anon{i}", "2026-01-01 00:00:00"))
    return d, shopify
