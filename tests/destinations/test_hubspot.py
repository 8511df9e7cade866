"""The HubSpot connector against the HubSpot fake over real HTTP, alone and through the engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from cdpkit.destinations.base import Batch, PlanInfo, Record
from cdpkit.destinations.crm_support import DailyLimitReached
from cdpkit.destinations.errors import BatchRejected, TerminalError, TransientError
from cdpkit.destinations.hubspot import HubSpotConfig, HubSpotDestination
from cdpkit.sandbox.fakes_hubspot import HubSpotFake, sandbox_token
from cdpkit.sandbox.server import Sandbox
from cdpkit.spec.diagnostics import SpecError
from cdpkit.warehouse import Warehouse

from .contract import ContractHarness, DestinationContract
from .crm_harness import build_connector, duckdb_warehouse, make_job, person, run, write_audience

PLAN = PlanInfo(adds=0, updates=0, removes=0, audience_size=0)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[HubSpotFake, Sandbox]]:
    fake = HubSpotFake()
    with Sandbox(port=0, fakes=[fake]) as sandbox:
        yield fake, sandbox


@pytest.fixture
def fake(server: tuple[HubSpotFake, Sandbox], monkeypatch: pytest.MonkeyPatch) -> HubSpotFake:
    hub, sandbox = server
    hub.reset()
    monkeypatch.setenv("TEST_HUBSPOT_TOKEN", sandbox_token())
    monkeypatch.setenv("TEST_HUBSPOT_URL", sandbox.url("hubspot"))
    return hub


@pytest.fixture
def wh(tmp_path: Path) -> Iterator[Warehouse]:
    warehouse = duckdb_warehouse(tmp_path / "warehouse.duckdb")
    yield warehouse
    warehouse.close()


def config(**overrides: Any) -> dict[str, Any]:
    sync = {
        "audience": "vips",
        "mode": "mirror",
        "identifier": "email",
        "mapping": {"email": "email", "firstname": "first_name", "ltv": "total_revenue"},
        "list": "VIP customers",
    }
    sync.update(overrides.pop("sync", {}))
    cfg: dict[str, Any] = {
        "type": "hubspot",
        "base_url": "${TEST_HUBSPOT_URL}",
        "token": "${TEST_HUBSPOT_TOKEN}",
        "create_properties": True,
        "property_types": {"ltv": "number"},
        "retry": {"base_delay_s": 0.01, "max_delay_s": 0.05},
        "syncs": [sync],
    }
    cfg.update(overrides)
    return cfg


def connector(**overrides: Any) -> HubSpotDestination:
    dest = build_connector(HubSpotDestination, config(**overrides), name="hs")
    assert isinstance(dest, HubSpotDestination)
    return dest


def record(email: str, change: str = "add", dest_id: str | None = None, **fields: Any) -> Record:
    return Record(
        key=email, change=change, fields={"email": email, **fields}, destination_id=dest_id
    )  # type: ignore[arg-type]


# -- config -------------------------------------------------------------------------------------
def test_config_rejects_bad_property_names_and_email_from_elsewhere() -> None:
    with pytest.raises(Exception, match="internal name"):
        HubSpotConfig.model_validate(config(sync={"mapping": {"First Name": "first_name"}}))
    with pytest.raises(Exception, match="upserts contacts by email"):
        HubSpotConfig.model_validate(config(sync={"mapping": {"email": "first_name"}}))
    with pytest.raises(Exception, match="environment variable reference"):
        HubSpotConfig.model_validate(config(token="pat-na1-literal"))
    assert SpecError  # (diagnostics are located by the loader; see the loader tests)


def test_a_bad_property_name_is_located_at_its_key(tmp_path: Path) -> None:
    from cdpkit.project import Project
    from cdpkit.sync.loader import load_destinations

    (tmp_path / "destinations").mkdir()
    path = tmp_path / "destinations" / "hs.yml"
    path.write_text(
        "type: hubspot\n"
        "token: ${HS_TOKEN}\n"
        "syncs:\n"
        "  - audience: vips\n"
        "    identifier: email\n"
        "    mapping:\n"
        "      email: email\n"
        "      First Name: first_name\n",
        encoding="utf-8",
    )
    loaded = load_destinations(Project(tmp_path), [path])
    [error] = loaded.errors
    assert (error.code, error.line, error.col) == ("D060", 8, 7)
    assert "'First Name' is not a HubSpot property internal name" in error.message


def test_limits_come_from_the_tier_unless_overridden() -> None:
    cfg = HubSpotConfig.model_validate(config(tier="professional"))
    assert (cfg.window_limit, cfg.day_limit) == (190, 650_000)
    packs = HubSpotConfig.model_validate(config(tier="enterprise", limit_increase_packs=1))
    assert (packs.window_limit, packs.day_limit) == (250, 2_000_000)
    own = HubSpotConfig.model_validate(config(ten_second_limit=50, daily_limit=1000))
    assert (own.window_limit, own.day_limit) == (50, 1000)


# -- connector alone ----------------------------------------------------------------------------
def test_bad_token_is_terminal_and_actionable(
    fake: HubSpotFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_HUBSPOT_TOKEN", "pat-wrong-token")
    with pytest.raises(TerminalError) as caught:
        connector().check()
    message = str(caught.value)
    assert "401" in message and "private app" in message and "TEST_HUBSPOT_TOKEN" in message
    assert "pat-wrong-token" not in message


def test_missing_scope_names_the_scope(fake: HubSpotFake) -> None:
    fake.configure({"tokens": {sandbox_token(): ["crm.schemas.contacts.read"]}})
    dest = connector(create_properties=False, sync={"mapping": {"email": "email"}})
    dest.check()
    with pytest.raises(TerminalError, match="crm.lists.read"):
        dest.open(PLAN)


def test_missing_properties_error_or_creation(fake: HubSpotFake) -> None:
    with pytest.raises(TerminalError, match=r"no contact properties named ltv.*create_properties"):
        connector(create_properties=False).open(PLAN)
    assert "ltv" not in fake.portal.properties
    connector().open(PLAN)
    assert fake.portal.properties["ltv"].type == "number"
    with pytest.raises(TerminalError, match="read-only"):
        connector(sync={"mapping": {"email": "email", "createdate": "first_name"}}).open(PLAN)


def test_upsert_dedups_maps_ids_and_fills_the_list(fake: HubSpotFake) -> None:
    dest = connector()
    dest.open(PLAN)
    batch = Batch(
        "hs.vips",
        "upsert",
        (
            record("Ann@x.io", firstname="Ann"),
            record("ann@x.io", ltv=12.5),  # the same contact for HubSpot: merged, not duplicated
            record("bob@x.io", firstname="Bob"),
            record("no-at-sign", firstname="Nope"),
        ),
    )
    result = dest.upsert(batch)
    assert result.rejected == {"no-at-sign": "'no-at-sign' is not a valid email address"}
    contacts = fake.contacts_by_email()
    assert contacts["ann@x.io"]["firstname"] == "Ann" and contacts["ann@x.io"]["ltv"] == "12.5"
    ann = fake.portal.find("email", "ann@x.io")
    assert ann is not None
    assert result.destination_ids["Ann@x.io"] == result.destination_ids["ann@x.io"] == ann.id
    assert fake.list_emails("VIP customers") == {"ann@x.io", "bob@x.io"}
    assert fake.max_inputs_seen == 2
    again = dest.upsert(batch)  # idempotent re-send
    assert again.destination_ids == result.destination_ids
    assert len(fake.portal.contacts) == 2 and fake.list_emails("VIP customers") == {
        "ann@x.io",
        "bob@x.io",
    }


def test_invalid_value_rejects_batch_for_bisection_and_207_per_record(fake: HubSpotFake) -> None:
    dest = connector()
    dest.open(PLAN)
    batch = Batch("hs.vips", "upsert", (record("a@x.io", ltv="lots"), record("b@x.io", ltv=3)))
    with pytest.raises(BatchRejected, match="INVALID_DECIMAL"):
        dest.upsert(batch)
    assert fake.portal.contacts == {}
    fake.configure({"multi_status": True})
    result = dest.upsert(batch)
    assert set(result.rejected) == {"a@x.io"} and "not a valid number" in result.rejected["a@x.io"]
    assert set(result.destination_ids) == {"b@x.io"}


def test_property_deleted_mid_run_is_terminal_not_bisected(fake: HubSpotFake) -> None:
    dest = connector()
    dest.open(PLAN)
    del fake.portal.properties["ltv"]
    with pytest.raises(TerminalError, match="ltv"):
        dest.upsert(Batch("hs.vips", "upsert", (record("a@x.io", ltv=1),)))


def test_throttling_classified_by_policy(fake: HubSpotFake) -> None:
    dest = connector()
    dest.open(PLAN)
    batch = Batch("hs.vips", "upsert", (record("a@x.io"),))
    ten = {
        "status": "error",
        "message": "You have reached your ten_secondly_rolling limit.",
        "errorType": "RATE_LIMIT",
        "policyName": "TEN_SECONDLY_ROLLING",
    }
    fake.faults.configure({"script": [{"status": 429, "body": ten, "retry_after": 0.2}]})
    with pytest.raises(TransientError) as caught:
        dest.upsert(batch)
    assert caught.value.throttled and caught.value.retry_after == pytest.approx(0.2)
    fake.configure({"daily_limit": fake.limits.used_today})
    with pytest.raises(DailyLimitReached, match="daily API limit.*next run resumes"):
        dest.upsert(batch)
    requests_before = fake.limits.used_today
    with pytest.raises(DailyLimitReached):
        dest.upsert(batch)  # known exhausted: not even sent
    assert fake.stats["throttled_DAILY"] == 1 and fake.limits.used_today == requests_before


def test_daily_remaining_zero_stops_before_the_next_request(fake: HubSpotFake) -> None:
    dest = connector()
    dest.open(PLAN)
    fake.configure({"daily_limit": fake.limits.used_today + 2})  # upsert + list add, then none
    dest.upsert(Batch("hs.vips", "upsert", (record("a@x.io"),)))
    with pytest.raises(DailyLimitReached):
        dest.upsert(Batch("hs.vips", "upsert", (record("b@x.io"),)))
    assert fake.stats.get("throttled_DAILY", 0) == 0  # stopped on the header, no 429 needed


def test_remove_by_id_by_email_and_after_a_merge(fake: HubSpotFake) -> None:
    dest = connector()
    dest.open(PLAN)
    ids = dest.upsert(
        Batch("hs.vips", "upsert", (record("a@x.io"), record("b@x.io"), record("c@x.io")))
    ).destination_ids
    c = fake.portal.find("email", "c@x.io")
    assert c is not None
    # HubSpot merged c into a new record: the stored id is stale.
    vips = fake.portal.list_named("VIP customers")
    assert vips is not None
    fake.portal.contacts.pop(c.id)
    merged = fake.portal.create({"email": "c@x.io"})
    vips.members.discard(c.id)
    vips.members.add(merged.id)
    result = dest.remove(
        Batch(
            "hs.vips",
            "remove",
            (
                Record("a@x.io", "remove", destination_id=ids["a@x.io"]),
                Record("b@x.io", "remove"),  # no stored id: looked up by email
                Record("c@x.io", "remove", destination_id=ids["c@x.io"]),
                Record("gone@x.io", "remove"),  # unknown to HubSpot: nothing to remove
            ),
        )
    )
    assert result.rejected == {}
    assert fake.list_emails("VIP customers") == set()
    assert len(fake.portal.contacts) == 3  # contacts are never deleted


def test_dynamic_list_with_the_name_is_refused(fake: HubSpotFake) -> None:
    fake.portal.create_list("VIP customers", "DYNAMIC")
    with pytest.raises(TerminalError, match="static list"):
        connector().open(PLAN)


# -- through the engine -------------------------------------------------------------------------
def test_engine_mirror_runs_converge_and_send_only_the_diff(
    fake: HubSpotFake, wh: Warehouse, tmp_path: Path
) -> None:
    people = [person(n) for n in range(1, 251)]
    write_audience(wh, people)
    job = make_job("hs", HubSpotDestination, config(concurrency=3))
    first = run(wh, job, tmp_path)
    assert first.status == "success", first.error
    assert first.confirmed["add"] == 250
    expected = {p["email"]: p for p in people}
    contacts = fake.contacts_by_email()
    assert set(contacts) == set(expected) == fake.list_emails("VIP customers")
    for email, p in expected.items():
        assert contacts[email]["firstname"] == p["first_name"]
        assert float(contacts[email]["ltv"]) == p["total_revenue"]
    assert fake.max_inputs_seen == 100

    before = dict(fake.stats)
    second = run(wh, job, tmp_path)
    assert second.status == "success" and sum(second.sent.values()) == 0
    assert {k: v for k, v in fake.stats.items() if k not in ("properties", "list_by_name")} == {
        k: v for k, v in before.items() if k not in ("properties", "list_by_name")
    }

    changed = [
        dict(p, first_name="Changed") if p["customer_id"] == "c000007" else p for p in people
    ]
    changed = [p for p in changed if p["customer_id"] not in ("c000001", "c000002")]
    changed.append(person(999))
    write_audience(wh, changed)
    third = run(wh, job, tmp_path)
    assert third.status == "success", third.error
    assert (third.sent["add"], third.sent["update"], third.sent["remove"]) == (1, 1, 2)
    assert fake.list_emails("VIP customers") == {p["email"] for p in changed}
    assert fake.contacts_by_email()["person7@example.com"]["firstname"] == "Changed"


def test_engine_isolates_a_bad_record_and_stops_cleanly_on_the_daily_limit(
    fake: HubSpotFake, wh: Warehouse, tmp_path: Path
) -> None:
    people = [person(n) for n in range(1, 41)]
    people[5]["total_revenue"] = None
    people[6]["email"] = "broken@@example"
    write_audience(wh, people)
    job = make_job("hs", HubSpotDestination, config(batch_size=10, concurrency=1))
    # properties read + create, list lookup + create, one batch (upsert + list add), then the
    # second batch's upsert: its list add is refused with 429 DAILY.
    fake.configure({"daily_limit": 7})
    first = run(wh, job, tmp_path)
    assert first.status == "deferred", first.error  # nothing lost: resumes next run
    assert "daily API limit" in (first.error or "") and "next run resumes" in (first.error or "")
    done = first.confirmed["add"]
    assert 0 < done < 40
    fake.configure({"daily_limit": 250_000})
    fake.limits.used_today = 0
    second = run(wh, job, tmp_path)
    assert second.status == "partial", second.error
    assert second.confirmed["add"] + done == 39
    # A rejected record is not marked synced: every run tries it again (and rejects it again).
    assert [r["key"] for r in first.rejections] == [r["key"] for r in second.rejections]
    assert [r["key"] for r in second.rejections] == ["broken@@example"]
    assert len(fake.list_emails("VIP customers")) == 39
    sixth = fake.contacts_by_email()["person6@example.com"]
    assert "ltv" not in sixth  # skip_nulls: no empty value sent


# -- the shared destination contract ------------------------------------------------------------
CONTRACT_LIST = "Contract list"


class HubSpotControl:
    """FakeControl for the sandbox's HubSpot fake (through its control API)."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.base = sandbox.control_url("hubspot")

    def _post(self, action: str, body: dict[str, Any]) -> None:
        requests.post(f"{self.base}/{action}", json=body, timeout=10).raise_for_status()

    def reset(self) -> None:
        self._post("reset", {})

    def throttle_next(self, n: int, retry_after_s: float) -> None:
        body = {
            "status": "error",
            "message": "You have reached your ten_secondly_rolling limit.",
            "errorType": "RATE_LIMIT",
            "category": "RATE_LIMITS",
            "policyName": "TEN_SECONDLY_ROLLING",
        }
        script = [{"status": 429, "body": body, "retry_after": retry_after_s, "times": n}]
        self._post("faults", {"script": script})

    def fail_next(self, n: int) -> None:
        self._post("faults", {"script": [{"status": 502, "times": n}]})

    def fail_auth(self) -> None:
        self._post("faults", {"fail_auth": True})

    def reject(self, key: str, reason: str) -> None:
        self._post("settings", {"reject": {key: reason}})

    def members(self) -> dict[str, dict[str, Any]]:
        lists = requests.get(f"{self.base}/lists", timeout=10).json()
        emails = set(lists.get(CONTRACT_LIST, {}).get("emails", []))
        contacts = requests.get(f"{self.base}/contacts", timeout=10).json()["results"]
        by_email = {c["properties"].get("email"): c["properties"] for c in contacts}
        return {e: by_email.get(e, {}) for e in emails}

    def writes(self) -> int:
        stats = requests.get(f"{self.base}/stats", timeout=10).json()
        return int(stats["requests"].get("inputs_received", 0))


