"""The sandbox webhook fake enforces its contract over real HTTP (api-contracts.md §8)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from cdpkit.destinations.webhook import sign
from cdpkit.sandbox.server import Sandbox

SECRET = "fake-test-secret"


@pytest.fixture(scope="module")
def server() -> Iterator[Sandbox]:
    with Sandbox(port=0) as sandbox:
        yield sandbox


@pytest.fixture
def hook(server: Sandbox) -> str:
    requests.post(f"{server.base_url}/_sandbox/reset", timeout=10).raise_for_status()
    control(server, secret=SECRET)
    return f"{server.url('webhook')}/t"


def control(server: Sandbox, **settings: Any) -> None:
    requests.post(
        f"{server.control_url('webhook')}/faults", json=settings, timeout=10
    ).raise_for_status()


def body(records: list[dict[str, Any]], operation: str = "upsert") -> bytes:
    return json.dumps({"api_version": 1, "operation": operation, "records": records}).encode()


def post(
    url: str, data: bytes, *, key: str | None = "k1", secret: str = SECRET, **headers: str
) -> requests.Response:
    sent = {
        "Content-Type": "application/json",
        **sign(data, secret, "sha256-hex", key or ""),
        **headers,
    }
    if key:
        sent["X-Idempotency-Key"] = key
    return requests.post(url, data=data, headers=sent, timeout=10)


def records(server: Sandbox) -> dict[str, Any]:
    return requests.get(
        f"{server.control_url('webhook')}/records", params={"hook": "t"}, timeout=10
    ).json()


def stats(server: Sandbox) -> dict[str, int]:
    return (
        requests.get(f"{server.control_url('webhook')}/stats", timeout=10)
        .json()["hooks"]
        .get("t", {})
    )


def test_signed_batches_are_applied(server: Sandbox, hook: str) -> None:
    r = post(hook, body([{"key": "a", "fields": {"x": 1}}, {"key": "b"}]))
    assert r.status_code == 200 and r.json()["accepted"] == 2
    assert records(server) == {"a": {"x": 1}, "b": {}}
    post(hook, body([{"key": "a"}], "remove"), key="k2")
    assert records(server) == {"b": {}}


def test_bad_or_missing_signature_is_401(server: Sandbox, hook: str) -> None:
    data = body([{"key": "a"}])
    assert post(hook, data, secret="wrong").status_code == 401
    assert (
        requests.post(hook, data=data, headers={"X-Idempotency-Key": "k"}, timeout=10).status_code
        == 401
    )
    tampered = requests.post(
        hook,
        data=data + b" ",
        headers={"X-Idempotency-Key": "k", **sign(data, SECRET, "sha256-hex", "")},
        timeout=10,
    )
    assert tampered.status_code == 401
    assert records(server) == {}


def test_limits_and_shape_are_enforced(server: Sandbox, hook: str) -> None:
    control(server, max_batch_size=2, max_body_bytes=2000)
    assert post(hook, body([{"key": str(i)} for i in range(3)])).status_code == 413
    assert post(hook, body([{"key": "x", "fields": {"pad": "y" * 3000}}])).status_code == 413
    assert (
        post(
            hook, b'{"api_version": 1, "operation": "upsert", "records": [{"nokey": 1}]}'
        ).status_code
        == 400
    )
    assert post(hook, b"not json").status_code == 400
    assert post(hook, body([{"key": "a"}]), key=None).status_code == 400
    assert records(server) == {}


def test_a_repeated_idempotency_key_is_not_applied_twice(server: Sandbox, hook: str) -> None:
    first = post(hook, body([{"key": "a", "fields": {"v": 1}}]), key="same")
    again = post(hook, body([{"key": "a", "fields": {"v": 2}}]), key="same")
    assert first.json() == again.json()
    assert records(server) == {"a": {"v": 1}}
    s = stats(server)
    assert s["duplicate_batches"] == 1 and s["records_received"] == 2 and s["batches"] == 1


def test_poisoned_records_per_record_or_whole_batch(server: Sandbox, hook: str) -> None:
    control(server, reject={"bad": "invalid email"})
    r = post(hook, body([{"key": "ok"}, {"key": "bad"}]), key="k1")
    assert r.status_code == 200 and r.json()["rejected"] == [
        {"key": "bad", "reason": "invalid email"}
    ]
    assert records(server) == {"ok": {}}
    control(server, reject_mode="batch")
    r = post(hook, body([{"key": "ok2"}, {"key": "bad"}]), key="k2")
    assert r.status_code == 400 and "invalid email" in r.text
    assert "ok2" not in records(server)


def test_scripted_faults_and_rate_limit(server: Sandbox, hook: str) -> None:
    control(server, script=[{"status": 429, "retry_after": 2}, {"status": 503, "times": 2}])
    assert post(hook, body([]), key="a").headers["Retry-After"] == "2"
    assert [post(hook, body([]), key=k).status_code for k in "bcd"] == [503, 503, 200]
    control(server, script=[{"delay_s": 0.4}])
    started = time.monotonic()
    assert post(hook, body([]), key="e").status_code == 200
    assert time.monotonic() - started >= 0.4
    control(server, rate_limit={"per_second": 5, "burst": 2})
    codes = [post(hook, body([]), key=f"r{i}").status_code for i in range(4)]
    assert codes[:2] == [200, 200] and 429 in codes[2:]
    control(server, rate_limit=None, fail_auth=True)
    assert post(hook, body([]), key="z").status_code == 401


def test_index_and_unknown_paths(server: Sandbox) -> None:
    assert requests.get(server.base_url, timeout=10).json()["fakes"]["webhook"] == "/webhook"
    assert requests.get(f"{server.base_url}/nope", timeout=10).status_code == 404
    assert requests.get(f"{server.url('webhook')}/t", timeout=10).status_code == 405
