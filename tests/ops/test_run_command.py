"""`cdpkit run`: one pass of the pipeline, with the exit codes cron and CI rely on."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from typer.testing import CliRunner

from cdpkit.cli.main import app
from cdpkit.ops.tick import claim_key
from cdpkit.sync import lease
from cdpkit.warehouse import connect

from .conftest import OpsProject
from .helpers import audience_emails, hook_records, set_faults, write_marts


def cdpkit(cli: CliRunner, ops: OpsProject, *args: str) -> tuple[int, str, str]:
    result = cli.invoke(app, ["--project-dir", str(ops.root), *args])
    return result.exit_code, result.stdout, result.stderr


def test_success_then_nothing_due(cli: CliRunner, ops: OpsProject) -> None:
    code, out, err = cdpkit(cli, ops, "run", "--no-build")
    assert code == 0, out + err
    assert "1 audience(s) valid" in err and "1 ran: 1 success" in err
    assert hook_records(ops.sandbox, ops.destination) == audience_emails(ops.warehouse)
    code, out, err = cdpkit(cli, ops, "run", "--no-build")
    assert code == 0 and "nothing due" in err
    code, out, err = cdpkit(cli, ops, "run", "--no-build", "--all")  # due or not
    assert code == 0 and "1 ran: 1 success" in err


def test_exit_3_when_records_are_rejected(cli: CliRunner, ops: OpsProject) -> None:
    set_faults(ops.sandbox, reject={"user2@example.com": "invalid email for this list"})
    code, out, err = cdpkit(cli, ops, "run", "--no-build", "--output", "json")
    assert code == 3, out + err
    document = json.loads(out)
    assert document["exit_code"] == 3
    (sync,) = document["syncs"]
    assert sync["status"] == "partial" and sync["rejections"][0]["key"] == "user2@example.com"


def test_exit_1_when_a_sync_fails(cli: CliRunner, ops: OpsProject) -> None:
    set_faults(ops.sandbox, secret="a-different-secret")  # every request: 401
    code, out, err = cdpkit(cli, ops, "run", "--no-build")
    assert code == 1
    assert f"{ops.sync_id}: failed" in out and "401" in out


def test_exit_1_when_a_safety_limit_blocks_a_sync(cli: CliRunner, ops: OpsProject) -> None:
    assert cdpkit(cli, ops, "run", "--no-build")[0] == 0
    write_marts(ops.warehouse, 20, big_every=2)  # 30 -> 10 members: mirror would remove 2/3
    code, out, _ = cdpkit(cli, ops, "run", "--no-build", "--all")
    assert code == 1 and "blocked" in out and "safety limit" in out
    code, out, _ = cdpkit(cli, ops, "run", "--no-build", "--all", "--allow-large-removals")
    assert code == 0 and len(hook_records(ops.sandbox, ops.destination)) == 10


def test_exit_1_with_a_located_error_for_an_invalid_audience(
    cli: CliRunner, ops: OpsProject
) -> None:
    path = ops.root / "audiences" / "big_spenders.yml"
    path.write_text(path.read_text().replace("total_revenue, gt", "total_revenu, gt"))
    code, out, err = cdpkit(cli, ops, "run", "--no-build")
    assert code == 1
    assert re.search(r"audiences/big_spenders\.yml:\d+:\d+: error\[A\d+\]", err), err
    assert hook_records(ops.sandbox, ops.destination) == {}  # nothing was sent


def test_exit_1_with_a_located_error_for_an_invalid_cron(cli: CliRunner, ops: OpsProject) -> None:
    ops.write_destination(cron="0 25 * * *")
    code, out, err = cdpkit(cli, ops, "run", "--no-build")
    assert code == 1
    line = next(
        n
        for n, text in enumerate(ops.destination_file.read_text().splitlines(), 1)
        if "0 25" in text
    )
    assert re.search(rf"{ops.destination}\.yml:{line}:\d+: error\[D030\]: invalid cron", err), err


def test_exit_0_when_the_sync_is_running_elsewhere(cli: CliRunner, ops: OpsProject) -> None:
    with connect(ops.project) as wh:
        from cdpkit.ops.state import ensure_tables

        ensure_tables(wh)
        held = lease.acquire(wh, claim_key(ops.sync_id), "someone-else")
    code, out, err = cdpkit(cli, ops, "run", "--no-build")
    assert code == 0, out + err
    assert "running elsewhere" in err and "skipped" in out
    assert hook_records(ops.sandbox, ops.destination) == {}
    with connect(ops.project) as wh:
        lease.release(wh, held)


def test_dry_run_sends_nothing(cli: CliRunner, ops: OpsProject) -> None:
    code, out, err = cdpkit(cli, ops, "run", "--no-build", "--dry-run")
    assert code == 0 and "would add 30" in out
    assert hook_records(ops.sandbox, ops.destination) == {}


@pytest.mark.parametrize("args", [["run", "--output", "xml"], ["run", "--frobnicate"]])
def test_exit_2_on_usage_errors(cli: CliRunner, ops: OpsProject, args: list[str]) -> None:
    assert cdpkit(cli, ops, *args)[0] == 2


def test_exit_codes_are_documented_in_help(cli: CliRunner) -> None:
    text = " ".join(cli.invoke(app, ["run", "--help"]).stdout.split())
    for code in ("0 success", "1 a step failed", "2 usage error", "3 the syncs finished but"):
        assert code in text


@pytest.mark.slow
def test_exit_1_when_the_dbt_build_fails(cli: CliRunner, ops: OpsProject) -> None:
    for folder in ("models", "seeds"):  # a one-model project keeps dbt quick
        shutil.rmtree(ops.root / folder)
        (ops.root / folder).mkdir()
    (ops.root / "models" / "broken.sql").write_text("select * from {{ ref('no_such_model') }}\n")
    code, out, err = cdpkit(cli, ops, "run")
    assert code == 1
    assert "build" in err and "failed" in err and "no_such_model" in err
    assert hook_records(ops.sandbox, ops.destination) == {}
