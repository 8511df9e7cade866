"""The webhook connector: the shared contract against the sandbox fake, plus its own rules."""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest
import requests

from cdpkit.destinations.base import Batch, Record
from cdpkit.destinations.errors import TerminalError
from cdpkit.destinations.webhook import WebhookConfig, WebhookDestination, sign
from cdpkit.sandbox.server import Sandbox

from .contract import ContractHarness, DestinationContract

SECRET = "contract-secret-4f1a9c"


class WebhookControl:
    """FakeControl for the sandbox's webhook fake."""

    def __init__(self, sandbox: Sandbox, hook: str = "contract") -> None:
        self.base = sandbox.control_url("webhook")
        self.hook = hook

    def _faults(self, settings: dict[str, Any]) -> None:
        requests.post(f"{self.base}/faults", json=settings, timeout=10).raise_for_status()

    def reset(self) -> None:
        requests.post(f"{self.base}/reset", timeout=10).raise_for_status()

    def throttle_next(self, n: int, retry_after_s: float) -> None:
        self._faults({"script": [{"status": 429, "retry_after": retry_after_s, "times": n}]})

    def fail_next(self, n: int) -> None:
        self._faults({"script": [{"status": 503, "times": n}]})

    def fail_auth(self) -> None:
        self._faults({"fail_auth": True})

    def reject(self, key: str, reason: str) -> None:
        current = self.settings().get("reject", {})
        self._faults({"reject": {**current, key: reason}})

    def settings(self) -> dict[str, Any]:
        return {}

    def members(self) -> dict[str, dict[str, Any]]:
        return requests.get(f"{self.base}/records", params={"hook": self.hook}, timeout=10).json()

    def writes(self) -> int:
        stats = requests.get(f"{self.base}/stats", timeout=10).json()
        return int(stats["hooks"].get(self.hook, {}).get("records_received", 0))

    def batches(self) -> list[dict[str, Any]]:
        return requests.get(f"{self.base}/batches", params={"hook": self.hook}, timeout=10).json()


def webhook_config(sandbox: Sandbox, **extra: Any) -> WebhookConfig:
    data: dict[str, Any] = {
        "type": "webhook",
        "base_url": sandbox.url("webhook"),
        "path": "/contract",
        "signing_secret": "${CONTRACT_HOOK_SECRET}",
        "timeout_s": 5,
        "syncs": [
            {
                "audience": "vip",
                "mode": "mirror",
                "identifier": "email",
                "mapping": ["email", "first_name"],
            }
        ],
    }
    data.update(extra)
    return WebhookConfig.model_validate(data)


@pytest.fixture
def webhook(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> WebhookControl:
    monkeypatch.setenv("CONTRACT_HOOK_SECRET", SECRET)
    control = WebhookControl(sandbox)
    control._faults({"secret": SECRET})
    return control


class TestWebhookContract(DestinationContract):
    @pytest.fixture
    def harness(self, sandbox: Sandbox, webhook: WebhookControl) -> ContractHarness:
        return ContractHarness(
            connector=WebhookDestination,
            config=lambda **extra: webhook_config(sandbox, **extra),
            control=webhook,
        )


@pytest.mark.parametrize("scheme", ["sha256-hex", "sha1-hex", "standard-webhooks"])
def test_every_signature_scheme_is_verified_by_the_receiver(
    sandbox: Sandbox, webhook: WebhookControl, scheme: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = (
        "whsec_" + base64.b64encode(b"k" * 24).decode() if scheme == "standard-webhooks" else SECRET
    )
    monkeypatch.setenv("CONTRACT_HOOK_SECRET", secret)
    webhook._faults({"secret": secret, "scheme": scheme})
    harness = ContractHarness(
        WebhookDestination, lambda **e: webhook_config(sandbox, signature=scheme, **e), webhook
    )
    out = harness.send(harness.prepared(), harness.records(3, 0))
    assert out.error is None and len(out.confirmed) == 3


def test_a_wrong_secret_is_refused_and_terminal(
    sandbox: Sandbox, webhook: WebhookControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONTRACT_HOOK_SECRET", "not-the-right-secret")
    harness = ContractHarness(WebhookDestination, lambda **e: webhook_config(sandbox, **e), webhook)
    with pytest.raises(TerminalError) as caught:
        harness.open().check()
    assert "HTTP 401" in str(caught.value) and "credentials" in str(caught.value)
    assert "not-the-right-secret" not in str(caught.value)


def test_idempotency_key_is_stable_across_retries_and_exposes_double_delivery(
    sandbox: Sandbox, webhook: WebhookControl
) -> None:
    harness = ContractHarness(WebhookDestination, lambda **e: webhook_config(sandbox, **e), webhook)
    destination = harness.prepared(timeout_s=0.5)
    records = harness.records(5, 0)
    batch = Batch("contract.vip", "upsert", tuple(records))
    assert batch.idempotency_key == Batch("contract.vip", "upsert", tuple(records)).idempotency_key
    changed = (Record(records[0].key, "update", {"email": "x"}), *records[1:])
    assert Batch("contract.vip", "upsert", changed).idempotency_key != batch.idempotency_key
    # the receiver processes the request but answers after the client's timeout: a retry follows
    webhook._faults({"script": [{"delay_s": 1.5}]})
    out = harness.send(destination, records)
    assert out.error is None and out.retries >= 1
    deadline = time.monotonic() + 5
    while len(webhook.batches()) < 2 and time.monotonic() < deadline:  # the slow original lands
        time.sleep(0.05)
    log = webhook.batches()
    assert [b["duplicate"] for b in log] == [False, True]
    assert log[0]["idempotency_key"] == log[1]["idempotency_key"] == batch.idempotency_key
    assert len(webhook.members()) == 5


def test_headers_carry_secrets_resolved_from_the_environment(
    sandbox: Sandbox, webhook: WebhookControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_BEARER", "bearer-value-123456")
    seen: dict[str, str] = {}
    harness = ContractHarness(
        WebhookDestination,
        lambda **e: webhook_config(
            sandbox, headers={"Authorization": "Bearer ${HOOK_BEARER}"}, **e
        ),
        webhook,
    )
    destination = harness.prepared()
    original = destination.http.request

    def spy(method: str, path: str, **kwargs: Any) -> Any:
        seen.update(kwargs.get("headers") or {})
        return original(method, path, **kwargs)

    destination.http.request = spy  # type: ignore[method-assign]
    harness.send(destination, harness.records(1, 0))
    assert seen["Authorization"] == "Bearer bearer-value-123456"
    assert "bearer-value-123456" not in repr(destination.config)
    from cdpkit.sync.redact import redact

    assert redact("token Bearer bearer-value-123456 leaked") == "token *** leaked"
    assert redact("value=bearer-value-123456") == "value=***"


def test_the_signature_covers_the_exact_body() -> None:
    body = b'{"a":1}'
    one = sign(body, "s3cret", "sha256-hex", "id")["X-Signature"]
    assert one == sign(body, "s3cret", "sha256-hex", "other")["X-Signature"]
    assert one != sign(b'{"a": 1}', "s3cret", "sha256-hex", "id")["X-Signature"]


def test_literal_secrets_are_refused_in_config() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as caught:
        WebhookConfig.model_validate(
            {
                "type": "webhook",
                "base_url": "http://x",
                "signing_secret": "hunter2-literal",
                "syncs": [{"audience": "a", "identifier": "email"}],
            }
        )
    assert "environment variable reference" in str(caught.value)
