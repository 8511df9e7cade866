"""The GitHub Actions workflows: valid YAML, CI runs what `make test` runs, the recipe's
commands exist and its audience steps work on a real project."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from typer.main import get_command

from cdpkit.cli.main import app
from cdpkit.project import Project

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
STEP_KEYS = {
    "name",
    "id",
    "if",
    "uses",
    "run",
    "with",
    "env",
    "shell",
    "working-directory",
    "continue-on-error",
    "timeout-minutes",
}
JOB_KEYS = {
    "name",
    "runs-on",
    "container",
    "services",
    "steps",
    "env",
    "timeout-minutes",
    "permissions",
    "needs",
    "if",
    "strategy",
    "defaults",
    "concurrency",
    "outputs",
    "environment",
    "continue-on-error",
}
EVENTS = {
    "push",
    "pull_request",
    "workflow_dispatch",
    "schedule",
    "pull_request_target",
    "release",
    "workflow_call",
}


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    if True in data:  # YAML 1.1 reads the key `on` as a boolean
        data["on"] = data.pop(True)
    return data


def check_shape(workflow: dict[str, Any]) -> None:
    assert isinstance(workflow.get("name"), str)
    assert set(workflow["on"]) <= EVENTS and workflow["on"]
    for job_id, job in workflow["jobs"].items():
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", job_id)
        assert set(job) <= JOB_KEYS, set(job) - JOB_KEYS
        assert isinstance(job["runs-on"], str) and job["steps"]
        for step in job["steps"]:
            assert set(step) <= STEP_KEYS, set(step) - STEP_KEYS
            assert ("uses" in step) != ("run" in step), step
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), step["uses"]
    for text in re.findall(r"\$\{\{(.*?)\}\}", yaml.safe_dump(workflow)):
        assert text.strip().split(".")[0].split("(")[0] in {
            "github",
            "runner",
            "secrets",
            "hashFiles",
        }


@pytest.mark.parametrize("name", ["ci.yml", "cdpkit-pull-request.yml"])
def test_workflows_are_valid(name: str) -> None:
    check_shape(load(name))


def test_ci_runs_what_make_test_runs() -> None:
    workflow = load("ci.yml")
    assert {"push", "pull_request"} <= set(workflow["on"])
    (job,) = workflow["jobs"].values()
    runs = [s["run"].strip() for s in job["steps"] if "run" in s]
    assert runs == [".ci/run"]
    script = (REPO / ".ci" / "run").read_text().strip().splitlines()
    assert script[-1] == "make test"
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^test: install lint\n\t\$\(BIN\)/python -m pytest$", makefile, re.M)
    assert re.search(
        r"^lint: install\n\t\$\(BIN\)/ruff check \.\n\t\$\(BIN\)/ruff format --check \.$",
        makefile,
        re.M,
    )
    assert "bookworm" in job["container"]  # .ci/run installs Debian's postgresql and chromium


def cdpkit_commands(workflow: dict[str, Any]) -> list[list[str]]:
    found = []
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            script = step.get("run", "").replace("\\\n", " ")
            for match in re.finditer(r"\bcdpkit ([a-z][^;|>&\n]*)", script):
                found.append(shlex.split(match.group(1)))
    return found


def test_recipe_commands_exist_in_the_cli() -> None:
    commands = cdpkit_commands(load("cdpkit-pull-request.yml"))
    used = {" ".join(a for a in argv[:2] if not a.startswith(("-", "$", '"'))) for argv in commands}
    assert {"build", "audiences validate", "audiences compile", "sync", "audiences diff"} <= used
    root = get_command(app)
    for argv in commands:
        ctx = click.Context(root)
        group: Any = root
        for word in argv:
            if not isinstance(group, click.Group) or word.startswith(("-", "$", '"')):
                break
            sub = group.get_command(ctx, word)
            if sub is None and argv[:2] == ["audiences", "diff"]:
                # registered by cdpkit/cli/audiences.py via cdpkit.cli.audiences_diff.register
                from cdpkit.cli.audiences_diff import diff_command

                sub = click.Command("diff", callback=diff_command)
            assert sub is not None, f"`cdpkit {' '.join(argv)}`: no command '{word}'"
            group = sub


@pytest.mark.slow
def test_recipe_validate_and_compile_steps_run(scratch_project: Project) -> None:
    """The recipe's shell for steps 2 and 3, run as written on a fresh project."""
    for path in sorted((scratch_project.root / "audiences").glob("*.yml"))[2:]:
        path.unlink()  # two audiences show the loop works; each compile is a new process
    workflow = load("cdpkit-pull-request.yml")
    steps = {s["name"]: s["run"] for s in workflow["jobs"]["audiences"]["steps"] if "run" in s}
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        **{k: str(v) for k, v in workflow["env"].items()},
    }
    for name in ("Validate audiences", "Compile audiences for the production dialect"):
        done = subprocess.run(
            ["bash", "-e", "-c", steps[name]],
            cwd=scratch_project.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, f"{name}:\n{done.stdout}\n{done.stderr}"
