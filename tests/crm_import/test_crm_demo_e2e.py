"""End to end on the demo project: `cdpkit sync` of a demo audience to the HubSpot and
Salesforce fakes (exact list/campaign, mapped fields, no-op rerun, diff-only changes), then the
way back: `cdpkit import` of CRM contacts and `cdpkit build` merging them with web identities.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from cdpkit.audiences.runtime import preview
from cdpkit.cli.main import app
from cdpkit.project import Project, find_project
from cdpkit.sandbox.fakes_hubspot import HubSpotFake, sandbox_token
from cdpkit.sandbox.fakes_salesforce import (
    DEFAULT_CLIENT_ID,
    SalesforceFake,
    sandbox_client_secret,
)
from cdpkit.sandbox.fakes_salesforce_data import FieldDef
from cdpkit.sandbox.server import Sandbox
from cdpkit.scaffold import init_project

pytestmark = pytest.mark.slow

AUDIENCE = "lapsed_buyers_90d"
AS_OF = "2026-11-01T12:00:00"
HUBSPOT = f"""type: hubspot
base_url: ${{E2E_SANDBOX}}/hubspot
token: ${{E2E_HS_TOKEN}}
tier: professional
create_properties: true
property_types: {{ltv: number}}
syncs:
  - audience: {AUDIENCE}
    mode: mirror
    identifier: email
    mapping: {{email: email, firstname: first_name, ltv: total_revenue}}
    list: Lapsed buyers
"""
SALESFORCE = f"""type: salesforce
base_url: ${{E2E_SANDBOX}}/salesforce
client_id: ${{E2E_SF_ID}}
client_secret: ${{E2E_SF_SECRET}}
bulk_threshold: 40          # the first run goes through Bulk API 2.0, later diffs through REST
bulk_poll_interval_s: 0.05
create_defaults: {{LastName: "[not provided]"}}
syncs:
  - audience: {AUDIENCE}
    mode: mirror
    identifier: email
    mapping: {{Email: email, FirstName: first_name, LTV__c: total_revenue}}
    list: Lapsed buyers
