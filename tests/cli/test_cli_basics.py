"""The CLI shell: help everywhere, version, exit codes and the one error handler."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from cdpkit import __version__
from cdpkit.cli.main import app


def _all_command_paths() -> list[list[str]]:
    root = typer.main.get_command(app)
    paths: list[list[str]] = []

    # typer vendors its own click, so groups are recognised by their `commands`.
    def walk(cmd: Any, prefix: list[str]) -> None:
        paths.append(prefix)
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                walk(sub, [*prefix, name])

    walk(root, [])
    return paths


@pytest.mark.parametrize("path", _all_command_paths(), ids=lambda p: " ".join(p) or "cdpkit")
def test_every_command_has_help(cli: CliRunner, path: list[str]) -> None:
    result = cli.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    cmd: Any = typer.main.get_command(app)
    for name in path:
        cmd = cmd.commands[name]
    assert (cmd.help or "").strip(), f"'{' '.join(path)}' has no help text"


def test_version(cli: CliRunner) -> None:
    result = cli.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"cdpkit {__version__}"


def test_usage_errors_exit_2(cli: CliRunner) -> None:
    assert cli.invoke(app, ["no-such-command"]).exit_code == 2
    assert cli.invoke(app, ["build", "--no-such-option"]).exit_code == 2
    assert cli.invoke(app, ["demo-data", "--customers", "many"]).exit_code == 2


def test_user_error_is_one_line_exit_1_without_traceback(cli: CliRunner, tmp_path: Path) -> None:
    result = cli.invoke(app, ["--project-dir", str(tmp_path), "build"])
    assert result.exit_code == 1
    assert "Error:" in result.stderr
    assert "is not a cdpkit project" in result.stderr
    assert "Traceback" not in result.output


def test_debug_shows_traceback_without_locals(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = cli.invoke(app, ["--debug", "--project-dir", str(tmp_path), "build"])
    assert result.exit_code == 1
    assert "Traceback" in result.stderr
    assert "find_project" in result.stderr
    # No rich/pretty traceback with a locals panel.
    assert "locals" not in result.stderr.lower()


def test_command_level_project_dir_wins(cli: CliRunner, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    result = cli.invoke(app, ["--project-dir", "/", "build", "--project-dir", str(other)])
    assert result.exit_code == 1
    assert str(other) in result.stderr


def test_init_scaffolds_a_project_and_refuses_to_overwrite(cli: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "newproj"
    result = cli.invoke(app, ["init", str(target)])
    assert result.exit_code == 0, result.output
    for name in ("dbt_project.yml", "profiles.yml", "models", "macros", "seeds", ".gitignore"):
        assert (target / name).exists(), name
    assert not (target / "models").is_symlink()
    assert (target / "models" / "staging" / "raw" / "_raw__sources.yml").is_file()
    again = cli.invoke(app, ["init", str(target)])
    assert again.exit_code == 1
    assert "already contains a dbt project" in again.stderr


def test_unknown_target_is_a_clear_error(cli: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "p"
    assert cli.invoke(app, ["init", str(target)]).exit_code == 0
    result = cli.invoke(app, ["--project-dir", str(target), "build", "--target", "nope"])
    assert result.exit_code == 1
    assert "target 'nope' is not defined (known: dev, postgres)" in result.stderr
