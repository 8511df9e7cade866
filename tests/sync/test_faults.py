"""Failure injection through the CLI: throttling storms, 5xx, timeouts, a poisoned record,
a destination that keeps failing, and a slow destination next to a fast one."""

from __future__ import annotations

import json

import pytest
import yaml

from cdpkit.project import Project
from cdpkit.sandbox.server import Sandbox
from cdpkit.warehouse import connect

from .cli_project import CliProject, expected, setup_project
from .helpers import people

pytestmark = pytest.mark.slow


@pytest.fixture
def cp(scratch_project: Project, sandbox: Sandbox, uid: str) -> CliProject:
    return setup_project(scratch_project, sandbox, uid)


def test_a_429_storm_is_ridden_out(cp: CliProject) -> None:
    crowd = people(150)
    cp.set_customers(crowd)
    cp.write_destination(
        batch_size=10, concurrency=4, rate_limit={"requests_per_second": 500, "burst": 50}
    )
    cp.faults(rate_limit={"per_second": 20, "burst": 2})  # far below what the sync is allowed
    code, doc = cp.sync_json()
    [sync] = doc["syncs"]
    assert code == 0, sync["error"]
    assert cp.records() == expected(crowd)
    assert sync["throttled"] > 0 and sync["retries"] >= sync["throttled"]
    assert cp.stats()["duplicate_batches"] == 0 if "duplicate_batches" in cp.stats() else True


def test_server_errors_are_retried(cp: CliProject) -> None:
    crowd = people(60)
    cp.set_customers(crowd)
    cp.faults(script=[{"status": 503, "times": 3}, {"status": 500, "retry_after": 0.1}])
    code, doc = cp.sync_json()
    assert code == 0 and doc["syncs"][0]["retries"] >= 4
    assert cp.records() == expected(crowd)


def test_timeouts_are_retried_and_double_delivery_is_idempotent(cp: CliProject) -> None:
    crowd = people(60)
    cp.set_customers(crowd)
    cp.write_destination(timeout_s=0.3, concurrency=1)
    cp.faults(script=[{"delay_s": 0.8, "times": 2}])  # processed, but answered too late
    code, doc = cp.sync_json()
    assert code == 0, doc["syncs"][0]["error"]
    assert doc["syncs"][0]["retries"] >= 2
    assert cp.records() == expected(crowd)


def test_a_poisoned_record_is_isolated_logged_and_the_rest_confirmed(cp: CliProject) -> None:
    crowd = people(100)
    cp.set_customers(crowd)
    want = expected(crowd)
    poisoned = sorted(want)[7]
    cp.faults(reject={poisoned: "field 'email' is not a deliverable address"}, reject_mode="batch")
    code, doc = cp.sync_json()
    [sync] = doc["syncs"]
    assert code == 3 and sync["status"] == "partial"
    assert sync["confirmed"]["add"] == len(want) - 1 and sync["rejected"]["add"] == 1
    assert sync["rejections"][0]["key"] == poisoned
    assert cp.records() == {k: v for k, v in want.items() if k != poisoned}
    with connect(cp.project) as wh:
        row = wh.fetchone(
            "select outcome, reason from cdpkit.sync_record_log "
            "where run_id = ? and record_key = ?",
            [sync["run_id"], poisoned],
        )
        state = wh.fetchone(
            "select count(*) from cdpkit.sync_state where record_key = ?", [poisoned]
        )
    assert row is not None and row[0] == "rejected" and "not a deliverable address" in row[1]
    assert state == (0,)


def test_a_destination_that_keeps_failing_stops_cleanly_and_resumes(cp: CliProject) -> None:
    crowd = people(120)
    cp.set_customers(crowd)
    cp.write_destination(
        concurrency=1, retry={"max_attempts": 3, "base_delay_s": 0.01, "max_delay_s": 0.02}
    )
    cp.faults(script=[{"status": 200}, {"status": 503, "times": 50}])  # check passes, then 5xx
    code, doc = cp.sync_json()
    [sync] = doc["syncs"]
    assert code == 1 and sync["status"] == "failed" and "gave up after 3 attempts" in sync["error"]
    cp.faults(script=[])
    requests_reset(cp)
    code, doc = cp.sync_json()
    assert code == 0 and cp.records() == expected(crowd)


def requests_reset(cp: CliProject) -> None:
    import requests

    requests.post(f"{cp.sandbox.control_url('webhook')}/reset", timeout=10).raise_for_status()
    cp.faults(secret="test-webhook-secret-0123456789")


def test_a_slow_or_failing_destination_does_not_hold_up_another(
    cp: CliProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    crowd = people(100)
    cp.set_customers(crowd)
    with Sandbox(port=0) as slow:
        slow_url = slow.control_url("webhook")
        import requests

        requests.post(
            f"{slow_url}/faults", json={"secret": "s1-secret-value", "latency_s": 0.15}, timeout=10
        )
        monkeypatch.setenv("SLOW_SECRET", "s1-secret-value")
        cp.write_destination(
            name="slow",
            base_url=slow.url("webhook"),
            signing_secret="${SLOW_SECRET}",
            batch_size=5,
            concurrency=1,
        )
        (cp.root / "destinations" / "files.yml").write_text(
            yaml.safe_dump(
                {
                    "type": "file",
                    "directory": "exports",
                    "format": "jsonl",
                    "syncs": [{"audience": "vip", "identifier": "email", "mapping": ["email"]}],
                }
            )
        )
        code, doc = cp.sync_json("slow", "files")
        outcomes = {s["sync"]: s for s in doc["syncs"]}
        assert code == 0
        assert outcomes["slow.vip"]["seconds"] > 1.5
        assert outcomes["files.vip"]["seconds"] < 1.0
        requests.post(f"{slow_url}/faults", json={"fail_auth": True, "latency_s": 0}, timeout=10)
        cp.set_customers(people(120))
        code, doc = cp.sync_json("slow", "files")
        outcomes = {s["sync"]: s for s in doc["syncs"]}
        assert code == 1
        assert outcomes["slow.vip"]["status"] == "failed"
        assert outcomes["files.vip"]["status"] == "success"
        assert outcomes["files.vip"]["confirmed"]["add"] > 0
    assert json.dumps(doc).count("s1-secret-value") == 0
