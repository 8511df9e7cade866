"""`cdpkit identity explain` on the built guardrail scenario (library and CLI)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cdpkit.cli.main import app
from cdpkit.errors import CdpkitError
from cdpkit.identity import explain
from cdpkit.identity.explain import candidate_values
from cdpkit.project import Project
from cdpkit.warehouse import connect

from .scenarios import DUP_EMAIL, TABLET

pytestmark = pytest.mark.slow


def _explain(project: Project, identifier: str, id_type: str | None = None) -> dict[str, object]:
    with connect(project, read_only=True) as wh:
        return explain(wh, identifier, id_type).to_dict()


def test_candidate_values_cover_raw_forms() -> None:
    assert "bob@x.com" in candidate_values("  Bob@X.com ")
    assert "+14155550100" in candidate_values("415.555.0100")
    assert "+442079460958" in candidate_values("+44 20 7946 0958")


def test_explains_a_raw_email_with_identifiers_links_and_blocked(scenario_project: Project) -> None:
    data = _explain(scenario_project, "  Mixed.Case@Example.COM ")
    assert data["status"] == "resolved"
    assert (
        data["identifier_type"] == "email" and data["identifier_value"] == "mixed.case@example.com"
    )
    values = {(r["identifier_type"], r["identifier_value"]) for r in data["identifiers"]}  # type: ignore[union-attr]
    assert values == {
        ("email", "mixed.case@example.com"),
        ("user_id", "case-user"),
        ("anonymous_id", "case-anon"),
    }
    for r in data["identifiers"]:  # type: ignore[union-attr]
        assert r["first_seen_at"] and r["last_seen_at"] and r["sources"]
    links = {(r["identifier_value"], r["linked_identifier_value"]) for r in data["links"]}  # type: ignore[union-attr]
    assert len(links) == 2 and data["links_total"] == 2
    assert data["blocked"] == []


def test_explains_blocked_links_touching_a_customer(scenario_project: Project) -> None:
    data = _explain(scenario_project, "fam-user0")
    reasons = {(r["reason"], r["identifier_value"]) for r in data["blocked"]}  # type: ignore[union-attr]
    assert ("overlinked_identifier", TABLET) in reasons
    data = _explain(scenario_project, "lim-1")
    limit = [r for r in data["blocked"] if r["reason"] == "per_customer_limit"]  # type: ignore[union-attr]
    lim2 = _explain(scenario_project, "lim-2")
    assert limit or [r for r in lim2["blocked"] if r["reason"] == "per_customer_limit"]  # type: ignore[union-attr]


def test_explains_an_overlinked_and_an_unknown_identifier(scenario_project: Project) -> None:
    data = _explain(scenario_project, DUP_EMAIL)
    assert data["status"] == "overlinked" and data["customer"] is None
    assert data["blocked_total"] >= 3  # the identifier row + its 2 user_id and 2 anonymous links
    unknown = _explain(scenario_project, "nobody@nowhere.example")
    assert unknown["status"] == "unknown"
    junk = _explain(scenario_project, "test@test.com")
    assert junk["status"] == "rejected" and junk["reason"] == "junk_value"


def test_ambiguous_value_needs_a_type(scenario_project: Project) -> None:
    with (
        pytest.raises(CdpkitError, match="pass --type"),
        connect(scenario_project, read_only=True) as wh,
    ):
        explain(wh, "same-value")
    assert _explain(scenario_project, "same-value", "device_id")["identifier_type"] == "device_id"


def test_cli_text_and_json(scenario_project: Project) -> None:
    runner = CliRunner()
    base = ["--project-dir", str(scenario_project.root), "identity", "explain"]
    result = runner.invoke(app, [*base, "415.555.0100"])
    assert result.exit_code == 0, result.output
    assert "+14155550100" in result.output and "fmt-anon0" in result.output
    result = runner.invoke(app, [*base, "lim1@example.com", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["customer"]["customer_id"].startswith("cus_")
    result = runner.invoke(app, [*base, "same-value"])
    assert result.exit_code == 1
    assert "Error:" in result.output and "--type" in result.output
    result = runner.invoke(app, [*base, "x", "--format", "xml"])
    assert result.exit_code == 2
