"""The Salesforce connector against the Salesforce fake over real HTTP, alone and via the engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from cdpkit.destinations.base import Batch, PlanInfo, Record
from cdpkit.destinations.crm_support import DailyLimitReached
from cdpkit.destinations.errors import BatchRejected, TerminalError
from cdpkit.destinations.salesforce import SalesforceConfig, SalesforceDestination
from cdpkit.destinations.salesforce_api import soql_quote
from cdpkit.sandbox.fakes_salesforce import (
    DEFAULT_CLIENT_ID,
    SalesforceFake,
    sandbox_client_secret,
)
from cdpkit.sandbox.fakes_salesforce_data import FieldDef
from cdpkit.sandbox.server import Sandbox
from cdpkit.warehouse import Warehouse

from .contract import ContractHarness, DestinationContract
from .crm_harness import build_connector, duckdb_warehouse, make_job, person, run, write_audience

SMALL = PlanInfo(adds=1, updates=0, removes=0, audience_size=1)
LARGE = PlanInfo(adds=50_000, updates=0, removes=0, audience_size=50_000)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[SalesforceFake, Sandbox]]:
    fake = SalesforceFake()
    with Sandbox(port=0, fakes=[fake]) as sandbox:
        yield fake, sandbox


@pytest.fixture
def fake(server: tuple[SalesforceFake, Sandbox], monkeypatch: pytest.MonkeyPatch) -> SalesforceFake:
    sf, sandbox = server
    sf.reset()
    sf.configure({"processing_delay_s": 0.05})
    sf.add_field("Contact", FieldDef("LTV__c", "double"))
    sf.add_field("Contact", FieldDef("Pricing_Lurker__c", "boolean", default=False, nillable=False))
    monkeypatch.setenv("TEST_SF_URL", sandbox.url("salesforce"))
    monkeypatch.setenv("TEST_SF_ID", DEFAULT_CLIENT_ID)
    monkeypatch.setenv("TEST_SF_SECRET", sandbox_client_secret())
    return sf


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
        "mapping": {
            "Email": "email",
            "FirstName": "first_name",
            "LastName": "last_name",
            "LTV__c": "total_revenue",
        },
        "list": "VIP customers",
    }
    sync.update(overrides.pop("sync", {}))
    cfg: dict[str, Any] = {
        "type": "salesforce",
        "base_url": "${TEST_SF_URL}",
        "client_id": "${TEST_SF_ID}",
        "client_secret": "${TEST_SF_SECRET}",
        "bulk_poll_interval_s": 0.05,
        "retry": {"base_delay_s": 0.01, "max_delay_s": 0.05},
        "syncs": [sync],
    }
    cfg.update(overrides)
    return cfg


def connector(**overrides: Any) -> SalesforceDestination:
    dest = build_connector(SalesforceDestination, config(**overrides), name="sf")
    assert isinstance(dest, SalesforceDestination)
    return dest


def rec(key: str, change: str = "add", dest_id: str | None = None, **fields: Any) -> Record:
    base = {"Email": key, "LastName": "Doe"}
    return Record(key=key, change=change, fields={**base, **fields}, destination_id=dest_id)  # type: ignore[arg-type]


def test_config_checks() -> None:
    with pytest.raises(Exception, match="API name"):
        SalesforceConfig.model_validate(config(sync={"mapping": {"First Name": "first_name"}}))
    with pytest.raises(Exception, match="always holds the sync's identifier"):
        SalesforceConfig.model_validate(config(sync={"mapping": {"Cdpkit_Key__c": "first_name"}}))
    with pytest.raises(Exception, match="checkbox field"):
        SalesforceConfig.model_validate(config(membership="field"))
    with pytest.raises(Exception, match="too old"):
        SalesforceConfig.model_validate(config(api_version="45.0"))


def test_soql_quote_escapes() -> None:
    assert soql_quote("O'Brien \\ x\n") == "'O\\'Brien \\\\ x\\n'"


def test_bad_credentials_are_terminal_and_actionable(
    fake: SalesforceFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_SF_SECRET", "wrong-secret-value")
    with pytest.raises(TerminalError) as caught:
        connector().check()
    message = str(caught.value)
    assert "invalid_client" in message and "client credentials flow" in message
    assert "TEST_SF_SECRET" in message and "wrong-secret-value" not in message


def test_check_names_missing_fields(fake: SalesforceFake) -> None:
    with pytest.raises(TerminalError, match=r"no field\(s\) Shoe__c"):
        connector(sync={"mapping": {"Shoe__c": "city", "LastName": "last_name"}}).check()
    with pytest.raises(TerminalError, match="no external id field Email_Key__c"):
        connector(external_id_field="Email_Key__c").check()
    with pytest.raises(TerminalError, match="cannot be written"):
        connector(sync={"mapping": {"CreatedDate": "city"}}).check()


def test_reauthenticates_once_on_expired_session(fake: SalesforceFake) -> None:
    dest = connector()
    dest.check()
    fake.sessions.clear()  # the session expired
    dest.open(SMALL)
    assert fake.stats["token"] == 2
    fake.faults.configure({"fail_auth": True})
    with pytest.raises(TerminalError, match="refused again after re-authenticating"):
        dest.upsert(Batch("sf.vips", "upsert", (rec("a@x.io"),)))


def test_collections_upsert_rejects_per_record_and_fills_the_campaign(fake: SalesforceFake) -> None:
    dest = connector()
    dest.check()
    dest.open(SMALL)
    batch = Batch(
        "sf.vips",
        "upsert",
        (
            rec("Ann@x.io", FirstName="Ann", LTV__c=12.5),
            rec("ann@x.io", LTV__c=13),  # the same external id for Salesforce: merged
            rec("bob@x.io", Email="bob-at-x"),
            Record("nolast@x.io", "add", {"Email": "nolast@x.io"}),
        ),
    )
    result = dest.upsert(batch)
    assert set(result.rejected) == {"bob@x.io", "nolast@x.io"}
    assert result.rejected["bob@x.io"].startswith("INVALID_EMAIL_ADDRESS")
    assert "REQUIRED_FIELD_MISSING" in result.rejected["nolast@x.io"]
    ann = fake.by_key()["ann@x.io"]
    assert (ann["FirstName"], ann["LTV__c"]) == ("Ann", 13)
    assert result.destination_ids == {"Ann@x.io": ann["Id"], "ann@x.io": ann["Id"]}
    assert fake.campaign_keys("VIP customers") == {"ann@x.io"}
    dest2 = connector()  # a new run re-sends: idempotent, the member is not duplicated
    dest2.open(SMALL)
    assert dest2.upsert(batch).destination_ids == result.destination_ids
    assert len(fake.org.records["CampaignMember"]) == 1 and len(fake.org.records["Contact"]) == 1


def test_mistyped_value_refuses_the_request_for_bisection(fake: SalesforceFake) -> None:
    dest = connector()
    dest.open(SMALL)
    with pytest.raises(BatchRejected, match="JSON_PARSER_ERROR"):
        dest.upsert(Batch("sf.vips", "upsert", (rec("a@x.io", LTV__c="lots"), rec("b@x.io"))))


def test_retry_skips_chunks_already_confirmed(fake: SalesforceFake) -> None:
    dest = connector()
    dest.open(SMALL)
    records = tuple(rec(f"p{i}@x.io") for i in range(450))  # three collection requests
    fake.faults.configure({"script": [{"status": None}, {"status": None}, {"status": 503}]})
    batch = Batch("sf.vips", "upsert", records)
    from cdpkit.destinations.errors import TransientError

    with pytest.raises(TransientError):
        dest.upsert(batch)
    before = fake.stats["PATCH composite/sobjects"]
    result = dest.upsert(batch)  # the engine's retry: only the unconfirmed chunk goes out again
    assert fake.stats["PATCH composite/sobjects"] == before + 1
    assert len(result.destination_ids) == 450 and fake.max_records_seen == 200
    assert len(fake.campaign_keys("VIP customers")) == 450


def test_bulk_mode_jobs_and_failed_results(fake: SalesforceFake) -> None:
    dest = connector()
    dest.open(LARGE)
    assert dest.bulk
    batch = Batch(
        "sf.vips",
        "upsert",
        (
            rec("a@x.io", FirstName="Ann", LTV__c=1.5),
            rec("b@x.io", Email="not-an-email"),
            Record("c@x.io", "add", {"Email": "c@x.io", "FirstName": "NoLast"}),
        ),
    )
    result = dest.upsert(batch)
    assert result.rejected["b@x.io"].startswith("INVALID_EMAIL_ADDRESS: ")
    assert result.rejected["c@x.io"].startswith("REQUIRED_FIELD_MISSING: ")
    assert set(result.destination_ids) == {"a@x.io"}
    assert fake.by_key()["a@x.io"]["LTV__c"] == 1.5
    assert fake.campaign_keys("VIP customers") == {"a@x.io"}
    assert len(fake.bulk.jobs) == 2  # the upsert job and the CampaignMember insert job
    assert {j.operation for j in fake.bulk.jobs.values()} == {"upsert", "insert"}


def test_bulk_job_failing_on_config_is_terminal(fake: SalesforceFake) -> None:
    dest = connector(sync={"mapping": {"LastName": "last_name"}})
    dest.open(LARGE)
    del fake.org.schema["Contact"]["LastName"]  # the field went away after the check
    with pytest.raises(TerminalError, match="InvalidBatch : Field name not found : LastName"):
        dest.upsert(Batch("sf.vips", "upsert", (Record("a@x.io", "add", {"LastName": "Doe"}),)))


def test_request_limit_stops_cleanly(fake: SalesforceFake) -> None:
    dest = connector()
    dest.open(SMALL)
    fake.configure({"daily_limit": fake.used_today})
    with pytest.raises(DailyLimitReached, match="daily API request limit.*next run resumes"):
        dest.upsert(Batch("sf.vips", "upsert", (rec("a@x.io"),)))


def test_max_api_usage_percent_stops_before_the_org_limit(fake: SalesforceFake) -> None:
    fake.configure({"daily_limit": 10})
    dest = connector(max_api_usage_percent=50)
    dest.open(SMALL)  # campaign query + create: 2 of 10 (the token endpoint is not counted)
    dest.upsert(Batch("sf.vips", "upsert", (rec("a@x.io"),)))  # upsert + member: 4 of 10
    with pytest.raises(DailyLimitReached, match=r"api-usage=5/10 reached max_api_usage_percent"):
        dest.upsert(Batch("sf.vips", "upsert", (rec("b@x.io"),)))  # upsert: 5 of 10, then stop
    assert fake.used_today == 5


def test_remove_from_campaign_by_id_by_key_and_stale_id(fake: SalesforceFake) -> None:
    dest = connector()
    dest.open(SMALL)
    ids = dest.upsert(
        Batch("sf.vips", "upsert", (rec("a@x.io"), rec("b@x.io"), rec("c@x.io")))
    ).destination_ids
    result = dest.remove(
        Batch(
            "sf.vips",
            "remove",
            (
                Record("a@x.io", "remove", destination_id=ids["a@x.io"]),
                Record("b@x.io", "remove"),
                Record("c@x.io", "remove", destination_id="003Dn000STALE00000"),
                Record("gone@x.io", "remove"),
            ),
        )
    )
    assert result.rejected == {}
    assert fake.campaign_keys("VIP customers") == set()
    assert len(fake.org.records["Contact"]) == 3  # never deleted


def test_membership_as_a_checkbox_field(fake: SalesforceFake) -> None:
    dest = connector(membership="field", sync={"list": "Pricing_Lurker__c"})
    dest.check()
    dest.open(SMALL)
    ids = dest.upsert(Batch("sf.vips", "upsert", (rec("a@x.io"), rec("b@x.io")))).destination_ids
    assert {k: v["Pricing_Lurker__c"] for k, v in fake.by_key().items()} == {
        "a@x.io": True,
        "b@x.io": True,
    }
    dest.remove(
        Batch("sf.vips", "remove", (Record("a@x.io", "remove", destination_id=ids["a@x.io"]),))
    )
    assert fake.by_key()["a@x.io"]["Pricing_Lurker__c"] is False
    assert fake.org.records["Campaign"] == {}


# -- through the engine -------------------------------------------------------------------------
@pytest.mark.parametrize("bulk", [False, True], ids=["collections", "bulk"])
def test_engine_mirror_runs_converge_and_send_only_the_diff(
    fake: SalesforceFake, wh: Warehouse, tmp_path: Path, bulk: bool
) -> None:
    people = [person(n) for n in range(1, 451)]
    write_audience(wh, people)
    overrides: dict[str, Any] = {"batch_size": 300, "concurrency": 2}
    if bulk:
        overrides["bulk_threshold"] = 100
    job = make_job("sf", SalesforceDestination, config(**overrides))
    first = run(wh, job, tmp_path)
    assert first.status == "success", first.error
    contacts = fake.by_key()
    assert set(contacts) == {p["email"] for p in people} == fake.campaign_keys("VIP customers")
    for p in people:
        c = contacts[p["email"]]
        assert (c["FirstName"], c["LastName"], c["LTV__c"]) == (
            p["first_name"],
            p["last_name"],
            p["total_revenue"],
        )
    assert (len(fake.bulk.jobs) > 0) == bulk

    usage = fake.used_today
    second = run(wh, job, tmp_path)
    assert second.status == "success" and sum(second.sent.values()) == 0
    assert fake.used_today - usage <= 3  # token/describe/campaign lookup only

    changed = [
        dict(p, first_name="Changed") if p["customer_id"] == "c000007" else p for p in people
    ]
    changed = [p for p in changed if p["customer_id"] not in ("c000001", "c000002")]
    changed.append(person(999))
    write_audience(wh, changed)
    third = run(wh, job, tmp_path)
    assert third.status == "success", third.error
    assert (third.sent["add"], third.sent["update"], third.sent["remove"]) == (1, 1, 2)
    assert fake.campaign_keys("VIP customers") == {p["email"] for p in changed}
    assert fake.by_key()["person7@example.com"]["FirstName"] == "Changed"


def test_engine_stops_on_request_limit_and_resumes(
    fake: SalesforceFake, wh: Warehouse, tmp_path: Path
) -> None:
    people = [person(n) for n in range(1, 61)]
    people[3]["email"] = "broken@@example"
    write_audience(wh, people)
    job = make_job("sf", SalesforceDestination, config(batch_size=10, concurrency=1))
    fake.configure({"daily_limit": 7})  # describe, campaign query + create, then 2 batches
    first = run(wh, job, tmp_path)
    assert first.status == "deferred" and "REQUEST_LIMIT_EXCEEDED" in (first.error or "")
    done = first.confirmed["add"]
    assert 0 < done < 60
    fake.configure({"daily_limit": 100_000})
    fake.used_today = 0
    second = run(wh, job, tmp_path)
    assert second.status == "partial", second.error
    assert done + second.confirmed["add"] == 59
    assert [r["key"] for r in second.rejections] == ["broken@@example"]
    assert len(fake.campaign_keys("VIP customers")) == 59


# -- the shared destination contract ------------------------------------------------------------
CONTRACT_CAMPAIGN = "Contract campaign"


class SalesforceControl:
    """FakeControl for the sandbox's Salesforce fake (through its control API)."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.base = sandbox.control_url("salesforce")

    def _post(self, action: str, body: dict[str, Any]) -> None:
        requests.post(f"{self.base}/{action}", json=body, timeout=10).raise_for_status()

    def reset(self) -> None:
        self._post("reset", {})

    def throttle_next(self, n: int, retry_after_s: float) -> None:
        body = [
            {
                "message": "ConcurrentPerOrgLongTxn Limit exceeded.",
                "errorCode": "REQUEST_LIMIT_EXCEEDED",
            }
        ]
        script = [{"status": 403, "body": body, "retry_after": retry_after_s, "times": n}]
        self._post("faults", {"script": script})

    def fail_next(self, n: int) -> None:
        self._post("faults", {"script": [{"status": 503, "times": n}]})

    def fail_auth(self) -> None:
        self._post("faults", {"fail_auth": True})

    def reject(self, key: str, reason: str) -> None:
        self._post("settings", {"reject": {key: reason}})

    def members(self) -> dict[str, dict[str, Any]]:
        campaigns = requests.get(f"{self.base}/campaigns", timeout=10).json()
        keys = set(campaigns.get(CONTRACT_CAMPAIGN, {}).get("members", []))
        records = requests.get(f"{self.base}/records", params={"object": "Contact"}, timeout=10)
        # An update always moves LastModifiedDate in Salesforce; the data is what must not change.
        by_key = {
            r.get("Cdpkit_Key__c"): {k: v for k, v in r.items() if k != "LastModifiedDate"}
            for r in records.json()["records"]
        }
        return {k: by_key.get(k, {}) for k in keys}

    def writes(self) -> int:
        stats = requests.get(f"{self.base}/stats", timeout=10).json()
        return int(stats["requests"].get("records_upserted", 0))


