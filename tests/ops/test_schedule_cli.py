"""`cdpkit schedule list`: next three run times per scheduled sync; bad schedules located."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from typer.testing import CliRunner

from cdpkit.cli.main import app
from cdpkit.ops.cron import CronSchedule

from .conftest import OpsProject


def listing(cli: CliRunner, ops: OpsProject, *args: str) -> tuple[int, str, str]:
    result = cli.invoke(app, ["--project-dir", str(ops.root), "schedule", "list", *args])
    return result.exit_code, result.stdout, result.stderr


def test_list_shows_the_next_three_runs_in_the_schedule_time_zone(
    cli: CliRunner, ops: OpsProject
) -> None:
    ops.write_destination(cron="30 2 * * *", timezone="Europe/Berlin")
    before = dt.datetime.now(dt.UTC)
    code, out, _ = listing(cli, ops, "--format", "json")
    assert code == 0
    (item,) = json.loads(out)
    assert item["sync"] == ops.sync_id and item["timezone"] == "Europe/Berlin"
    expected = CronSchedule("30 2 * * *", "Europe/Berlin").next_times(before, 3)
    assert [dt.datetime.fromisoformat(t) for t in item["next_runs"]] == expected
    code, out, _ = listing(cli, ops)
    lines = out.splitlines()
    assert lines[0] == f"{ops.sync_id}  30 2 * * *  (Europe/Berlin)"
    assert len(lines) == 4
    assert all(
        re.fullmatch(r"    \d{4}-\d\d-\d\d 02:30 CES?T  = \d{4}-\d\d-\d\d \d\d:30 UTC", x)
        for x in lines[1:]
    )


@pytest.mark.parametrize(
    ("schedule", "code", "message"),
    [
        ('"0 25 * * *"', "D030", "invalid cron expression '0 25 * * *'"),
        ('{cron: "*/5 * * *"}', "D030", "invalid cron expression"),
        (
            '{cron: "0 * * * *", timezone: Europe/Pariss}',
            "D031",
            "unknown time zone 'Europe/Pariss'",
        ),
        ('{cron: "0 * * * *", every: 5}', "D001", "every"),
    ],
)
def test_invalid_schedules_are_located(
    cli: CliRunner, ops: OpsProject, schedule: str, code: str, message: str
) -> None:
    text = ops.destination_file.read_text()
    text = re.sub(r"    schedule: .*\n", f"    schedule: {schedule}\n", text)
    ops.destination_file.write_text(text)
    line = next(n for n, t in enumerate(text.splitlines(), 1) if t.startswith("    schedule:"))
    exit_code, _, err = listing(cli, ops)
    assert exit_code == 1
    found = re.search(
        rf"destinations/{ops.destination}\.yml:(\d+):(\d+): error\[{code}\]: (.*)", err
    )
    assert found, err
    assert int(found.group(1)) == line and int(found.group(2)) >= 5
    assert message in found.group(3)
