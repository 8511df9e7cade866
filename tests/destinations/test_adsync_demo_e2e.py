"""Demo audiences synced to all four ad/messaging fakes with the example configs, end to end.

dbt builds the demo marts; the audiences compile to SQL; `run_syncs` drives the real engine;
each fake must then hold exactly the audience's members who gave the destination type's
consent (advertising for Meta and Google, marketing for Klaviyo and Braze), minus the records
the run log shows as rejected (with their reasons).
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlglot import exp

from cdpkit.audiences import resolve
from cdpkit.dbt_runner import build
from cdpkit.matchkeys import normalize
from cdpkit.project import Project
from cdpkit.sandbox.fakes_braze import BrazeFake
from cdpkit.sandbox.fakes_google import GoogleFake
from cdpkit.sandbox.fakes_klaviyo import KlaviyoFake
from cdpkit.sandbox.fakes_meta import MetaFake
from cdpkit.sandbox.server import Sandbox
from cdpkit.sync.api import run_syncs
from cdpkit.sync.membership import audience_membership
from cdpkit.sync.sql import col, lit, render, table
from cdpkit.warehouse import Warehouse, connect

EXAMPLES = Path(__file__).resolve().parents[2] / "destinations" / "examples"
SECRETS = {
    "META_ACCESS_TOKEN": "sandbox-meta-token",
    "GOOGLE_REFRESH_TOKEN": "sandbox-refresh-token",
    "GOOGLE_CLIENT_ID": "sandbox-client-id",
    "GOOGLE_CLIENT_SECRET": "sandbox-client-secret",
    "GOOGLE_DEVELOPER_TOKEN": "sandbox-dev-token",
    "KLAVIYO_PRIVATE_KEY": "pk_sandbox_klaviyo",
    "BRAZE_REST_API_KEY": "sandbox-braze-key",
}


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    fakes = [MetaFake(), GoogleFake(), KlaviyoFake(processing_delay_s=0.02), BrazeFake()]
    with Sandbox(port=0, fakes=fakes) as server:
        yield server


def eligible(
    wh: Warehouse, project: Project, audience: str, consent: str, identifier: str
) -> set[str]:
    """Identifier values of the audience's members with `consent` (holdout excluded)."""
    spec, everything, _ = resolve(project, audience, warehouse=wh)
    membership = audience_membership(
        audience, {**everything, audience: spec}, dialect=wh.dialect, schema=wh.schema, as_of=None
    )
    members = exp.Subquery(this=membership.query, alias=exp.TableAlias(this=exp.to_identifier("m")))
    query = (
        exp.select(col(identifier, "m"))
        .from_(members)
        .join(
            table("customers", wh.schema, alias="c"),
            on=col("customer_id", "m").eq(col("customer_id", "c")),
        )
        .where(
            exp.and_(
                col(f"consent_{consent}", "c").eq(exp.true()),
                exp.Not(this=exp.func("coalesce", col("in_holdout", "m"), exp.false())),
                exp.Not(this=exp.Is(this=col(identifier, "m"), expression=exp.Null())),
            )
        )
    )
    return {str(row[0]) for row in wh.fetchall(render(query, wh.dialect)) if str(row[0]).strip()}


def rejected(wh: Warehouse, sync_id: str) -> dict[str, str]:
    query = (
        exp.select(col("record_key"), col("reason"))
        .from_(table("sync_record_log", "cdpkit"))
        .where(exp.and_(col("sync_id").eq(lit(sync_id)), col("outcome").eq(lit("rejected"))))
    )
    return {str(k): str(r) for k, r in wh.fetchall(render(query, wh.dialect))}


@pytest.mark.slow
def test_demo_audiences_reach_each_fake_exactly(
    scratch_project: Project, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = scratch_project
    outcome = build(project, demo=True)
    assert all(step.success for step in outcome.steps)
    for other in project.destinations_dir.glob("*.yml"):
        other.unlink()  # other teams' demo destinations need their own credentials
    names = []
    for kind in ("braze", "google_customer_match", "klaviyo", "meta_custom_audience"):
        name = f"demo_{kind}"
        shutil.copy(EXAMPLES / f"{kind}.yml", project.destinations_dir / f"{name}.yml")
        names.append(name)
    monkeypatch.setenv("CDPKIT_SANDBOX_URL", sandbox.base_url)
    monkeypatch.setenv("BRAZE_REST_ENDPOINT", sandbox.url("braze"))
    for key, value in SECRETS.items():
        monkeypatch.setenv(key, value)

    outcomes = {o.destination: o for o in run_syncs(project, names)}
    assert sorted(outcomes) == sorted(names)
    assert {o.status for o in outcomes.values()} <= {"success", "partial"}, {
        d: o.error for d, o in outcomes.items()
    }
    meta, google, klaviyo, braze = (
        sandbox.fakes[n] for n in ("meta", "google", "klaviyo", "braze")
    )
    assert isinstance(meta, MetaFake) and isinstance(google, GoogleFake)
    assert isinstance(klaviyo, KlaviyoFake) and isinstance(braze, BrazeFake)

    with connect(project) as wh:
        found: dict[str, Any] = {}
        ads = eligible(wh, project, "top_20pct_revenue", "advertising", "email")
        assert ads, "the demo audience has consented members"
        expected_meta = ads - set(rejected(wh, "demo_meta_custom_audience.top_20pct_revenue"))
        audience = meta.audience_named("cdpkit - Top 20% revenue")
        assert audience is not None
        found["meta"] = audience.members.values("EMAIL")
        assert found["meta"] == {sha(normalize.email(e)) for e in expected_meta}

        expected_google = ads - set(rejected(wh, "demo_google_customer_match.top_20pct_revenue"))
        user_list = google.list_named("cdpkit - Top 20% revenue")
        assert user_list is not None
        gmail = {sha(normalize.email(e, gmail_canonical=True)) for e in expected_google}
        assert user_list.members.values("emailAddress") == gmail

        lapsed = eligible(wh, project, "lapsed_buyers_90d", "marketing", "email")
        expected_klaviyo = lapsed - set(rejected(wh, "demo_klaviyo.lapsed_buyers_90d"))
        list_id = klaviyo.list_named("cdpkit - Lapsed buyers")
        assert list_id is not None
        assert klaviyo.emails(list_id) == {normalize.email(e) for e in expected_klaviyo}

        instore = eligible(wh, project, "high_value_instore_only", "marketing", "customer_id")
        expected_braze = instore - set(rejected(wh, "demo_braze.high_value_instore_only"))
        members = {v for (k, v), u in braze.users.items() if u.get("in_high_value_instore_only")}
        assert members == expected_braze
        sizes = [
            len(expected_meta),
            len(expected_google),
            len(expected_klaviyo),
            len(expected_braze),
        ]
        assert all(sizes), sizes
        print("demo e2e sizes (meta, google, klaviyo, braze):", sizes)

        # Consent differs by destination type: nobody without advertising consent reached Meta.
        no_ads = eligible(wh, project, "top_20pct_revenue", "marketing", "email") - ads
        assert not {sha(normalize.email(e)) for e in no_ads} & found["meta"]
    assert google.jobs.concurrent_runs == 0
