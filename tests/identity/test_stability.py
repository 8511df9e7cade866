"""customer_id is stable: rebuilds keep every id, new data keeps ids unless customers merge."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdpkit.project import Project
from cdpkit.warehouse import connect

from .conftest import build, customer_of, rows, run, scratch
from .rawdata import RawData, create_raw_tables

pytestmark = pytest.mark.slow


def _base() -> RawData:
    d = RawData()
    for i in range(1, 6):
        d.event(
            anonymous_id=f"a{i}",
            user_id=f"u{i}",
            email=f"p{i}@example.com",
            occurred_at="2026-01-01 10:00:00",
        )
    d.event(anonymous_id="a6", occurred_at="2026-01-02 10:00:00")  # never logged in (yet)
    d.event(user_id="u7", email="p7@example.com", occurred_at="2026-01-03 10:00:00")
    d.event(anonymous_id="a8", occurred_at="2026-01-04 10:00:00")
    return d


def _week(d: RawData) -> RawData:
    """A week of new data: growth, a new person, a merge and a guardrail split."""
    d.event(anonymous_id="a1b", user_id="u1", occurred_at="2026-01-08 10:00:00")  # new cookie
    d.event(anonymous_id="a9", user_id="u9", occurred_at="2026-01-09 10:00:00")  # new person
    d.event(anonymous_id="a6", user_id="u7", occurred_at="2026-01-10 10:00:00")  # a6 logs in
    d.event(user_id="u10", email="p2@example.com", occurred_at="2026-01-11 10:00:00")  # shared
    return d


def _load(project: Project, data: RawData) -> None:
    with connect(project) as wh:
        create_raw_tables(wh, "raw", data)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    proj = scratch(tmp_path, "proj")
    monkeypatch.setenv("CDPKIT_WAREHOUSE", str(proj.root / "warehouse.duckdb"))
    monkeypatch.delenv("CDPKIT_TARGET", raising=False)
    return proj


def test_rebuild_then_a_week_of_data_keeps_ids(project: Project) -> None:
    _load(project, _base())
    build(project)
    first = customer_of(project)
    assert len(set(first.values())) == 8

    run(project)
    assert customer_of(project) == first, "same data, same ids"
    run(project, None, "--full-refresh")
    assert customer_of(project) == first, "--full-refresh keeps the registry"

    _load(project, _week(_base()))
    build(project)
    after = customer_of(project)
    # Every pre-existing customer that did not merge keeps its id.
    merged = {first[("anonymous_id", "a6")], first[("user_id", "u7")]}
    for key, old in first.items():
        if old not in merged and key != ("email", "p2@example.com"):
            assert after[key] == old, key
    # Growth joins the existing customer; the new person gets a new id.
    assert after[("anonymous_id", "a1b")] == first[("user_id", "u1")]
    assert after[("user_id", "u9")] not in set(first.values())
    # The merge: one of the two old ids survives, the other is retired into it.
    survivor = after[("user_id", "u7")]
    assert after[("anonymous_id", "a6")] == survivor and survivor in merged
    (retired,) = merged - {survivor}
    aliases = {
        r["retired_customer_id"]: r["customer_id"] for r in rows(project, "customer_id_aliases")
    }
    assert aliases == {retired: survivor}
    assert survivor == min(merged), "same age: the smaller id survives"
    # The guardrail split: p2@ is now shared by two user_ids and leaves customer u2, which
    # keeps its id; u10 is new.
    assert ("email", "p2@example.com") not in after
    assert after[("user_id", "u2")] == first[("user_id", "u2")]
    assert after[("user_id", "u10")] not in set(first.values())
    registry = {r["customer_id"]: r for r in rows(project, "identity_customer_id_registry")}
    assert registry[retired]["status"] == "merged" and registry[retired]["merged_into"] == survivor
    assert registry[survivor]["first_build"] == 1

    # Rebuild after the week: still identical.
    run(project)
    assert customer_of(project) == after

    # A customer whose rows are deleted, then loaded again, gets its id back.
    gone = _week(_base())
    gone.tables["events"] = [e for e in gone.tables["events"] if e.get("user_id") != "u3"]
    _load(project, gone)
    run(project)
    assert ("user_id", "u3") not in customer_of(project)
    _load(project, _week(_base()))
    run(project)
    assert customer_of(project) == after

    # Re-keying is explicit: the registry starts over (ids minted afresh from each customer's
    # smallest identifier, so the merged customer's id may change).
    run(project, {"cdpkit_identity_reset_ids": True})
    registry_after_reset = rows(project, "identity_customer_id_registry")
    assert {r["first_build"] for r in registry_after_reset} == {1}
    assert {r["status"] for r in registry_after_reset} == {"active"}
