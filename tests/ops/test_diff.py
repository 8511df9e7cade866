"""`cdpkit audiences diff --base REF` against a real git repository."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cdpkit.cli import audiences_diff
from cdpkit.cli.common import new_app
from cdpkit.errors import CdpkitError
from cdpkit.ops.diff import diff_audiences
from cdpkit.project import Project

VIP = "name: vip\ninclude: {trait: total_revenue, gt: 1000}\nfields: [email]\n"
VIP_FR = (
    "name: vip_fr\ninclude: {all: [{audience: vip}, {trait: country, eq: FR}]}\nfields: [email]\n"
)
LURKERS = "name: lurkers\ninclude: {trait: order_count, eq: 0}\n"


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


@pytest.fixture
def repo(scratch_project: Project) -> Project:
    """main: vip, vip_fr (refers to vip), lurkers, old; the working tree changes them."""
    root = scratch_project.root
    folder = root / "audiences"
    for path in folder.glob("*.yml"):
        path.unlink()
    (folder / "vip.yml").write_text(VIP)
    (folder / "vip_fr.yml").write_text(VIP_FR)
    (folder / "lurkers.yml").write_text(LURKERS)
    (folder / "old.yml").write_text("name: old\ninclude: {trait: is_anonymous, eq: true}\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "audiences", "dbt_project.yml")
    git(root, "commit", "-q", "-m", "base")
    (folder / "vip.yml").write_text(VIP.replace("1000", "2000"))  # definition and SQL
    (folder / "lurkers.yml").write_text("# who never ordered\n" + LURKERS)  # comment only
    (folder / "old.yml").unlink()
    (folder / "new.yml").write_text("name: new\ninclude: {trait: country, eq: DE}\n")
    return scratch_project


def test_diff_classifies_every_audience(repo: Project) -> None:
    before = git(repo.root, "status", "--porcelain", "--untracked-files=all")
    result = diff_audiences(repo, "main", dialect="snowflake")
    status = {a.name: a.what for a in result.audiences}
    assert status == {
        "lurkers": "unchanged",  # a comment is not a change
        "new": "added",
        "old": "removed",
        "vip": "changed (definition + sql)",
        "vip_fr": "changed (sql)",  # its YAML is the same; the audience it uses changed
    }
    vip = next(a for a in result.audiences if a.name == "vip")
    assert "-include: {trait: total_revenue, gt: 1000}" in vip.definition_diff
    assert "+include: {trait: total_revenue, gt: 2000}" in vip.definition_diff
    assert "2000" in vip.sql_diff and '"total_revenue"' in vip.sql_diff  # snowflake quoting
    assert result.errors == "" and len(result.base_commit) == 40
    # neither the working tree nor the repository changed
    assert git(repo.root, "status", "--porcelain", "--untracked-files=all") == before
    assert git(repo.root, "worktree", "list").count("\n") == 1


def test_cli_formats_and_exit_codes(repo: Project, cli: CliRunner) -> None:
    app = new_app("test")

    @app.callback()
    def root() -> None:
        """Root."""

    audiences_diff.register(app)
    args = ["diff", "--project-dir", str(repo.root), "--base", "main"]
    text = cli.invoke(app, args)
    assert text.exit_code == 0 and "4 changed of 5" in text.stdout
    markdown = cli.invoke(app, [*args, "--format", "markdown"]).stdout
    assert "| `vip_fr` | changed (sql) |" in markdown and "```diff" in markdown
    document = json.loads(cli.invoke(app, [*args, "--format", "json"]).stdout)
    assert document["changed"] == 4
    assert cli.invoke(app, [*args, "--exit-code"]).exit_code == 1
    (repo.root / "audiences" / "new.yml").write_text(
        "name: new\ninclude: {trait: contry, eq: DE}\n"
    )
    broken = cli.invoke(app, args)
    assert broken.exit_code == 1 and "audiences/new.yml:2:" in broken.stderr


def test_unknown_ref_and_no_repository(
    repo: Project, scratch_project: Project, tmp_path: Path
) -> None:
    with pytest.raises(CdpkitError, match="unknown git ref 'nope'"):
        diff_audiences(repo, "nope")
    subprocess.run(["rm", "-rf", str(repo.root / ".git")], check=True)
    with pytest.raises(CdpkitError, match="not a git repository"):
        diff_audiences(repo, "main")
