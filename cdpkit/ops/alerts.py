"""Failure alerts to a Slack-compatible incoming webhook; secrets never leave the process.

Configure in `destinations/_alerts.yml` (or just export CDPKIT_ALERT_WEBHOOK_URL):

```yaml
webhook_url: ${CDPKIT_ALERT_WEBHOOK_URL}   # the URL is a secret: an env reference only
alert_on: [failed, blocked, deferred, rejections, scheduler]
max_rejected_percent: 5        # alert when more than 5% of a run's records were rejected
max_rejected_records: 1000     # ... or more than this many (optional)
```

Each alert names the sync, an error summary and the command that shows the details.
Every message is passed through the redactor, with the values of all environment variables
the project's destination files reference as secrets registered first.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import requests
from pydantic import Field

from cdpkit.errors import CdpkitError
from cdpkit.project import Project
from cdpkit.spec.diagnostics import SpecError
from cdpkit.spec.validation import validate_doc
from cdpkit.spec.yamlpos import display_path, load_yaml
from cdpkit.sync import redact
from cdpkit.sync.config import Strict
from cdpkit.sync.envref import EnvSecret, EnvText, Secret, walk_references
from cdpkit.sync.jobs import SyncOutcome
from cdpkit.sync.loader import DestinationSet

ALERTS_FILE = "_alerts.yml"
URL_ENV = "CDPKIT_ALERT_WEBHOOK_URL"
CODE_PREFIX = "O"
Kind = Literal["failed", "blocked", "deferred", "rejections", "scheduler"]
ALL_KINDS: tuple[Kind, ...] = ("failed", "blocked", "deferred", "rejections", "scheduler")
MAX_TEXT = 2900  # Slack section text limit is 3000 characters
MAX_HEADER = 150
ATTEMPTS = 3
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class AlertSettings(Strict):
    """`destinations/_alerts.yml`."""

    webhook_url: Secret
    alert_on: list[Kind] = Field(default_factory=lambda: list(ALL_KINDS))
    max_rejected_percent: float = Field(default=5.0, ge=0, le=100)
    max_rejected_records: int | None = Field(default=None, ge=0)
    timeout_s: float = Field(default=10.0, gt=0, le=120)


@dataclass(frozen=True)
class Alert:
    """One message: what went wrong where, and the command that shows the details."""

    kind: Kind
    subject: str
    summary: str
    command: str
    facts: tuple[tuple[str, str], ...] = ()


def load_settings(project: Project) -> AlertSettings | None:
    """The project's alert settings: `_alerts.yml`, else $CDPKIT_ALERT_WEBHOOK_URL, else None."""
    path = project.destinations_dir / ALERTS_FILE
    if not path.is_file():
        if os.environ.get(URL_ENV):
            return AlertSettings(webhook_url=EnvSecret(URL_ENV))
        return None
    doc = load_yaml(path, display=display_path(path, project.root))
    items, diagnostics = validate_doc(doc, AlertSettings, CODE_PREFIX, allow_list=False)
    if any(d.is_error for d in diagnostics) or not items:
        raise SpecError(diagnostics, {doc.file: doc.text})
    return items[0].value


def register_secrets(loaded: DestinationSet, settings: AlertSettings | None = None) -> None:
    """Register every secret the project references (set in the environment) for redaction."""
    refs: list[Any] = [
        ref for dest in loaded.destinations.values() for _, ref in walk_references(dest.config)
    ]
    if settings is not None:
        refs.append(settings.webhook_url)
    for ref in refs:
        if isinstance(ref, EnvSecret) and os.environ.get(ref.name):
            redact.register(os.environ[ref.name])
        elif isinstance(ref, EnvText) and ref.secret:
            for name, _ in ref.references():
                if os.environ.get(name):
                    redact.register(os.environ[name])


