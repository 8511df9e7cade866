"""`cdpkit schedule crontab`: lines cron can run, with flock overlap protection and logs."""

from __future__ import annotations

import shlex
import subprocess
import textwrap
import time
from pathlib import Path

from typer.testing import CliRunner

from cdpkit.cli.main import app
from cdpkit.ops.cron import CronSchedule
from cdpkit.ops.crontab import render_crontab
from cdpkit.ops.schedules import SyncEntry

from .conftest import OpsProject
from .helpers import audience_emails, hook_records


def entry(sync_id: str, cron: str, zone: str = "UTC", **kw: object) -> SyncEntry:
    values: dict[str, object] = {"enabled": True, "build_before": False}
    values.update(kw)
    dest, name = sync_id.split(".")
    return SyncEntry(
        sync_id, dest, name, name, "mirror", schedule=CronSchedule(cron, zone), **values
    )  # type: ignore[arg-type]


def jobs(text: str) -> list[str]:
    return [
        line
        for line in text.splitlines()
        if line and not line.startswith(("#", "SHELL", "CRON_TZ"))
    ]


def test_lines_group_by_time_zone_and_protect_against_overlap(tmp_path: Path) -> None:
    root = tmp_path / "my 100% project"
    text = render_crontab(
        [
            entry("crm.vip", "0 * * * *"),
            entry("ads.lapsed", "30 6 * * 1-5", "Europe/Paris", build_before=True),
            entry("crm.old", "0 0 * * *", enabled=False),
        ],
        root=root,
        target="prod",
        executable="/opt/cdpkit/bin/cdpkit",
        env_file=tmp_path / "cdpkit.env",
    )
    lines = text.splitlines()
    assert lines.index("CRON_TZ=UTC") < lines.index("CRON_TZ=Europe/Paris")
    utc_job, paris_job = jobs(text)
    assert utc_job.startswith("0 * * * * cd ")
    assert "flock -n -E 0 logs/cdpkit-crm.vip.lock /opt/cdpkit/bin/cdpkit" in utc_job
    assert utc_job.endswith(">> logs/cdpkit-crm.vip.log 2>&1")
    assert "--target prod run --sync crm.vip --no-build" in utc_job
    assert paris_job.startswith("30 6 * * 1-5 ") and "--no-build" not in paris_job  # builds first
    assert "my 100\\% project" in utc_job and "%" not in utc_job.replace("\\%", "")  # cron-safe
    assert "set -a && . " in utc_job
    assert any(line.startswith("# disabled: 0 0 * * * ") for line in lines)


def test_a_rendered_line_runs_once_at_a_time_and_logs(tmp_path: Path) -> None:
    """Two copies of the job at once: flock lets one through, the other exits 0 silently."""
    fake = tmp_path / "fake-cdpkit"
    fake.write_text(
        textwrap.dedent("""\
        #!/bin/sh
        echo "started $*"
        sleep 1.5
        echo "done"
    """)
    )
    fake.chmod(0o755)
    (line,) = jobs(
        render_crontab(
            [entry("crm.vip", "* * * * *")], root=tmp_path, target="dev", executable=str(fake)
        )
    )
    command = line.split(" ", 5)[5].replace("\\%", "%")
    first = subprocess.Popen(["/bin/sh", "-c", command])
    time.sleep(0.4)
    second = subprocess.run(["/bin/sh", "-c", command], timeout=30, check=False)
    assert second.returncode == 0  # skipped quietly: a cron mail for this would be noise
    assert first.wait(timeout=30) == 0
    log = (tmp_path / "logs" / "cdpkit-crm.vip.log").read_text().splitlines()
    assert log == [
        f"started --project-dir {tmp_path} --target dev run --sync crm.vip --no-build",
        "done",
    ]


def test_the_crontab_command_line_drives_the_real_cli(cli: CliRunner, ops: OpsProject) -> None:
    result = cli.invoke(app, ["--project-dir", str(ops.root), "schedule", "crontab"])
    assert result.exit_code == 0
    (line,) = jobs(result.stdout)
    argv = shlex.split(line.split(" ", 5)[5].split("flock -n -E 0 ", 1)[1].split(" >> ")[0])
    lock, executable, *args = argv
    assert lock == f"logs/cdpkit-{ops.sync_id}.lock" and executable.endswith("cdpkit")
    ran = cli.invoke(app, args)  # exactly what cron would run, in-process
    assert ran.exit_code == 0, ran.stdout + ran.stderr
    assert hook_records(ops.sandbox, ops.destination) == audience_emails(ops.warehouse)