def hubspot_records(n: int, start: int = 0) -> list[Record]:
    return [
        Record(
            key=f"person{i:05d}@example.com",
            change="add",
            fields={"email": f"person{i:05d}@example.com", "firstname": f"P{i}"},
            customer_id=f"c{i:05d}",
            seq=i + 1,
        )
        for i in range(start, start + n)
    ]


class TestHubSpotContract(DestinationContract):
    @pytest.fixture
    def harness(self, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> ContractHarness:
        monkeypatch.setenv("CONTRACT_HUBSPOT_TOKEN", sandbox_token())

        def make(**extra: Any) -> HubSpotConfig:
            data: dict[str, Any] = {
                "type": "hubspot",
                "base_url": sandbox.url("hubspot"),
                "token": "${CONTRACT_HUBSPOT_TOKEN}",
                "timeout_s": 5,
                "syncs": [
                    {
                        "audience": "vip",
                        "mode": "mirror",
                        "identifier": "email",
                        "mapping": {"email": "email", "firstname": "first_name"},
                        "list": CONTRACT_LIST,
                    }
                ],
            }
            data.update(extra)
            return HubSpotConfig.model_validate(data)

        return ContractHarness(
            connector=HubSpotDestination,
            config=make,
            control=HubSpotControl(sandbox),
            records=hubspot_records,
            fields=("email", "firstname"),
        )


def test_rolling_window_never_exceeds_its_limit() -> None:
    import time

    from cdpkit.destinations.crm_support import RollingWindow

    window = RollingWindow(3, 0.3, margin_s=0.02)
    started = time.monotonic()
    stamps = []
    for _ in range(8):
        assert window.acquire()
        stamps.append(time.monotonic() - started)
    for i, t in enumerate(stamps):
        assert sum(1 for u in stamps[i:] if u < t + 0.3) <= 3
    assert stamps[-1] >= 0.6  # 8 requests at 3 per 0.3 s need two full windows
