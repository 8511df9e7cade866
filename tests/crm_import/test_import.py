"""`cdpkit import`: contacts from the HubSpot / Salesforce fakes into raw.crm_contacts (HTTP)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from cdpkit.cli.main import app
from cdpkit.crm_import import import_contacts
from cdpkit.errors import ConfigError
from cdpkit.project import Project
from cdpkit.sandbox.fakes_hubspot import HubSpotFake, sandbox_token
from cdpkit.sandbox.fakes_salesforce import (
    DEFAULT_CLIENT_ID,
    SalesforceFake,
    sandbox_client_secret,
)
from cdpkit.sandbox.server import Sandbox
from cdpkit.spec.diagnostics import SpecError
from cdpkit.warehouse import connect

HOUR_AGO = dt.datetime.now(dt.UTC).timestamp() - 3600


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[HubSpotFake, SalesforceFake, Sandbox]]:
    hub, sf = HubSpotFake(), SalesforceFake()
    with Sandbox(port=0, fakes=[hub, sf]) as sandbox:
        yield hub, sf, sandbox


@pytest.fixture
def crm(
    server: tuple[HubSpotFake, SalesforceFake, Sandbox],
    scratch_project: Project,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[HubSpotFake, SalesforceFake, Project]:
    hub, sf, sandbox = server
    hub.reset()
    sf.reset()
    monkeypatch.setenv("TEST_SANDBOX", sandbox.base_url)
    monkeypatch.setenv("TEST_HS_TOKEN", sandbox_token())
    monkeypatch.setenv("TEST_SF_ID", DEFAULT_CLIENT_ID)
    monkeypatch.setenv("TEST_SF_SECRET", sandbox_client_secret())
    folder = scratch_project.destinations_dir
    (folder / "hs.yml").write_text(
        "type: hubspot\n"
        "base_url: ${TEST_SANDBOX}/hubspot\n"
        "token: ${TEST_HS_TOKEN}\n"
        "retry: {base_delay_s: 0.01, max_delay_s: 0.05}\n"
        "syncs: [{audience: pricing_lurkers, identifier: email, mapping: {email: email}}]\n",
        encoding="utf-8",
    )
    (folder / "sf.yml").write_text(
        "type: salesforce\n"
        "base_url: ${TEST_SANDBOX}/salesforce\n"
        "client_id: ${TEST_SF_ID}\n"
        "client_secret: ${TEST_SF_SECRET}\n"
        "syncs: [{audience: pricing_lurkers, identifier: email, mapping: {Email: email}}]\n",
        encoding="utf-8",
    )
    return hub, sf, scratch_project


def raw_rows(project: Project, schema: str = "raw") -> dict[str, dict[str, Any]]:
    with connect(project) as wh:
        names, rows = next(
            wh.batches(f'select * from "{schema}"."crm_contacts" order by crm_id', 10_000),
            ([], []),
        )
    return {r[0]: dict(zip(names, r, strict=True)) for r in rows}


def seed_hubspot(hub: HubSpotFake, n: int) -> None:
    for i in range(n):
        contact = hub.portal.create(
            {
                "email": f"Person{i}@Example.com",
                "firstname": f"First{i}",
                "lastname": "Doe",
                "phone": "+1 212 555 0100" if i % 2 else "",
                "company": "Acme",
                "jobtitle": "Buyer",
                "lifecyclestage": "lead",
                "city": "Oslo",
                "country": "NO",
            }
        )
        contact.created_at = contact.updated_at = HOUR_AGO + i  # imported before: old enough


def test_hubspot_import_pages_and_is_incremental(
    crm: tuple[HubSpotFake, SalesforceFake, Project],
) -> None:
    hub, _, project = crm
    seed_hubspot(hub, 250)
    first = import_contacts(project, "hubspot", "hs")
    assert (first.status, first.pages, first.fetched, first.loaded) == ("success", 3, 250, 250)
    rows = raw_rows(project)
    assert len(rows) == 250
    one = hub.portal.find("email", "person7@example.com")
    assert one is not None
    row = rows[one.id]
    assert (row["email"], row["first_name"], row["last_name"], row["phone"]) == (
        "person7@example.com",
        "First7",
        "Doe",
        "+1 212 555 0100",
    )
    assert (
        row["company"],
        row["job_title"],
        row["lifecycle_stage"],
        row["city"],
        row["country"],
    ) == (
        "Acme",
        "Buyer",
        "lead",
        "Oslo",
        "NO",
    )
    assert row["updated_at"] == dt.datetime.fromtimestamp(HOUR_AGO + 7, dt.UTC).replace(
        tzinfo=None, microsecond=(row["updated_at"].microsecond // 1000) * 1000
    )
    assert first.watermark_after == max(r["updated_at"] for r in rows.values())

    second = import_contacts(project, "hubspot", "hs")
    assert (second.loaded, second.unchanged) == (0, 250)

    hub.portal.update(one, {"firstname": "Renamed"})
    hub.portal.create({"email": "new@example.com"})
    third = import_contacts(project, "hubspot", "hs")
    assert third.loaded == 2
    rows = raw_rows(project)
    assert len(rows) == 251 and rows[one.id]["first_name"] == "Renamed"
    assert import_contacts(project, "hubspot", "hs", full=True).loaded == 251
    assert len(raw_rows(project)) == 251  # merged by crm_id, never duplicated


def test_hubspot_import_retries_throttling_and_stops_on_the_daily_limit(
    crm: tuple[HubSpotFake, SalesforceFake, Project],
) -> None:
    hub, _, project = crm
    seed_hubspot(hub, 250)
    ten = {"status": "error", "policyName": "TEN_SECONDLY_ROLLING", "message": "slow down"}
    hub.faults.configure(
        {"script": [{"status": 429, "body": ten, "retry_after": 0.05}, {"status": 502}]}
    )
    ok = import_contacts(project, "hubspot", "hs")
    assert (ok.status, ok.loaded, ok.retries) == ("success", 250, 2)
    hub.configure({"daily_limit": hub.limits.used_today + 2})
    stopped = import_contacts(project, "hubspot", "hs", full=True)
    assert stopped.status == "stopped" and "daily API limit" in (stopped.message or "")
    assert stopped.pages == 2 and stopped.loaded == 200
    assert stopped.watermark_after == ok.watermark_after  # the unfinished scan starts over


def seed_salesforce(sf: SalesforceFake, n: int) -> list[str]:
    account = sf.org.create("Account", {"Name": "Acme"})
    return [
        sf.org.create(
            "Contact",
            {
                "Email": f"sf{i}@example.com",
                "FirstName": f"F{i}",
                "LastName": "Doe",
                "Title": "CTO",
                "MailingCity": "Lyon",
                "MailingCountry": "FR",
                "AccountId": account if i % 2 == 0 else None,
                "Phone": "0611223344",
            },
        )
        for i in range(n)
    ]


def test_salesforce_import_follows_next_records_url_and_is_incremental(
    crm: tuple[HubSpotFake, SalesforceFake, Project],
) -> None:
    _, sf, project = crm
    ids = seed_salesforce(sf, 45)
    sf.configure({"query_batch_size": 20})
    first = import_contacts(project, "salesforce", "sf")
    assert (first.status, first.pages, first.loaded) == ("success", 3, 45)
    rows = raw_rows(project)
    assert set(rows) == set(ids)
    row = rows[ids[0]]
    assert (row["email"], row["company"], row["job_title"], row["city"], row["country"]) == (
        "sf0@example.com",
        "Acme",
        "CTO",
        "Lyon",
        "FR",
    )
    assert rows[ids[1]]["company"] is None and row["lifecycle_stage"] is None
    second = import_contacts(project, "salesforce", "sf")
    assert second.loaded == 1  # only the record at the watermark itself is read again
    sf.org.update("Contact", ids[3], {"FirstName": "Changed"})
    third = import_contacts(project, "salesforce", "sf")
    assert third.loaded == 2  # the changed record, and the one at the watermark (>=) again
    assert raw_rows(project)[ids[3]]["first_name"] == "Changed"


def test_salesforce_import_stops_cleanly_keeping_progress(
    crm: tuple[HubSpotFake, SalesforceFake, Project],
) -> None:
    _, sf, project = crm
    seed_salesforce(sf, 45)
    sf.configure({"query_batch_size": 20, "daily_limit": 2})
    stopped = import_contacts(project, "salesforce", "sf")
    assert stopped.status == "stopped" and "REQUEST_LIMIT_EXCEEDED" in (stopped.message or "")
    assert stopped.loaded == 40 and stopped.watermark_after is not None
    sf.configure({"daily_limit": 100_000})
    resumed = import_contacts(project, "salesforce", "sf")
    assert resumed.status == "success" and resumed.loaded <= 6  # from the watermark on
    assert len(raw_rows(project)) == 45


def test_import_errors_are_clear(
    crm: tuple[HubSpotFake, SalesforceFake, Project], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, project = crm
    with pytest.raises(ConfigError, match="no destination 'nope'.*known: .*hs"):
        import_contacts(project, "hubspot", "nope")
    with pytest.raises(ConfigError, match="of type salesforce, not hubspot.*import salesforce"):
        import_contacts(project, "hubspot", "sf")
    monkeypatch.delenv("TEST_HS_TOKEN")
    with pytest.raises(SpecError, match="TEST_HS_TOKEN is not set"):
        import_contacts(project, "hubspot", "hs")
    monkeypatch.setenv("TEST_HS_TOKEN", "pat-wrong")
    from cdpkit.destinations.errors import TerminalError

    with pytest.raises(TerminalError, match="refused the private-app token"):
        import_contacts(project, "hubspot", "hs")
    with connect(project) as wh:
        wh.execute('drop table if exists "raw"."crm_contacts"')
        wh.execute('create table "raw"."crm_contacts" (crm_id text, email text)')
    monkeypatch.setenv("TEST_HS_TOKEN", sandbox_token())
    with pytest.raises(ConfigError, match="lacks the column\\(s\\) phone, first_name"):
        import_contacts(project, "hubspot", "hs")


def test_cli_import(crm: tuple[HubSpotFake, SalesforceFake, Project], cli: CliRunner) -> None:
    hub, _, project = crm
    seed_hubspot(hub, 3)
    args = ["--project-dir", str(project.root), "import", "hubspot", "--destination", "hs"]
    result = cli.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "3 contacts loaded" in result.output and "raw.crm_contacts" in result.output
    as_json = cli.invoke(app, [*args, "--output", "json"])
    assert json.loads(as_json.stdout)["unchanged"] == 3
    hub.configure({"daily_limit": hub.limits.used_today})
    stopped = cli.invoke(app, args)
    assert stopped.exit_code == 1 and "Stopped:" in stopped.output
    missing = cli.invoke(
        app, ["--project-dir", str(project.root), "import", "salesforce", "-d", "x"]
    )
    assert missing.exit_code == 1 and "Error: no destination 'x'" in missing.output


@pytest.mark.postgres
def test_import_into_postgres(
    crm: tuple[HubSpotFake, SalesforceFake, Project], pg_project: Project
) -> None:
    hub, _, _ = crm
    seed_hubspot(hub, 120)
    summary = import_contacts(pg_project, "hubspot", "hs")
    assert summary.loaded == 120
    import os

    rows = raw_rows(pg_project, os.environ["CDPKIT_RAW_SCHEMA"])
    assert len(rows) == 120 and isinstance(next(iter(rows.values()))["updated_at"], dt.datetime)
    assert import_contacts(pg_project, "hubspot", "hs").loaded == 0