"""


class Demo:
    def __init__(self, project: Project, hub: HubSpotFake, sf: SalesforceFake) -> None:
        self.project, self.hub, self.sf = project, hub, sf
        self.runner = CliRunner()

    def cli(self, *args: str, ok: tuple[int, ...] = (0,)) -> str:
        result = self.runner.invoke(app, ["--project-dir", str(self.project.root), *args])
        assert result.exit_code in ok, result.output
        return result.stdout

    def sync(self, name: str) -> dict[str, Any]:
        out = self.cli("sync", name, "--as-of", AS_OF, "--output", "json")
        return json.loads(out)["syncs"][0]

    def audience(self) -> dict[str, dict[str, Any]]:
        """The audience's members with an email, by lower-cased email (what should arrive)."""
        result = preview(
            self.project, AUDIENCE, limit=1_000_000, as_of=dt.datetime.fromisoformat(AS_OF)
        )
        rows = [dict(zip(result.columns, row, strict=True)) for row in result.rows]
        return {r["email"].strip().lower(): r for r in rows if r["email"] and r["email"].strip()}

    def sql(self, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        path = self.project.root / "warehouse.duckdb"
        with duckdb.connect(str(path)) as con:
            return con.execute(query, params or []).fetchall()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    root = tmp_path_factory.mktemp("crm_e2e") / "proj"
    init_project(root)
    hub, sf = HubSpotFake(), SalesforceFake()
    sf.add_field("Contact", FieldDef("LTV__c", "double"))
    with pytest.MonkeyPatch.context() as env, Sandbox(port=0, fakes=[hub, sf]) as sandbox:
        env.setenv("CDPKIT_WAREHOUSE", str(root / "warehouse.duckdb"))
        env.delenv("CDPKIT_TARGET", raising=False)
        env.setenv("E2E_SANDBOX", sandbox.base_url)
        env.setenv("E2E_HS_TOKEN", sandbox_token())
        env.setenv("E2E_SF_ID", DEFAULT_CLIENT_ID)
        env.setenv("E2E_SF_SECRET", sandbox_client_secret())
        (root / "destinations" / "hs_demo.yml").write_text(HUBSPOT, encoding="utf-8")
        (root / "destinations" / "sf_demo.yml").write_text(SALESFORCE, encoding="utf-8")
        demo = Demo(find_project(root), hub, sf)
        demo.cli("build", "--demo")
        yield demo


def change_two_members(demo: Demo, members: dict[str, dict[str, Any]]) -> tuple[str, str]:
    """Rename one member and take the email of another (it leaves the synced audience)."""
    renamed, dropped = sorted(members)[:2]
    demo.sql(
        "update main.customers set first_name = 'Changed' where customer_id = ?",
        [members[renamed]["customer_id"]],
    )
    demo.sql(
        "update main.customers set email = null where customer_id = ?",
        [members[dropped]["customer_id"]],
    )
    return renamed, dropped


def sent(outcome: dict[str, Any]) -> tuple[int, int, int]:
    return outcome["sent"]["add"], outcome["sent"]["update"], outcome["sent"]["remove"]


def test_sync_a_demo_audience_to_hubspot(demo: Demo) -> None:
    members = demo.audience()
    assert len(members) > 20
    first = demo.sync("hs_demo")
    assert first["status"] == "success", first["error"]
    assert demo.hub.list_emails("Lapsed buyers") == set(members)
    contacts = demo.hub.contacts_by_email()
    assert set(contacts) == set(members)
    for email, member in members.items():
        assert contacts[email].get("firstname") == member["first_name"]
        assert Decimal(contacts[email]["ltv"]) == Decimal(member["total_revenue"]).normalize()

    assert sent(demo.sync("hs_demo")) == (0, 0, 0)

    renamed, dropped = change_two_members(demo, members)
    third = demo.sync("hs_demo")
    assert third["status"] == "success" and sent(third) == (0, 1, 1)
    assert demo.hub.list_emails("Lapsed buyers") == set(members) - {dropped}
    assert demo.hub.contacts_by_email()[renamed]["firstname"] == "Changed"
    assert dropped in demo.hub.contacts_by_email()  # left the list; the contact stays


def test_sync_a_demo_audience_to_salesforce(demo: Demo) -> None:
    members = demo.audience()
    first = demo.sync("sf_demo")
    assert first["status"] == "success", first["error"]
    assert len(demo.sf.bulk.jobs) >= 1  # large first run: Bulk API 2.0
    assert demo.sf.campaign_keys("Lapsed buyers") == set(members)
    contacts = demo.sf.by_key()
    assert set(contacts) == set(members)
    for email, member in members.items():
        assert contacts[email].get("FirstName") == member["first_name"]
        assert contacts[email]["LTV__c"] == pytest.approx(float(member["total_revenue"]))
        assert contacts[email]["LastName"] == "[not provided]"

    assert sent(demo.sync("sf_demo")) == (0, 0, 0)

    jobs = len(demo.sf.bulk.jobs)
    demo.sql("update main.customers set first_name = 'Again' where first_name = 'Changed'")
    second = sorted(members)[2]
    demo.sql(
        "update main.customers set email = null where customer_id = ?",
        [members[second]["customer_id"]],
    )
    third = demo.sync("sf_demo")
    assert third["status"] == "success" and sent(third) == (0, 1, 1)
    assert len(demo.sf.bulk.jobs) == jobs  # small diff: REST, no new Bulk job
    assert demo.sf.campaign_keys("Lapsed buyers") == set(demo.audience())


def test_import_round_trip_merges_crm_contacts_with_web_identities(demo: Demo) -> None:
    candidates = [
        e
        for (e,) in demo.sql(
            "select distinct lower(trim(e.email)) from raw.events e "
            "where e.source = 'web' and e.email like '%@%' and e.anonymous_id is not null "
            "and lower(trim(e.email)) not in (select lower(trim(email)) from raw.crm_contacts "
            "where email is not null) order by 1"
        )
    ]
    synced = set(demo.hub.contacts_by_email()) | set(demo.sf.by_key())
    chosen = [e for e in candidates if e not in synced][:4]
    assert len(chosen) == 4
    hs_ids = {}
    for i, email in enumerate(chosen[:2]):
        contact = demo.hub.portal.create(
            {"email": email.upper(), "firstname": f"Hub{i}", "lastname": "Spot", "country": "US"}
        )
        hs_ids[email] = contact.id
    sf_ids = {
        email: demo.sf.org.create(
            "Contact",
            {"Email": email.title(), "FirstName": f"Sales{i}", "LastName": "Force"},
        )
        for i, email in enumerate(chosen[2:])
    }
    out = demo.cli("import", "hubspot", "--destination", "hs_demo")
    assert "contacts loaded" in out
    demo.cli("import", "salesforce", "--destination", "sf_demo")
    raw = {r[0]: r[1] for r in demo.sql("select crm_id, email from raw.crm_contacts")}
    assert {raw[i].lower() for i in hs_ids.values()} == set(chosen[:2])
    assert {raw[i].strip().lower() for i in sf_ids.values()} == set(chosen[2:])

    demo.cli("build", "--select", "stg_raw__crm_contacts+")
    names = {
        **{e: f"Hub{i}" for i, e in enumerate(chosen[:2])},
        **{e: f"Sales{i}" for i, e in enumerate(chosen[2:])},
    }
    for email, crm_id in [*hs_ids.items(), *sf_ids.items()]:
        rows = demo.sql(
            "select identifier_type, identifier_value, customer_id from main.customer_identifiers "
            "where customer_id = (select customer_id from main.customer_identifiers "
            "where identifier_type = 'crm_id' and identifier_value = ?)",
            [crm_id],
        )
        kinds = {(t, v) for t, v, _ in rows}
        assert ("email", email) in kinds, (email, kinds)
        assert any(t == "anonymous_id" for t, _ in kinds), (email, kinds)  # the web identity
        customer = demo.sql(
            "select email, first_name from main.customers where customer_id = ?", [rows[0][2]]
        )
        assert customer == [(email, names[email])]


def test_after_the_rebuild_both_destinations_converge_again(demo: Demo) -> None:
    """The rebuild undid the hand edits of the marts: the next syncs follow the audience."""
    members = set(demo.audience())
    for name in ("hs_demo", "sf_demo"):
        outcome = demo.sync(name)
        assert outcome["status"] == "success", outcome["error"]
        assert outcome["sent"]["add"] >= 1  # the members whose email came back
    assert demo.hub.list_emails("Lapsed buyers") == members
    assert demo.sf.campaign_keys("Lapsed buyers") == members
