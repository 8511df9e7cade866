"""truth.csv is complete and exact, and the identity traps it documents are really there."""

from __future__ import annotations

import re
from collections import Counter, defaultdict

from demo_helpers import DemoSet, identifiers_in

from cdpkit.demo_data import IDENTIFIER_TYPES, JUNK_EMAILS, JUNK_IDS, JUNK_PHONES

JUNK = {("email", v) for v in JUNK_EMAILS} | {("phone", v) for v in JUNK_PHONES}
JUNK |= {("user_id", v) for v in JUNK_IDS} | {("anonymous_id", v) for v in JUNK_IDS}
TYPO_DOMAINS = re.compile(
    r"@(gmial|gmal|gnail)\.com$|@gmail\.con$|@(yaho|yahooo|hotmial|outlok|iclod)\."
)


def test_truth_covers_every_identifier_value_in_every_table(demo: DemoSet) -> None:
    present = set(identifiers_in(demo.tables))
    in_truth = set(demo.owners)
    assert present - in_truth == set()
    assert in_truth - present == set()  # nothing invented either


def test_truth_rows_are_unique_and_typed(demo: DemoSet) -> None:
    rows = [(r["person_id"], r["identifier_type"], r["identifier_value"]) for r in demo.truth]
    assert len(rows) == len(set(rows))
    assert {r[1] for r in rows} == set(IDENTIFIER_TYPES)
    assert all(r[2] is not None for r in rows)


def test_every_person_left_at_least_one_identifier(demo: DemoSet) -> None:
    people = {r["person_id"] for r in demo.truth}
    assert len(people) == demo.summary.people


def test_only_junk_and_family_tablets_are_shared_between_people(demo: DemoSet) -> None:
    shared = {key for key, people in demo.owners.items() if len(people) > 1}
    assert shared, "no shared identifiers at all"
    assert {key for key in shared if key[0] != "device_id"} <= JUNK
    family = [len(demo.owners[key]) for key in shared if key[0] == "device_id"]
    assert len(family) >= 15
    assert set(family) <= {2, 3, 4, 5}


def test_junk_values_are_each_used_by_many_unrelated_people(demo: DemoSet) -> None:
    users = {key: len(people) for key, people in demo.owners.items() if key in JUNK}
    for value in JUNK_EMAILS:
        assert users.get(("email", value), 0) >= 3, value
    assert users[("email", "test@test.com")] >= 10
    assert users[("phone", "0000000000")] >= 8
    assert sum(users.get(("user_id", v), 0) for v in JUNK_IDS) >= 5


def test_typos_exist_and_belong_to_one_person(demo: DemoSet) -> None:
    typos = [
        key
        for key in demo.owners
        if key[0] == "email" and TYPO_DOMAINS.search(key[1].strip().lower())
    ]
    assert len(typos) >= 5
    assert all(len(demo.owners[key]) == 1 for key in typos)


def test_people_change_email_over_time(demo: DemoSet) -> None:
    addresses: dict[str, set[str]] = defaultdict(set)
    for (kind, value), people in demo.owners.items():
        if kind == "email" and (kind, value) not in JUNK and not TYPO_DOMAINS.search(value.lower()):
            for person in people:
                addresses[person].add(value.strip().lower())
    assert sum(len(a) > 1 for a in addresses.values()) >= demo.summary.people * 0.02


def test_anonymous_browsing_spans_devices_and_some_never_log_in(demo: DemoSet) -> None:
    kinds: dict[str, Counter[str]] = defaultdict(Counter)
    for row in demo.truth:
        kinds[str(row["person_id"])][str(row["identifier_type"])] += 1
    browsers = [k for k in kinds.values() if k["anonymous_id"]]
    assert len(browsers) >= demo.summary.people * 0.7
    never = [k for k in browsers if not k["user_id"]]
    assert 0.2 <= len(never) / len(browsers) <= 0.6
    assert sum(k["anonymous_id"] >= 2 for k in browsers) >= len(browsers) * 0.3
    crm_only = [k for k in kinds.values() if k["crm_id"] and not k["anonymous_id"]]
    assert len(crm_only) >= demo.summary.people * 0.04


def test_logged_in_people_also_browse_anonymously_on_other_devices(demo: DemoSet) -> None:
    anon_owners = {k: p for k, p in demo.owners.items() if k[0] == "anonymous_id"}
    linked: set[str] = set()
    for event in demo.tables["events"]:
        if event["user_id"] is not None and event["anonymous_id"] is not None:
            linked.add(event["anonymous_id"])
    unlinked_people: Counter[str] = Counter()
    for (_, anon), people in anon_owners.items():
        if anon not in linked:
            unlinked_people.update(people)
    logged = {p for (kind, _), people in demo.owners.items() if kind == "user_id" for p in people}
    both = [p for p in logged if unlinked_people[p]]
    assert len(both) >= len(logged) * 0.3  # never-identified cookies of people who do log in
