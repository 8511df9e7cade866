"""Fixtures for identity tests: build a scratch project on hand-made raw data, read the marts."""

from __future__ import annotations

import copy
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlglot import exp

from cdpkit.dbt_runner import DbtResult, run_dbt
from cdpkit.project import Project
from cdpkit.warehouse import Warehouse, connect

from .rawdata import RawData, create_raw_tables

SHOPIFY_MODEL = """\
select
    cast(customer_ref as {{ dbt.type_string() }}) as customer_ref,
    cast(anonymous_id as {{ dbt.type_string() }}) as anonymous_id,
    cast(linked_at as {{ dbt.type_timestamp() }}) as linked_at
from {{ adapter.quote(env_var('CDPKIT_RAW_SCHEMA', 'raw')) }}.{{ adapter.quote('shopify_links') }}
"""


def project_vars(project: Project) -> dict[str, Any]:
    data = yaml.safe_load((project.root / "dbt_project.yml").read_text(encoding="utf-8"))
    return data["vars"]


def with_shopify_type(project: Project) -> dict[str, Any]:
    """Vars that add an identifier type and its source without touching any SQL of cdpkit:
    what a user does to stitch on e.g. Shopify customer ids."""
    base = project_vars(project)
    types = copy.deepcopy(base["cdpkit_identity_types"])
    types["shopify_customer_id"] = {"normalize": "id", "priority": 8}
    sources = copy.deepcopy(base["cdpkit_identity_sources"])
    sources["shopify_links"] = {
        "model": "stg_shopify__links",
        "seen_at": "linked_at",
        "identifiers": {"shopify_customer_id": "customer_ref", "anonymous_id": "anonymous_id"},
    }
    model_dir = project.root / "models" / "staging" / "shopify"
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "stg_shopify__links.sql").write_text(SHOPIFY_MODEL, encoding="utf-8")
    return {"cdpkit_identity_types": types, "cdpkit_identity_sources": sources}


def load(
    wh: Warehouse, raw_schema: str, data: RawData, shopify: list[tuple[str, str, str]]
) -> None:
    create_raw_tables(wh, raw_schema, data)
    table = exp.table_("shopify_links", db=raw_schema, quoted=True)
    wh.execute(exp.Drop(tables=[table], kind="TABLE", exists=True, cascade=True).sql(wh.dialect))
    columns = (("customer_ref", "varchar"), ("anonymous_id", "varchar"), ("linked_at", "timestamp"))
    create = exp.Create(
        this=exp.Schema(
            this=table,
            expressions=[
                exp.ColumnDef(this=exp.to_identifier(c, quoted=True), kind=exp.DataType.build(k))
                for c, k in columns
            ],
        ),
        kind="TABLE",
    )
    wh.execute(create.sql(wh.dialect))
    from .rawdata import insert_rows

    insert_rows(
        wh,
        table,
        columns,
        [dict(zip(("customer_ref", "anonymous_id", "linked_at"), r, strict=True)) for r in shopify],
    )


IDENTITY_SELECT = ("path:models/staging", "path:models/intermediate/identity", "path:models/marts")
"""The identity subgraph (other areas' models stay out of these tests' builds)."""


def build(project: Project, dbt_vars: dict[str, Any] | None = None, *args: str) -> DbtResult:
    """`dbt build` of the identity models and their tests; fails with every failed node."""
    argv = ["--exclude-resource-type", "seed", "--select", *IDENTITY_SELECT, *args]
    result = run_dbt(project, "build", argv, dbt_vars=dbt_vars)
    if not result.success:
        lines = [f"{n.unique_id}: {n.status}: {n.message}" for n in result.failures()]
        pytest.fail("dbt build failed: " + result.error + "\n" + "\n".join(lines))
    return result


def run(project: Project, dbt_vars: dict[str, Any] | None = None, *args: str) -> DbtResult:
    """`dbt run` (models only, no tests): for the intermediate builds of a multi-build test."""
    result = run_dbt(project, "run", ["--select", *IDENTITY_SELECT, *args], dbt_vars=dbt_vars)
    if not result.success:
        lines = [f"{n.unique_id}: {n.status}: {n.message}" for n in result.failures()]
        pytest.fail("dbt run failed: " + result.error + "\n" + "\n".join(lines))
    return result


def customer_of(project: Project) -> dict[tuple[str, str], str]:
    """(identifier_type, identifier_value) -> customer_id from customer_identifiers."""
    with connect(project, read_only=project.target().type == "duckdb") as wh:
        table = exp.table_("customer_identifiers", db=wh.schema, quoted=True)
        query = exp.select("identifier_type", "identifier_value", "customer_id").from_(table)
        return {(t, v): c for t, v, c in wh.fetchall(query.sql(wh.dialect))}


def groups(mapping: dict[tuple[str, str], str]) -> set[frozenset[tuple[str, str]]]:
    """The partition of identifiers into customers, independent of the ids."""
    by_customer: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for key, customer in mapping.items():
        by_customer[customer].add(key)
    return {frozenset(v) for v in by_customer.values()}


def rows(project: Project, table_name: str) -> list[dict[str, Any]]:
    with connect(project, read_only=project.target().type == "duckdb") as wh:
        table = exp.table_(table_name, db=wh.schema, quoted=True)
        names, data = wh.query(exp.select("*").from_(table).sql(wh.dialect))
        return [dict(zip(names, r, strict=True)) for r in data]


def scratch(tmp_path: Any, name: str) -> Project:
    """A fresh `cdpkit init` project (its own DuckDB file via profiles' env var)."""
    from cdpkit.project import find_project
    from cdpkit.scaffold import init_project

    root = Path(tmp_path) / name
    init_project(root)
    return find_project(root)


@pytest.fixture(scope="session")
def session_env() -> Any:
    """A MonkeyPatch for session-scoped fixtures (environment of the built project)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("CDPKIT_TARGET", raising=False)
        yield mp


@pytest.fixture(scope="session")
def scenario_project(
    tmp_path_factory: pytest.TempPathFactory, session_env: pytest.MonkeyPatch
) -> Project:
    """The guardrail scenario built once on DuckDB (staging, identity, marts and their tests)."""
    from .scenarios import guardrail_scenario

    project = scratch(tmp_path_factory.mktemp("scenario"), "proj")
    session_env.setenv("CDPKIT_WAREHOUSE", str(project.root / "warehouse.duckdb"))
    data, shopify = guardrail_scenario()
    with connect(project) as wh:
        load(wh, "raw", data, shopify)
    build(project, with_shopify_type(project))
    return project


def compile_inline(project: Project, sql: str, dbt_vars: dict[str, Any] | None = None) -> str:
    """The SQL dbt compiles from `sql` (macros expanded for the project's target adapter)."""
    import json

    from dbt.cli.main import dbtRunner

    argv = [
        "compile",
        "--inline",
        sql,
        "--project-dir",
        str(project.root),
        "--profiles-dir",
        str(project.root),
        "--quiet",
        "--log-path",
        str(project.root / "logs"),
        "--target-path",
        str(project.root / "target"),
    ]
    if project.target_name:
        argv += ["--target", project.target_name]
    if dbt_vars:
        argv += ["--vars", json.dumps(dbt_vars)]
    res = dbtRunner().invoke(argv)
    if not res.success:
        pytest.fail(f"dbt compile failed: {res.exception}")
    return str(res.result.results[0].node.compiled_code)
