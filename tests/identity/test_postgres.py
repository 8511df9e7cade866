"""The identity models build and pass their tests on PostgreSQL, with the same customers."""

from __future__ import annotations

import os

import pytest

from cdpkit.project import Project
from cdpkit.warehouse import connect

from .conftest import build, customer_of, groups, load, rows, run, with_shopify_type
from .scenarios import CHAIN, guardrail_scenario

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def test_guardrail_scenario_on_postgres_matches_duckdb(
    pg_project: Project, scenario_project: Project
) -> None:
    data, shopify = guardrail_scenario()
    raw_schema = os.environ["CDPKIT_RAW_SCHEMA"]  # set by the pg_project fixture
    with connect(pg_project) as wh:
        load(wh, raw_schema, data, shopify)
    # The portable loop (no DuckDB fast path) computes the components here.
    build(pg_project, with_shopify_type(pg_project))
    on_postgres = customer_of(pg_project)
    with pytest.MonkeyPatch.context() as mp:  # pg_project's scratch project moved the env var
        mp.setenv("CDPKIT_WAREHOUSE", str(scenario_project.root / "warehouse.duckdb"))
        on_duckdb = customer_of(scenario_project)
    assert groups(on_postgres) == groups(on_duckdb)
    chain = {on_postgres[("anonymous_id", f"chain-anon{i}")] for i in range(CHAIN)}
    assert len(chain) == 1
    reasons = {r["reason"] for r in rows(pg_project, "identity_blocked_links")}
    assert {"overlinked", "per_customer_limit", "junk_value", "invalid_phone"} <= reasons
    # Same data, same ids on the second build.
    run(pg_project, with_shopify_type(pg_project))
    assert customer_of(pg_project) == on_postgres
