"""End to end through the CLI: a real project, a real DuckDB file, the sandbox over real HTTP."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

import pytest

from cdpkit.project import Project
from cdpkit.sandbox.server import Sandbox
from cdpkit.sync.ratelimit import LIMITERS

from .cli_project import CliProject, expected, holdout_of, setup_project
from .conftest import WEBHOOK_SECRET
from .helpers import people

pytestmark = pytest.mark.slow


@pytest.fixture
def cp(scratch_project: Project, sandbox: Sandbox, uid: str) -> CliProject:
    return setup_project(scratch_project, sandbox, uid)


def _counts(doc: dict, stage: str) -> tuple[int, int, int]:
    [sync] = doc["syncs"]
    source = sync["plan"] if stage == "plan" else sync[stage]
    return source["add"], source["update"], source["remove"]


@pytest.mark.parametrize("mode", ["mirror", "upsert", "add_only"])
def test_first_then_incremental_syncs_in_each_mode(cp: CliProject, mode: str) -> None:
    crowd = people(80)
    cp.set_customers(crowd)
    cp.write_destination(sync={"mode": mode})
    code, plan = cp.sync_json("--dry-run")
    assert code == 0 and plan["dry_run"] is True
    assert cp.stats().get("records_received", 0) == 0  # a dry run sends nothing
    code, applied = cp.sync_json()
    assert code == 0, applied
    first = expected(crowd)
    assert holdout_of(crowd) and not {p.email for p in holdout_of(crowd)} & set(cp.records())
    assert cp.records() == first
    assert _counts(plan, "plan") == _counts(applied, "plan") == _counts(applied, "confirmed")
    assert _counts(applied, "confirmed") == (len(first), 0, 0)

    # changed fields, new members, leavers (revenue drops below 120), consent revoked
    changed = {"c0030", "c0031"}
    leavers = {"c0040", "c0041", "c0042"}
    revoked = {"c0050"}
    second = []
    for p in crowd:
        if p.customer_id in changed:
            p = replace(p, first_name="Renamed")
        if p.customer_id in leavers:
            p = replace(p, total_revenue=p.total_revenue - 100 if p.total_revenue else None)
        if p.customer_id in revoked:
            p = replace(p, consent_marketing=False)
        second.append(p)
    second += people(4, start=200)
    cp.set_customers(second)
    code, plan = cp.sync_json("--dry-run")
    code, applied = cp.sync_json()
    assert code == 0, applied
    assert _counts(plan, "plan") == _counts(applied, "plan") == _counts(applied, "confirmed")
    now = expected(second)
    new_keys = set(now) - set(first)
    gone = set(first) - set(now)
    renamed = {k for k in set(now) & set(first) if now[k] != first[k]}
    adds, updates, removes = _counts(applied, "confirmed")
    assert adds == len(new_keys) == 4
    assert updates == (len(renamed) if mode != "add_only" else 0)
    assert removes == (len(gone) if mode == "mirror" else 0)
    records = cp.records()
    if mode == "mirror":
        assert records == now  # the destination equals the audience
    else:
        assert set(records) == set(first) | set(now)  # leavers stay
    for key in renamed:
        assert records[key]["name"] == ("Renamed" if mode != "add_only" else first[key]["name"])
    revoked_email = next(p.email for p in crowd if p.customer_id == "c0050")
    if revoked_email in first:
        assert (revoked_email in records) == (mode != "mirror")


def test_a_run_with_nothing_to_do_sends_nothing(cp: CliProject) -> None:
    cp.set_customers(people(30))
    assert cp.sync_json()[0] == 0
    before = cp.stats()["records_received"]
    code, doc = cp.sync_json()
    assert code == 0 and _counts(doc, "confirmed") == (0, 0, 0)
    assert cp.stats()["records_received"] == before


def test_text_output_history_and_show(cp: CliProject) -> None:
    cp.set_customers(people(30))
    code, stdout, _ = cp.cli("plan")
    assert code == 0 and "to add" in stdout and "hook.vip" in stdout
    code, stdout, _ = cp.cli("sync")
    assert code == 0 and "hook.vip: success" in stdout
    code, stdout, _ = cp.cli("history", "--output", "json")
    runs = json.loads(stdout)
    assert code == 0 and len(runs) == 1 and runs[0]["status"] == "success"
    code, stdout, _ = cp.cli("history", "show", runs[0]["run_id"])
    assert code == 0 and "confirmed" in stdout and runs[0]["run_id"] in stdout
    code, stdout, _ = cp.cli("history", "--sync", "nope")
    assert code == 0 and "No sync runs" in stdout
    code, _, stderr = cp.cli("history", "show", "does-not-exist")
    assert code == 1 and "no sync run with id" in stderr


def test_rejected_records_exit_3_and_are_listed(cp: CliProject) -> None:
    crowd = people(40)
    cp.set_customers(crowd)
    bad = next(iter(expected(crowd)))
    cp.faults(reject={bad: "mailbox does not exist"})
    code, doc = cp.sync_json()
    assert code == 3 and doc["syncs"][0]["status"] == "partial"
    assert doc["syncs"][0]["rejections"] == [
        {"key": bad, "change": "add", "reason": "mailbox does not exist"}
    ]
    code, stdout, _ = cp.cli("history", "show", doc["syncs"][0]["run_id"])
    assert bad in stdout and "mailbox does not exist" in stdout
    cp.faults(reject={})
    code, doc = cp.sync_json()  # retried next run
    assert code == 0 and _counts(doc, "confirmed") == (1, 0, 0)
    assert cp.records() == expected(crowd)


def test_safety_limits_need_the_flag(cp: CliProject) -> None:
    crowd = people(60)
    cp.set_customers(crowd)
    assert cp.sync_json()[0] == 0
    cp.set_customers([replace(p, total_revenue=1) for p in crowd[:40]] + crowd[40:])
    code, stdout, stderr = cp.cli("sync")
    assert code == 1 and "safety limit" in stderr and "--allow-large-removals" in stderr
    assert cp.records() == expected(crowd)
    code, doc = cp.sync_json("--allow-large-removals")
    assert code == 0 and cp.records() == expected(
        [replace(p, total_revenue=1) for p in crowd[:40]] + crowd[40:]
    )


def test_config_errors_are_located_and_secrets_required(
    cp: CliProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    cp.set_customers(people(5))
    (cp.root / "destinations" / "broken.yml").write_text("type: webhok\nsyncs: []\n")
    code, _, stderr = cp.cli("sync")
    assert (
        code == 1
        and "destinations/broken.yml:1:7: error[D004]: unknown destination type 'webhok'" in stderr
    )
    assert "did you mean 'webhook'?" in stderr
    (cp.root / "destinations" / "broken.yml").unlink()
    cp.write_destination(sync={"identifer": "email"})
    code, _, stderr = cp.cli("sync")
    assert (
        code == 1
        and "error[D001]: unknown key 'identifer'" in stderr
        and "did you mean 'identifier'?" in stderr
    )
    cp.write_destination(sync={"mapping": {"email": "emial"}})
    code, _, stderr = cp.cli("sync")
    assert code == 1 and "error[D044]: 'emial' is not a field of audience 'vip'" in stderr
    cp.write_destination()
    monkeypatch.delenv("TEST_HOOK_SECRET")
    code, _, stderr = cp.cli("sync")
    assert code == 1 and "error[D020]: environment variable TEST_HOOK_SECRET is not set" in stderr
    code, stdout, _ = cp.cli("plan")  # planning needs no secrets
    assert code == 0 and "to add" in stdout


def test_terminal_auth_failure_is_clear_and_marks_nothing(
    cp: CliProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    cp.set_customers(people(30))
    monkeypatch.setenv("TEST_HOOK_SECRET", "a-wrong-secret-98765")
    code, stdout, stderr = cp.cli("--debug", "sync")
    assert code == 1
    assert "refused with HTTP 401" in stderr and "check the destination's credentials" in stderr
    assert "a-wrong-secret-98765" not in stdout + stderr
    assert cp.records() == {}
    code, doc = cp.sync_json("--dry-run")
    assert _counts(doc, "plan")[0] == len(expected(people(30)))  # nothing was marked synced
    monkeypatch.setenv("TEST_HOOK_SECRET", WEBHOOK_SECRET)
    assert cp.sync_json()[0] == 0 and cp.records() == expected(people(30))


def test_a_second_run_of_a_running_sync_exits_with_a_clear_message(cp: CliProject) -> None:
    from cdpkit.sync import lease
    from cdpkit.sync.state import ensure_schema
    from cdpkit.warehouse import connect

    cp.set_customers(people(5))
    with connect(cp.project) as wh:
        ensure_schema(wh)
        lease.acquire(wh, "hook.vip", "r-elsewhere", seconds=300)  # held by this (live) process
    code, _, stderr = cp.cli("sync")
    assert code == 1 and "sync 'hook.vip' is already running" in stderr


def test_selecting_syncs_by_name(cp: CliProject) -> None:
    cp.set_customers(people(5))
    assert cp.cli("plan", "hook")[0] == 0
    assert cp.cli("plan", "hook.vip")[0] == 0
    assert cp.cli("plan", "vip")[0] == 0
    code, _, stderr = cp.cli("plan", "hok")
    assert code == 1 and "did you mean 'hook'?" in stderr


@pytest.mark.parametrize(
    "command",
    [
        ["sync"],
        ["plan"],
        ["history"],
        ["history", "show"],
        ["sandbox"],
        ["destinations", "validate"],
        ["destinations", "schema"],
        ["destinations", "list"],
        ["destinations", "types"],
    ],
)
def test_every_command_has_help(cli, command: list[str]) -> None:  # type: ignore[no-untyped-def]
    from cdpkit.cli.main import app

    result = cli.invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.stdout and len(result.stdout) > 100


def test_the_project_suppression_list_applies_to_every_sync(cp: CliProject) -> None:
    from cdpkit.warehouse import connect

    crowd = people(40)
    cp.set_customers(crowd)
    assert cp.sync_json()[0] == 0
    victim = sorted(expected(crowd))[3]
    with connect(cp.project) as wh:
        wh.execute("create table main.do_not_contact (email varchar)")
        wh.execute("insert into main.do_not_contact values (?)", [victim.upper()])
    (cp.root / "destinations" / "_suppression.yml").write_text(
        "suppress:\n  - table: main.do_not_contact\n    column: email\n    identifier_type: email\n"
    )
    code, stdout, _ = cp.cli("plan")
    assert code == 0 and "not eligible: " in stdout and "1 suppressed" in stdout
    code, doc = cp.sync_json()
    assert code == 0 and doc["syncs"][0]["confirmed"]["remove"] == 1
    assert doc["syncs"][0]["plan"]["ineligible"]["suppressed"] == 1
    assert victim not in cp.records()
    assert cp.records() == {k: v for k, v in expected(crowd).items() if k != victim}


def test_full_resync_resends_everyone_and_removals_carry_their_fields(cp: CliProject) -> None:
    import requests

    crowd = people(60)
    cp.set_customers(crowd)
    assert cp.sync_json()[0] == 0
    first = expected(crowd)
    # The receiver lost everything (e.g. its list was emptied by hand): a normal run cannot
    # know, a full resync sends every member again.
    requests.post(f"{cp.sandbox.base_url}/_sandbox/reset", timeout=10).raise_for_status()
    cp.faults(secret=WEBHOOK_SECRET)
    code, doc = cp.sync_json()
    assert code == 0 and _counts(doc, "confirmed") == (0, 0, 0) and cp.records() == {}
    leavers = sorted(first)[:2]
    second = [replace(p, total_revenue=Decimal(50)) if p.email in leavers else p for p in crowd]
    cp.set_customers(second)
    now = expected(second)
    code, plan = cp.sync_json("--dry-run", "--full-resync")
    assert code == 0 and plan["syncs"][0]["full_resync"] is True
    assert _counts(plan, "plan") == (0, len(now), 2)
    code, stdout, _ = cp.cli("sync", "--full-resync")
    assert code == 0 and "full resync" in stdout
    assert cp.records() == now
    batches = requests.get(
        f"{cp.sandbox.control_url('webhook')}/batches", params={"hook": cp.hook}, timeout=10
    ).json()
    removed = {k: v for b in batches if b["operation"] == "remove" for k, v in b["fields"].items()}
    assert removed == {key: first[key] for key in leavers}  # as last sent, not just the key
    code, doc = cp.sync_json()
    assert code == 0 and _counts(doc, "confirmed") == (0, 0, 0)
    assert doc["syncs"][0]["full_resync"] is False


def test_a_wait_longer_than_the_retry_budget_defers_with_exit_4(cp: CliProject) -> None:
    crowd = people(200)
    cp.set_customers(crowd)
    cp.write_destination(concurrency=1)
    # check() and two batches go through, then the receiver asks for two hours of quiet.
    cp.faults(script=[{}, {}, {}, {"status": 429, "retry_after": 7200}])
    code, stdout, stderr = cp.cli("sync")
    assert code == 4, stdout + stderr
    assert "hook.vip: deferred" in stdout
    assert "Deferred:" in stderr and "resets at" in stderr and "next run" in stderr
    held = cp.records()
    assert len(held) == 50  # two confirmed batches of 25
    code, doc = cp.sync_json("--dry-run")
    assert _counts(doc, "plan")[0] == len(expected(crowd)) - 50  # resumes where it stopped
    code, stdout, _ = cp.cli("history", "--output", "json")
    [run] = json.loads(stdout)
    assert run["status"] == "deferred" and run["resets_at"] is not None
    code, stdout, _ = cp.cli("history", "show", run["run_id"])
    assert "deferred: hook (webhook)" in stdout and "quota resets at" in stdout
    # This process still honours the two hours (a run now would defer at once, sending
    # nothing); the next process would not know: forget the pause, as a new process would.
    code, doc = cp.sync_json()
    assert code == 4 and "not sent" in doc["syncs"][0]["error"] and len(cp.records()) == 50
    LIMITERS.forget(f"webhook:{cp.sandbox.url('webhook')}")
    code, doc = cp.sync_json()
    assert code == 0 and cp.records() == expected(crowd)
    assert cp.stats().get("duplicate_records", 0) == 0


def test_sync_help_documents_the_exit_codes(cli) -> None:  # type: ignore[no-untyped-def]
    from cdpkit.cli.main import app

    result = cli.invoke(app, ["sync", "--help"], terminal_width=200)
    text = " ".join(result.stdout.split())
    assert result.exit_code == 0
    for phrase in ("0 every record confirmed", "1 a sync failed", "4 deferred", "3 some records"):
        assert phrase in text
    assert "--full-resync" in text
