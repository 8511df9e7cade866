"""Alerts: which runs call for one, the Slack-compatible message, and no secret in it."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from cdpkit.cli.main import app
from cdpkit.ops.alerts import AlertSender, AlertSettings, alerts_for, payload, scheduler_alert
from cdpkit.sync import redact
from cdpkit.sync.envref import EnvSecret
from cdpkit.sync.jobs import SyncOutcome

from .conftest import OpsProject
from .helpers import HOOK_SECRET, CaptureServer, set_faults, write_marts


def outcome(
    status: str, confirmed: int = 90, rejected: int = 0, error: str | None = None
) -> SyncOutcome:
    o = SyncOutcome("crm.vip", "crm", "webhook", "vip", "vip", "mirror", status, run_id="R1")
    o.confirmed["add"], o.rejected["add"], o.error = confirmed, rejected, error
    o.rejections = [
        {"key": f"k{i}", "change": "add", "reason": "bad email"} for i in range(rejected)
    ]
    return o


SETTINGS = AlertSettings(webhook_url=EnvSecret("X"), max_rejected_percent=5.0)


@pytest.mark.parametrize(
    ("run", "kinds"),
    [
        (outcome("success"), []),
        (outcome("cancelled"), []),  # a graceful shutdown is not a failure
        (outcome("failed", error="401 unauthorized"), ["failed"]),
        (outcome("blocked", error="safety limit: would remove 60%"), ["blocked"]),
        (outcome("deferred", error="HubSpot daily limit reached"), ["deferred"]),
        (outcome("partial", confirmed=96, rejected=4), []),  # 4% <= 5%
        (outcome("partial", confirmed=90, rejected=10), ["rejections"]),  # 10% > 5%
    ],
)
def test_which_runs_alert(run: SyncOutcome, kinds: list[str]) -> None:
    assert [a.kind for a in alerts_for(run, SETTINGS)] == kinds


def test_rejection_count_threshold_and_kind_filter() -> None:
    by_count = SETTINGS.model_copy(
        update={"max_rejected_percent": 100.0, "max_rejected_records": 3}
    )
    assert [a.kind for a in alerts_for(outcome("partial", 996, 4), by_count)] == ["rejections"]
    quiet = SETTINGS.model_copy(update={"alert_on": ["blocked"]})
    assert alerts_for(outcome("failed", error="boom"), quiet) == []


def test_a_deferred_run_says_when_it_resumes() -> None:
    import datetime as dt

    run = outcome("deferred", error="hubspot (hubspot): the daily request limit is used up")
    run.resets_at = dt.datetime(2026, 11, 30, 0, 0, tzinfo=dt.UTC)
    [alert] = alerts_for(run, SETTINGS)
    assert "daily request limit" in alert.summary and "2026-11-30 00:00 UTC" in alert.summary
    assert alerts_for(run, SETTINGS.model_copy(update={"alert_on": ["failed"]})) == []


def test_payload_is_slack_compatible_and_points_at_the_details() -> None:
    (alert,) = alerts_for(outcome("failed", error="HTTP 401 <from> crm & co"), SETTINGS)
    body = payload(alert, project="shop", host="worker-1")
    assert set(body) == {"text", "blocks"}
    assert "crm.vip" in body["text"] and "cdpkit history show R1" in body["text"]
    kinds = [b["type"] for b in body["blocks"]]
    assert kinds == ["header", "section", "section", "context"]
    assert body["blocks"][0]["text"] == {"type": "plain_text", "text": "cdpkit: crm.vip failed"}
    assert "&lt;from&gt; crm &amp; co" in body["blocks"][1]["text"]["text"]  # mrkdwn-escaped
    assert "cdpkit history show R1" in body["blocks"][3]["elements"][0]["text"]


def test_registered_secrets_never_reach_the_payload() -> None:
    secret = "tok-5ecret-value-123"
    redact.register(secret)
    alert = alerts_for(
        outcome("failed", error=f"request to https://api/x?token={secret} failed"), SETTINGS
    )[0]
    assert secret not in json.dumps(payload(alert, project="p"))
    assert secret not in json.dumps(
        payload(scheduler_alert(f"cannot connect with {secret}"), project="p")
    )


def test_a_failing_webhook_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    problems: list[str] = []
    with CaptureServer(status=500) as server:
        monkeypatch.setenv("X", server.url)
        sender = AlertSender(SETTINGS, project="p", on_error=problems.append)
        assert sender.send(scheduler_alert("warehouse down")) is False
        assert len(server.bodies) == 3  # retried
    assert problems and "HTTP 500" in problems[0] and "secretpart" not in problems[0]


def test_scheduler_errors_are_not_repeated_every_tick(monkeypatch: pytest.MonkeyPatch) -> None:
    with CaptureServer() as server:
        monkeypatch.setenv("X", server.url)
        sender = AlertSender(SETTINGS, project="p")
        assert sender.send(scheduler_alert("warehouse down")) is True
        assert sender.send(scheduler_alert("warehouse down")) is False
        assert sender.send(scheduler_alert("something else")) is True
        assert len(server.bodies) == 2


def test_a_failed_sync_posts_one_alert_without_secrets(
    cli: CliRunner, ops: OpsProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_faults(ops.sandbox, secret="not-the-one-we-sign-with")  # 401: a terminal error
    with CaptureServer() as server:
        monkeypatch.setenv("CDPKIT_ALERT_WEBHOOK_URL", server.url)
        result = cli.invoke(app, ["--project-dir", str(ops.root), "run", "--no-build"])
    assert result.exit_code == 1
    (body,) = server.bodies
    text = server.raw[0]
    assert f"{ops.sync_id} failed" in body["text"]
    run_id = re.search(r"cdpkit history show (\S+?)\)", body["text"])
    assert run_id and run_id.group(1) in result.stdout
    assert HOOK_SECRET not in text and "secretpart" not in text


def test_alerts_file_thresholds_and_blocked_runs(
    cli: CliRunner, ops: OpsProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    (ops.root / "destinations" / "_alerts.yml").write_text(
        "webhook_url: ${OPS_ALERT_URL}\nalert_on: [rejections, blocked]\nmax_rejected_percent: 2\n"
    )
    set_faults(ops.sandbox, reject={"user2@example.com": "bounced", "user4@example.com": "bounced"})
    with CaptureServer() as server:
        monkeypatch.setenv("OPS_ALERT_URL", server.url)
        assert cli.invoke(app, ["--project-dir", str(ops.root), "run", "--no-build"]).exit_code == 3
        assert [b["blocks"][0]["text"]["text"] for b in server.bodies] == [
            f"cdpkit: {ops.sync_id} rejected records"
        ]
        assert "2 of 30 records rejected (6.7%, threshold 2%): bounced" in server.bodies[0]["text"]
        write_marts(ops.warehouse, 10, big_every=2)
        assert (
            cli.invoke(
                app, ["--project-dir", str(ops.root), "run", "--no-build", "--all"]
            ).exit_code
            == 1
        )
        assert (
            server.bodies[-1]["blocks"][0]["text"]["text"] == f"cdpkit: {ops.sync_id} was blocked"
        )


def test_a_literal_webhook_url_in_the_alerts_file_is_refused(
    cli: CliRunner, ops: OpsProject
) -> None:
    (ops.root / "destinations" / "_alerts.yml").write_text(
        "webhook_url: https://hooks.slack.com/services/T0/B0/abc\n"
    )
    result = cli.invoke(app, ["--project-dir", str(ops.root), "run", "--no-build"])
    assert result.exit_code == 1
    assert re.search(r"destinations/_alerts\.yml:1:\d+: error\[D010\]", result.stderr), (
        result.stderr
    )