def alerts_for(outcome: SyncOutcome, settings: AlertSettings) -> list[Alert]:
    """The alerts one sync run calls for under `settings` (none for a healthy run)."""
    wanted = set(settings.alert_on)
    command = (
        f"cdpkit history show {outcome.run_id}"
        if outcome.run_id
        else f"cdpkit history --sync {outcome.sync_id}"
    )
    rejected = sum(outcome.rejected.values())
    confirmed = sum(outcome.confirmed.values())
    facts = (
        ("Sync", outcome.sync_id),
        ("Destination", f"{outcome.destination} ({outcome.destination_type})"),
        ("Audience", outcome.audience),
        ("Run", outcome.run_id or "-"),
        ("Confirmed", f"{confirmed:,}"),
        ("Rejected", f"{rejected:,}"),
    )
    out: list[Alert] = []
    if outcome.status == "failed" and "failed" in wanted:
        out.append(
            Alert(
                "failed",
                outcome.sync_id,
                f"failed: {outcome.error or 'unknown error'}",
                command,
                facts,
            )
        )
    if outcome.status == "blocked" and "blocked" in wanted:
        out.append(
            Alert(
                "blocked",
                outcome.sync_id,
                f"blocked by a safety limit: {outcome.error or ''}",
                command,
                facts,
            )
        )
    if outcome.status == "deferred" and "deferred" in wanted:
        when = outcome.resets_at
        if when is not None and when.tzinfo is not None:
            when = when.astimezone(dt.UTC)
        resumes = f"; resumes after {when:%Y-%m-%d %H:%M} UTC" if when is not None else ""
        out.append(
            Alert(
                "deferred",
                outcome.sync_id,
                f"deferred: {outcome.error or 'the destination quota is used up'}{resumes}",
                command,
                facts,
            )
        )
    if rejected and "rejections" in wanted:
        percent = 100.0 * rejected / max(confirmed + rejected, 1)
        over_count = (
            settings.max_rejected_records is not None and rejected > settings.max_rejected_records
        )
        if percent > settings.max_rejected_percent or over_count:
            reasons = "; ".join(sorted({r["reason"] for r in outcome.rejections[:5]}))
            summary = (
                f"{rejected:,} of {confirmed + rejected:,} records rejected ({percent:.1f}%, "
                f"threshold {settings.max_rejected_percent:g}%"
                + (
                    f" or {settings.max_rejected_records:,} records"
                    if settings.max_rejected_records is not None
                    else ""
                )
                + ")"
                + (f": {reasons}" if reasons else "")
            )
            out.append(Alert("rejections", outcome.sync_id, summary, command, facts))
    return out


def scheduler_alert(message: str) -> Alert:
    return Alert("scheduler", "scheduler", f"scheduler error: {message}", "cdpkit status")


def payload(alert: Alert, *, project: str, host: str | None = None) -> dict[str, Any]:
    """A Slack-compatible message (`text` fallback + Block Kit blocks), redacted."""
    host = host or socket.gethostname()
    title = _clip(f"cdpkit: {alert.subject} {_verb(alert.kind)}", MAX_HEADER)
    summary = _clip(redact.redact(alert.summary), MAX_TEXT)
    facts = [
        {"type": "mrkdwn", "text": f"*{_esc(k)}*\n{_esc(redact.redact(v))}"}
        for k, v in alert.facts[:10]
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": redact.redact(title)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _esc(summary)}},
    ]
    if facts:
        blocks.append({"type": "section", "fields": facts})
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": _esc(f"Inspect: {alert.command}  ·  project {project} on {host}"),
                }
            ],
        }
    )
    text = redact.redact(f"{title}: {summary} (inspect: {alert.command})")
    return {"text": _esc(_clip(text, MAX_TEXT)), "blocks": blocks}


@dataclass
class AlertSender:
    """Posts alerts; a failing webhook is reported through `on_error`, never raised."""

    settings: AlertSettings
    project: str
    on_error: Callable[[str], None] = lambda message: None
    on_sent: Callable[[Alert], None] = lambda alert: None
    repeat_after_s: float = 3600.0  # the same scheduler error is not re-sent more often
    _recent: dict[str, float] = field(default_factory=dict)

    def send_all(self, alerts: Iterable[Alert]) -> int:
        return sum(1 for a in alerts if self.send(a))

    def send(self, alert: Alert) -> bool:
        if alert.kind not in self.settings.alert_on:
            return False
        if alert.kind == "scheduler":
            last = self._recent.get(alert.summary)
            if last is not None and time.monotonic() - last < self.repeat_after_s:
                return False
            self._recent[alert.summary] = time.monotonic()
        try:
            url = self.settings.webhook_url.reveal()
        except CdpkitError as exc:
            self.on_error(str(exc))
            return False
        body = payload(alert, project=self.project)
        problem, delay = "alert webhook not tried", 0.0
        for attempt in range(ATTEMPTS):
            if attempt:
                time.sleep(delay)
            try:
                response = requests.post(url, json=body, timeout=self.settings.timeout_s)
            except requests.RequestException as exc:
                problem = f"alert webhook unreachable: {type(exc).__name__}"
                delay = 0.5 * (attempt + 1)
                continue
            if response.status_code < 300:
                self.on_sent(alert)
                return True
            problem = f"alert webhook answered HTTP {response.status_code}"
            if response.status_code not in RETRY_STATUSES:
                break
            wait = response.headers.get("Retry-After", "")
            delay = min(float(wait), 10.0) if wait.isdigit() else 0.5 * (attempt + 1)
        self.on_error(redact.redact(problem))
        return False


def _verb(kind: Kind) -> str:
    return {
        "failed": "failed",
        "blocked": "was blocked",
        "deferred": "was deferred",
        "rejections": "rejected records",
        "scheduler": "needs attention",
    }[kind]


def _esc(text: str) -> str:
    """Slack mrkdwn needs &, < and > escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