def salesforce_records(n: int, start: int = 0) -> list[Record]:
    return [
        Record(
            key=f"person{i:05d}@example.com",
            change="add",
            fields={"Email": f"person{i:05d}@example.com", "FirstName": f"P{i}", "LastName": "Doe"},
            customer_id=f"c{i:05d}",
            seq=i + 1,
        )
        for i in range(start, start + n)
    ]


class TestSalesforceContract(DestinationContract):
    @pytest.fixture
    def harness(self, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> ContractHarness:
        monkeypatch.setenv("CONTRACT_SF_ID", DEFAULT_CLIENT_ID)
        monkeypatch.setenv("CONTRACT_SF_SECRET", sandbox_client_secret())

        def make(**extra: Any) -> SalesforceConfig:
            data: dict[str, Any] = {
                "type": "salesforce",
                "base_url": sandbox.url("salesforce"),
                "client_id": "${CONTRACT_SF_ID}",
                "client_secret": "${CONTRACT_SF_SECRET}",
                "timeout_s": 10,
                "syncs": [
                    {
                        "audience": "vip",
                        "mode": "mirror",
                        "identifier": "email",
                        "mapping": {
                            "Email": "email",
                            "FirstName": "first_name",
                            "LastName": "last_name",
                        },
                        "list": CONTRACT_CAMPAIGN,
                    }
                ],
            }
            data.update(extra)
            return SalesforceConfig.model_validate(data)

        return ContractHarness(
            connector=SalesforceDestination,
            config=make,
            control=SalesforceControl(sandbox),
            records=salesforce_records,
            fields=("Email", "FirstName", "LastName"),
        )


@pytest.mark.parametrize("large", [False, True], ids=["collections", "bulk"])
def test_create_defaults_fill_required_fields_of_new_records_only(
    fake: SalesforceFake, large: bool
) -> None:
    existing = fake.org.create("Contact", {"Cdpkit_Key__c": "old@x.io", "LastName": "Kept"})
    dest = connector(create_defaults={"LastName": "[not provided]"})
    dest.check()
    dest.open(LARGE if large else SMALL)
    result = dest.upsert(
        Batch(
            "sf.vips",
            "upsert",
            (
                Record("new@x.io", "add", {"Email": "new@x.io", "FirstName": "New"}),
                Record("old@x.io", "add", {"Email": "old@x.io", "FirstName": "Old"}),
            ),
        )
    )
    assert result.rejected == {}
    contacts = fake.by_key()
    assert contacts["new@x.io"]["LastName"] == "[not provided]"
    assert contacts["old@x.io"]["LastName"] == "Kept" and contacts["old@x.io"]["Id"] == existing
    assert fake.campaign_keys("VIP customers") == {"new@x.io", "old@x.io"}


def test_the_example_destination_files_are_valid() -> None:
    from cdpkit.project import Project
    from cdpkit.sync.loader import load_destinations

    root = Path(__file__).resolve().parents[2]
    folder = root / "destinations" / "examples"
    loaded = load_destinations(Project(root), [folder / "hubspot.yml", folder / "salesforce.yml"])
    assert loaded.errors == []
    assert {d.config.type for d in loaded.destinations.values()} == {"hubspot", "salesforce"}


def test_leads_with_campaign_members_and_the_usage_log(
    fake: SalesforceFake, caplog: pytest.LogCaptureFixture
) -> None:
    fake.add_field("Lead", FieldDef("LTV__c", "double"))
    dest = connector(object="Lead", create_defaults={"LastName": "Unknown", "Company": "Unknown"})
    dest.check()
    dest.open(SMALL)
    ids = dest.upsert(
        Batch("sf.vips", "upsert", (Record("l@x.io", "add", {"Email": "l@x.io", "LTV__c": 5}),))
    ).destination_ids
    lead = fake.by_key("Lead")["l@x.io"]
    assert (lead["Company"], lead["LastName"], lead["Status"]) == (
        "Unknown",
        "Unknown",
        "Open - Not Contacted",
    )
    assert ids == {"l@x.io": lead["Id"]}
    [member] = fake.org.records["CampaignMember"].values()
    assert member["LeadId"] == lead["Id"] and "ContactId" not in member
    dest.remove(
        Batch("sf.vips", "remove", (Record("l@x.io", "remove", destination_id=lead["Id"]),))
    )
    assert fake.org.records["CampaignMember"] == {}
    from cdpkit.destinations.base import RunSummary

    with caplog.at_level("INFO", logger="cdpkit.destinations.salesforce"):
        dest.close(RunSummary("success", 1, 0))
    assert f"Sforce-Limit-Info api-usage={fake.used_today}/100000" in caplog.text
