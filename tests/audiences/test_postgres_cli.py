"""preview / members / sizes on the postgres target (real server)."""

from __future__ import annotations

import pytest
from compiler.marts import create_marts
from typer.testing import CliRunner

from cdpkit.cli.main import app
from cdpkit.project import Project
from cdpkit.warehouse import connect


@pytest.mark.postgres
def test_preview_and_members_on_postgres(cli: CliRunner, pg_project: Project) -> None:
    with connect(pg_project) as wh:
        create_marts(wh, wh.schema)
    (pg_project.audiences_dir / "us_people.yml").write_text(
        "name: us_people\ninclude: {trait: country, eq: US}\nfields: [email]\n", encoding="utf-8"
    )
    args = ["--project-dir", str(pg_project.root), "--target", "postgres"]
    result = cli.invoke(app, ["audiences", "preview", "us_people", "--as-of", "2026-10-31", *args])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("us_people: 3 members")
    result = cli.invoke(app, ["audiences", "members", "us_people", *args])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "customer_id,email",
        "c01,ann@example.com",
        "c02,bob@example.com",
        "c08,gus@example.com",
    ]
    result = cli.invoke(app, ["audiences", "list", *args])
    assert any(
        line.startswith("us_people ") and " 3 " in line for line in result.stdout.splitlines()
    )
