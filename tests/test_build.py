"""`cdpkit build` runs the dbt project: demo seeds only with --demo, raw never touched otherwise."""

from __future__ import annotations

import duckdb
import pytest
from typer.testing import CliRunner

from cdpkit.cli.main import app
from cdpkit.project import Project
from cdpkit.warehouse import duckdb_path

pytestmark = pytest.mark.slow

RAW_TABLES = ("events", "orders", "order_items", "crm_contacts", "email_events", "consents")


def _create_user_raw_tables(project: Project) -> None:
    """A user's own loaded tables (one sentinel row each), as an EL tool would leave them."""
    con = duckdb.connect(str(duckdb_path(project, project.target())))
    con.execute("create schema raw")
    con.execute(
        "create table raw.events as select 'sentinel-e1' as event_id, 'page' as event_type, "
        "'page_viewed' as event_name, 'anon-1' as anonymous_id, 'u-1' as user_id, "
        "'Sentinel@Example.com ' as email, '+1 415 555 0100' as phone, null::varchar as device_id, "
        "timestamp '2026-01-01 10:00:00' as occurred_at, 'web' as source, '/pricing' as page_path, "
        "'https://shop.example/pricing' as page_url, null::varchar as referrer, "
        "null::varchar as utm_source, null::varchar as utm_medium, null::varchar as utm_campaign, "
        "'{}' as properties"
    )
    con.execute(
        "create table raw.orders as select 'sentinel-o1' as order_id, 'u-1' as user_id, "
        "'sentinel@example.com' as email, null::varchar as phone, null::varchar as loyalty_id, "
        "'web' as channel, null::varchar as store_id, 20.00::decimal(18,2) as total_amount, "
        "'USD' as currency, 'completed' as status, timestamp '2026-01-02 10:00:00' as ordered_at"
    )
    con.execute(
        "create table raw.order_items as select 'sentinel-o1' as order_id, 'SKU-1' as sku, "
        "'Mug' as product_name, 'Kitchen' as category, 2 as quantity, "
        "10.00::decimal(18,2) as unit_price"
    )
    con.execute(
        "create table raw.crm_contacts as select 'CRM-1' as crm_id, "
        "'sentinel@example.com' as email, null::varchar as phone, 'Sam' as first_name, "
        "'Sentinel' as last_name, null::varchar as company, null::varchar as job_title, "
        "'customer' as lifecycle_stage, 'Austin' as city, 'US' as country, "
        "timestamp '2025-12-01' as created_at, timestamp '2026-01-03' as updated_at"
    )
    con.execute(
        "create table raw.email_events as select 'sentinel@example.com' as email, "
        "'opened' as event_type, 'cmp-1' as campaign_id, timestamp '2026-01-04' as occurred_at"
    )
    con.execute(
        "create table raw.consents as select 'email' as identifier_type, "
        "'sentinel@example.com' as identifier, 'marketing' as purpose, true as granted, "
        "timestamp '2026-01-01' as recorded_at"
    )
    con.close()


def _raw_snapshot(project: Project) -> dict[str, list[tuple[object, ...]]]:
    con = duckdb.connect(str(duckdb_path(project, project.target())))
    try:
        tables = {
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'raw'"
            ).fetchall()
        }
        return {t: con.execute(f'select * from raw."{t}" order by all').fetchall() for t in tables}
    finally:
        con.close()


def test_build_without_demo_never_touches_raw(cli: CliRunner, scratch_project: Project) -> None:
    _create_user_raw_tables(scratch_project)
    before = _raw_snapshot(scratch_project)
    result = cli.invoke(app, ["--project-dir", str(scratch_project.root), "build"])
    assert result.exit_code == 0, result.output
    assert "Build complete." in result.output
    after = _raw_snapshot(scratch_project)
    assert after == before
    assert set(after) == set(RAW_TABLES)  # no demo seed table appeared


def test_build_demo_loads_seeds_and_builds_staging(
    cli: CliRunner, scratch_project: Project
) -> None:
    result = cli.invoke(app, ["--project-dir", str(scratch_project.root), "build", "--demo"])
    assert result.exit_code == 0, result.output
    assert "dbt seed:" in result.output and "dbt build:" in result.output
    con = duckdb.connect(str(duckdb_path(scratch_project, scratch_project.target())))
    try:
        for table in RAW_TABLES:
            raw_rows = con.execute(f"select count(*) from raw.{table}").fetchone()
            staged = con.execute(f"select count(*) from main.stg_raw__{table}").fetchone()
            assert raw_rows is not None and raw_rows[0] > 0, table
            assert staged == raw_rows, table
        kinds = con.execute(
            "select distinct event_type from main.stg_raw__events order by 1"
        ).fetchall()
        assert {k[0] for k in kinds} <= {"track", "page", "screen", "identify", "alias"}
    finally:
        con.close()


def test_failing_dbt_test_is_reported_and_exits_1(cli: CliRunner, scratch_project: Project) -> None:
    _create_user_raw_tables(scratch_project)
    con = duckdb.connect(str(duckdb_path(scratch_project, scratch_project.target())))
    con.execute("insert into raw.events select * from raw.events")  # duplicate event_id
    con.close()
    result = cli.invoke(
        app,
        ["--project-dir", str(scratch_project.root), "build", "--select", "stg_raw__events"],
    )
    assert result.exit_code == 1
    assert "dbt build failed" in result.stderr
    assert "unique_stg_raw__events_event_id" in result.stderr
