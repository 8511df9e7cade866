"""Messy spellings and audience-worthy behaviour show up in useful proportions."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import datetime, timedelta

from demo_helpers import DemoSet, Record

from cdpkit.demo_data import JUNK_EMAILS, JUNK_PHONES, REFERENCE_TIME

PHONE_FAMILIES = (
    ("e164", re.compile(r"\+\d{8,15}")),
    ("ten_digits", re.compile(r"\d{10}")),
    ("us_parens", re.compile(r"\(\d{3}\) \d{3}-\d{4}")),
    ("us_dashes", re.compile(r"\d{3}-\d{3}-\d{4}")),
    ("us_dots", re.compile(r"\d{3}\.\d{3}\.\d{4}")),
    ("intl_parens", re.compile(r"\+1 \(\d{3}\) \d{3}-\d{4}")),
    ("intl_spaced", re.compile(r"\+\d{1,2} [\d ()]+")),
    ("intl_00", re.compile(r"00[\d ]+")),
    ("national_0", re.compile(r"\(?0[\d ()./]+")),
)


def _family(phone: str) -> str:
    return next((name for name, rx in PHONE_FAMILIES if rx.fullmatch(phone)), "other")


def _orders_by_person(demo: DemoSet) -> dict[str, list[Record]]:
    by_person: dict[str, list[Record]] = defaultdict(list)
    for order in demo.tables["orders"]:
        person = demo.order_owner(order)
        if person is not None:
            by_person[person].append(order)
    return by_person


def _event_person(demo: DemoSet, event: Record) -> str | None:
    return demo.owner("anonymous_id", event["anonymous_id"]) or demo.owner(
        "user_id", event["user_id"]
    )


def test_phones_come_in_many_formats(demo: DemoSet) -> None:
    phones = [v for (kind, v) in demo.owners if kind == "phone" and v not in JUNK_PHONES]
    shares = {k: n / len(phones) for k, n in Counter(map(_family, phones)).items()}
    assert sum(share >= 0.05 for share in shares.values()) >= 6, shares
    assert shares.get("other", 0) < 0.05, shares
    countries = Counter(
        "+44"
        if p.startswith(("+44", "0044", "00 44"))
        else "+1"
        if _family(p) != "national_0"
        else "0"
        for p in phones
    )
    assert countries["+1"] > len(phones) * 0.6  # mostly US/CA, some GB/DE/FR
    assert countries["+44"] > 0


def test_emails_vary_in_case_and_whitespace(demo: DemoSet) -> None:
    emails = [v for (kind, v) in demo.owners if kind == "email" and v not in JUNK_EMAILS]
    assert sum(e != e.lower() for e in emails) >= len(emails) * 0.10
    assert sum(e != e.strip() for e in emails) >= len(emails) * 0.02
    spellings: dict[str, set[str]] = defaultdict(set)
    for e in emails:
        spellings[e.strip().lower()].add(e)
    assert sum(len(s) > 1 for s in spellings.values()) >= demo.summary.people * 0.05


def test_store_orders_are_keyed_only_by_phone_or_loyalty_card(demo: DemoSet) -> None:
    pos = [o for o in demo.tables["orders"] if o["channel"] == "pos"]
    assert len(pos) >= demo.summary.people * 0.1
    for order in pos:
        assert order["user_id"] is None and order["email"] is None
        assert order["phone"] is not None or order["loyalty_id"] is not None
        assert order["store_id"] is not None
    only_phone = sum(o["loyalty_id"] is None for o in pos)
    only_card = sum(o["phone"] is None for o in pos)
    assert only_phone > 0.2 * len(pos) and only_card > 0.1 * len(pos)
    assert all(o["loyalty_id"] is None or o["loyalty_id"].startswith("LOY-") for o in pos)
    online = [o for o in demo.tables["orders"] if o["channel"] != "pos"]
    assert all(o["store_id"] is None and o["email"] is not None for o in online)


def test_consents_are_revoked_and_regranted(demo: DemoSet) -> None:
    history: dict[tuple[str | None, ...], list[tuple[str, str]]] = defaultdict(list)
    for c in demo.tables["consents"]:
        key = (c["identifier_type"], c["identifier"], c["purpose"])
        history[key].append((str(c["recorded_at"]), str(c["granted"])))
    revoked = [k for k, h in history.items() if "true" in dict(h).values() and max(h)[1] == "false"]
    assert len(revoked) >= 20
    assert {k[0] for k in revoked} >= {"email", "phone", "anonymous_id"}
    assert {k[2] for k in history} == {"marketing", "advertising", "analytics"}


def test_spend_is_skewed_and_some_buyers_lapsed(demo: DemoSet) -> None:
    by_person = _orders_by_person(demo)
    assert len(by_person) >= demo.summary.people * 0.2
    revenue = sorted(
        (sum(float(str(o["total_amount"])) for o in os) for os in by_person.values()), reverse=True
    )
    top = revenue[: len(revenue) // 10]
    assert sum(top) >= 0.3 * sum(revenue)
    assert revenue[0] >= 10 * revenue[len(revenue) // 2]
    cutoff = (REFERENCE_TIME - timedelta(days=90)).replace(tzinfo=None)
    lapsed = [
        p
        for p, os in by_person.items()
        if max(datetime.fromisoformat(str(o["ordered_at"])) for o in os) < cutoff
    ]
    assert 0.1 * len(by_person) <= len(lapsed) <= 0.8 * len(by_person)
    statuses = Counter(o["status"] for o in demo.tables["orders"])
    assert statuses["completed"] > 0.8 * sum(statuses.values())
    currencies = Counter(o["currency"] for o in demo.tables["orders"])
    assert currencies["USD"] > 0.6 * sum(currencies.values())


def test_pricing_lookers_cart_abandoners_and_email_only_readers(demo: DemoSet) -> None:
    buyers = set(_orders_by_person(demo))
    pricing: Counter[str] = Counter()
    added: set[str] = set()
    for event in demo.tables["events"]:
        person = _event_person(demo, event)
        if person is None:
            continue
        if event["page_path"] == "/pricing" and event["event_type"] in ("page", "screen"):
            pricing[person] += 1
        if event["event_name"] == "product_added":
            added.add(person)
    assert sum(n >= 3 and p not in buyers for p, n in pricing.items()) >= demo.summary.people * 0.02
    assert len(added - buyers) >= demo.summary.people * 0.05
    readers = {
        demo.owner("email", e["email"])
        for e in demo.tables["email_events"]
        if e["event_type"] in ("opened", "clicked")
    }
    assert len({p for p in readers if p is not None} - buyers) >= demo.summary.people * 0.03


def test_page_views_cover_the_site_and_carry_some_utm(demo: DemoSet) -> None:
    pages = [e for e in demo.tables["events"] if e["event_type"] == "page"]
    paths = {str(e["page_path"]) for e in pages}
    for prefix in ("/pricing", "/products/", "/cart", "/checkout", "/blog/"):
        assert any(p.startswith(prefix) for p in paths), prefix
    with_utm = [e for e in pages if e["utm_source"] is not None]
    assert 0.03 <= len(with_utm) / len(pages) <= 0.5
    assert all("utm_source=" in str(e["page_url"]) for e in with_utm)
    sources = Counter(e["source"] for e in demo.tables["events"])
    assert min(sources.values()) >= 50
    identifies = [e for e in demo.tables["events"] if e["event_type"] == "identify"]
    assert sum(e["email"] is not None for e in identifies) >= 0.3 * len(identifies)
    app = [e for e in demo.tables["events"] if e["source"] in ("ios", "android")]
    assert all(e["device_id"] is not None and e["anonymous_id"] is not None for e in app)
