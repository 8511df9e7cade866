"""The Braze fake enforces api-contracts §6.4 over real HTTP."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator

import pytest
import requests

from cdpkit.sandbox.fakes_braze import FATAL_EMPTY, MISSING_ID, BrazeFake
from cdpkit.sandbox.server import Sandbox

http = functools.partial(requests.request, timeout=30)
AUTH = {"Authorization": "Bearer sandbox-braze-key"}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[tuple[BrazeFake, Sandbox]]:
    fake = BrazeFake()
    with Sandbox(port=0, fakes=[fake]) as server:
        yield fake, server


@pytest.fixture
def braze(sandbox: tuple[BrazeFake, Sandbox]) -> tuple[BrazeFake, str]:
    fake, server = sandbox
    fake.reset()
    return fake, f"{server.url('braze')}/users/track"


def test_partial_errors_by_index_and_attribute_semantics(braze: tuple[BrazeFake, str]) -> None:
    fake, url = braze
    attributes = [
        {"external_id": "u1", "email": "a@x.co", "vip": True, "tags": {"add": ["a", "b"]}},
        {"first_name": "nobody"},
        {"external_id": "u3", "email": "not-an-email"},
        {"email": "solo@x.co", "phone": "+14155552671"},
    ]
    response = http("post", url, json={"attributes": attributes}, headers=AUTH)
    assert response.status_code == 201
    body = response.json()
    assert body["message"] == "success" and body["attributes_processed"] == 2
    assert [(e["index"], e["type"]) for e in body["errors"]] == [
        (1, MISSING_ID),
        (2, "The value provided for the 'email' field is not a valid email."),
    ]
    http(
        "post",
        url,
        json={"attributes": [{"external_id": "u1", "tags": {"remove": ["a"]}}]},
        headers=AUTH,
    )
    user = fake.user("external_id", "u1")
    assert user is not None and user["tags"] == ["b"] and user["vip"] is True
    assert fake.user("email", "solo@x.co") is not None
    assert set(response.headers) >= {
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
    }


def test_limits_and_fatal_errors(braze: tuple[BrazeFake, str]) -> None:
    fake, url = braze
    over = http(
        "post", url, json={"attributes": [{"external_id": str(i)} for i in range(76)]}, headers=AUTH
    )
    assert over.status_code == 400 and "Max Input Length Exceeded" in over.json()["message"]
    fake.limit_mode = "mau"
    mau = http(
        "post", url, json={"attributes": [{"external_id": str(i)} for i in range(51)]}, headers=AUTH
    )
    assert mau.status_code == 400
    all_bad = http("post", url, json={"attributes": [{"x": 1}]}, headers=AUTH)
    assert all_bad.status_code == 400 and all_bad.json()["message"] == FATAL_EMPTY
    assert fake.users == {}


def test_auth_permissions_and_update_existing_only(braze: tuple[BrazeFake, str]) -> None:
    fake, url = braze
    assert (
        http(
            "post", url, json={"attributes": []}, headers={"Authorization": "Bearer nope"}
        ).status_code
        == 401
    )
    fake.permissions["limited"] = {"users.delete"}
    limited = http(
        "post",
        url,
        json={"attributes": [{"external_id": "u"}]},
        headers={"Authorization": "Bearer limited"},
    )
    assert limited.status_code == 403
    http(
        "post",
        url,
        json={"attributes": [{"external_id": "ghost", "_update_existing_only": True}]},
        headers=AUTH,
    )
    assert fake.users == {}


def test_rate_limit_window_answers_429_with_reset(braze: tuple[BrazeFake, str]) -> None:
    fake, url = braze
    control = url.replace("/braze/users/track", "/_sandbox/braze/faults")
    assert http("post", control, json={"requests_per_window": 2, "window_s": 1.0}).ok
    codes = [
        http("post", url, json={"attributes": [{"external_id": "u"}]}, headers=AUTH)
        for _ in range(3)
    ]
    assert [c.status_code for c in codes] == [201, 201, 429]
    reset = int(codes[2].headers["X-RateLimit-Reset"])
    assert time.time() - 1 <= reset <= time.time() + 2
    assert "Retry-After" not in codes[2].headers
