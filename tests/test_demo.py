"""`cdpkit demo`: the whole pipeline on the demo data, twice (re-running is safe)."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from cdpkit.audiences import load_audiences
from cdpkit.cli.main import app
from cdpkit.project import Project

pytestmark = pytest.mark.slow


def test_demo_builds_sizes_audiences_and_syncs_to_the_sandbox(
    cli: CliRunner, scratch_project: Project
) -> None:
    for attempt in (1, 2):
        result = cli.invoke(app, ["--project-dir", str(scratch_project.root), "demo"])
        assert result.exit_code == 0, (attempt, result.output)
        out = result.stdout
        assert re.search(r"Identity: [\d,]+ customers", out)
        for name in load_audiences(scratch_project):
            assert re.search(rf"│ {name}\s+│\s+[\d,]+ │", out), name
        lines = [line for line in out.splitlines() if line.startswith("  demo_webhook.")]
        assert lines, out
        sent = 0
        for line in lines:
            assert " success " in line, line
            m = re.search(r"\+(\d+) ~(\d+) -(\d+)", line)
            assert m is not None
            sent += int(m.group(1)) + int(m.group(2))
        arrived = re.search(r"webhook /demo: \d+ signed batches, (\d+) records received", out)
        assert arrived is not None, out
        # The sandbox starts empty each run; a full resync sends every member again.
        assert int(arrived.group(1)) == sent > 0
        title = re.search(r"Audiences as of (\d{4}-\d{2}-\d{2})", out)
        assert title is not None and f"--as-of {title.group(1)}" in out  # how to see the same
