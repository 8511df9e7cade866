"""`cdpkit audiences …` through typer's CliRunner against a real DuckDB file."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import sqlglot
from typer.testing import CliRunner

from cdpkit.cli.main import app
from cdpkit.compiler import in_holdout_python
from cdpkit.project import Project
from cdpkit.warehouse import connect

DEMO = [
    "cart_abandoners",
    "engaged_email_no_order",
    "high_value_instore_only",
    "lapsed_buyers_90d",
    "pricing_lurkers",
    "top_20pct_revenue",
]
AS_OF = "2026-10-31T00:00:00Z"
BUYER_IDS = {"c01", "c02", "c05", "c06", "c07", "c08", "c10"}


def run(cli: CliRunner, project: Project, *args: str) -> tuple[int, str, str]:
    result = cli.invoke(app, ["audiences", *args, "--project-dir", str(project.root)])
    return result.exit_code, result.stdout, result.stderr


def test_every_command_has_help(cli: CliRunner) -> None:
    for command in ("list", "validate", "compile", "preview", "members", "overlap", "schema"):
        result = cli.invoke(app, ["audiences", command, "--help"])
        assert result.exit_code == 0, command
        assert len(result.stdout.strip().splitlines()) > 3


def test_validate_ok_and_warnings(cli: CliRunner, project: Project) -> None:
    code, out, _ = run(cli, project, "validate")
    assert code == 0
    assert "8 audience(s) valid (checked against the warehouse catalog)" in out
    # the fixture has no email events: the demo audience gets located warnings
    assert "audiences/engaged_email_no_order.yml:" in out and "warning[A030]" in out


def test_validate_reports_errors_with_location(cli: CliRunner, project: Project) -> None:
    bad = project.audiences_dir / "bad.yml"
    bad.write_text("name: bad\ninclude: {trait: contry, eq: US}\ntags: [a]\n", encoding="utf-8")
    code, out, _ = run(cli, project, "validate")
    assert code == 1
    assert "audiences/bad.yml:2:18: error[A020]: unknown column 'contry' of customers" in out
    assert "hint: did you mean 'country'?" in out
    code, out, _ = run(cli, project, "validate", str(bad), "--format", "json")
    assert code == 1
    found = json.loads(out)
    assert [(d["line"], d["col"], d["code"]) for d in found] == [(2, 18, "A020")]
    assert found[0]["path"] == "audiences/bad.yml"


def test_validate_paths_outside_a_project(cli: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "x.yml"
    path.write_text("name: x\ninclude: {trait: country, eq: US}\n", encoding="utf-8")
    result = cli.invoke(app, ["audiences", "validate", str(path), "--project-dir", str(tmp_path)])
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "1 audience(s) valid (checked against the contract catalog)" in result.stdout


def test_compile_every_dialect_parses(cli: CliRunner, project: Project) -> None:
    for dialect in ("duckdb", "postgres", "snowflake", "bigquery", "databricks", "redshift"):
        code, out, err = run(cli, project, "compile", "pricing_lurkers", "--dialect", dialect)
        assert code == 0, err
        assert sqlglot.parse_one(out, read=dialect).named_selects == [
            "customer_id",
            "email",
            "phone",
            "first_name",
            "total_revenue",
        ]
    code, _, err = run(cli, project, "compile", "pricing_lurkers", "--dialect", "oracle")
    assert code == 1 and "unknown dialect 'oracle'" in err


def test_compile_a_file_outside_audiences(cli: CliRunner, project: Project, tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.yml"
    path.write_text("name: elsewhere\ninclude: {audience: us_people}\n", encoding="utf-8")
    code, out, err = run(cli, project, "compile", str(path), "--as-of", "2026-10-31")
    assert code == 0, err
    assert "'US'" in out


def test_unknown_audience(cli: CliRunner, project: Project) -> None:
    code, _, err = run(cli, project, "preview", "us_peple")
    assert code == 1
    assert "unknown audience 'us_peple'; did you mean 'us_people'?" in err


def test_broken_file_stops_only_its_audience(cli: CliRunner, project: Project) -> None:
    (project.audiences_dir / "broken.yml").write_text(
        "name: broken\ninclude: {trait: country, within: [x]}\ntags: [oops]\n", encoding="utf-8"
    )
    code, _, err = run(cli, project, "compile", "broken")
    assert code == 1
    assert "audiences/broken.yml:2:35: error[A013]" in err
    assert " 3 | tags: [oops]" not in err and " 2 | include: {trait: country, within: [x]}" in err
    code, _, _ = run(cli, project, "compile", "us_people")
    assert code == 0


def test_preview_records_size_and_list_shows_it(cli: CliRunner, project: Project) -> None:
    code, out, err = run(cli, project, "preview", "buyers", "--as-of", AS_OF, "--limit", "3")
    assert code == 0, err
    held = {c for c in BUYER_IDS if in_holdout_python(c, "buyers", 50)}
    size = len(BUYER_IDS) - len(held)
    assert out.startswith(f"buyers: {size} members, {len(held)} in holdout (as of 2026-10-31")
    assert "customer_id" in out.splitlines()[1]
    code, out, _ = run(cli, project, "list")
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith("buyers "))
    assert f"{size} (+{len(held)} holdout)" in line and "2026-10-31 00:00" in line
    assert next(x for x in out.splitlines() if x.startswith("us_people ")).rstrip().endswith("-")
    for name in DEMO:
        assert any(x.startswith(name + " ") for x in out.splitlines())


def test_members_csv_and_json(cli: CliRunner, project: Project, tmp_path: Path) -> None:
    target = tmp_path / "out" / "us.csv"
    target.parent.mkdir()
    code, _, err = run(cli, project, "members", "us_people", "--out", str(target))
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert rows == [
        ["customer_id", "email", "first_name"],
        ["c01", "ann@example.com", "Ann"],
        ["c02", "bob@example.com", "Bob"],
        ["c08", "gus@example.com", "Gus"],
    ]
    assert not list(target.parent.glob("*.partial"))
    code, out, err = run(cli, project, "members", "buyers", "--format", "json", "--as-of", AS_OF)
    assert code == 0, err
    records = json.loads(out)
    held = {c for c in BUYER_IDS if in_holdout_python(c, "buyers", 50)}
    assert [r["customer_id"] for r in records] == sorted(BUYER_IDS - held)
    assert set(records[0]) == {"customer_id", "email"}


def test_overlap(cli: CliRunner, project: Project) -> None:
    code, out, err = run(cli, project, "overlap", "us_people", "buyers", "--as-of", AS_OF)
    assert code == 0, err
    held = {c for c in BUYER_IDS if in_holdout_python(c, "buyers", 50)}
    both = {"c01", "c02", "c08"} - held
    assert f"us_people: 3\nbuyers: {len(BUYER_IDS - held)}\nboth: {len(both)}" in out


def test_schema_is_json_schema(cli: CliRunner) -> None:
    result = cli.invoke(app, ["audiences", "schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert {"Audience", "Condition", "TraitCondition", "EventCondition"} <= set(schema["$defs"])


def test_emit_dbt_models(cli: CliRunner, project: Project) -> None:
    code, out, err = run(cli, project, "compile", "--emit-dbt")
    assert code == 0, err
    folder = project.root / "models" / "audiences"
    model = (folder / "audience_us_people.sql").read_text(encoding="utf-8")
    assert model.startswith("-- generated — do not edit")
    assert "{{ ref('customers') }}" in model and '"main"' not in model
    assert "wrote models/audiences/audience_buyers.sql" in out
    (project.audiences_dir / "buyers.yml").unlink()
    code, out, _ = run(cli, project, "compile", "--emit-dbt")
    assert code == 0 and "removed models/audiences/audience_buyers.sql" in out
    assert not (folder / "audience_buyers.sql").exists()
    schema = (folder / "_audiences__models.yml").read_text(encoding="utf-8")
    assert "audience_us_people" in schema and "audience_buyers" not in schema


def test_sizes_table_in_cdpkit_schema(cli: CliRunner, project: Project) -> None:
    run(cli, project, "preview", "us_people", "--as-of", AS_OF)
    with connect(project) as wh:
        rows = wh.fetchall("select audience, size, holdout_size from cdpkit.audience_sizes")
    assert rows == [("us_people", 3, 0)]


def test_demo_audience_on_the_fixture(cli: CliRunner, project: Project) -> None:
    """pricing_lurkers: c03 (c01, c05 ordered; c04 anonymous; c02 two views only)."""
    code, out, _ = run(cli, project, "members", "pricing_lurkers", "--as-of", AS_OF)
    assert code == 0
    assert out.splitlines() == [
        "customer_id,email,phone,first_name,total_revenue",
        "c03,cat@example.fr,,Cat,0",
    ]


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_members_of_empty_audience(cli: CliRunner, project: Project, fmt: str) -> None:
    code, out, _ = run(
        cli, project, "members", "pricing_lurkers", "--format", fmt, "--as-of", "2020-01-01"
    )
    assert code == 0
    assert out == ("[]\n" if fmt == "json" else "")
