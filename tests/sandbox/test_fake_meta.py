"""The Meta fake enforces api-contracts §3.5 over real HTTP."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterator

import pytest
import requests

from cdpkit.sandbox.fakes_meta import MetaFake
from cdpkit.sandbox.server import Sandbox

http = functools.partial(requests.request, timeout=30)
TOKEN = "sandbox-meta-token"
ACCOUNT = "act_1000000001"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[tuple[MetaFake, Sandbox]]:
    fake = MetaFake(calls_per_window=50, window_s=1.0)
    with Sandbox(port=0, fakes=[fake]) as server:
        yield fake, server


@pytest.fixture
def meta(sandbox: tuple[MetaFake, Sandbox]) -> tuple[MetaFake, str]:
    fake, server = sandbox
    fake.reset()
    return fake, f"{server.url('meta')}/v25.0"


def graph_error(response: requests.Response) -> dict:
    assert response.status_code == 400
    return response.json()["error"]


def test_create_list_and_add_users_as_form_fields(meta: tuple[MetaFake, str]) -> None:
    fake, base = meta
    created = http(
        "post",
        f"{base}/{ACCOUNT}/customaudiences",
        data={"name": "vip", "subtype": "CUSTOM", "customer_file_source": "USER_PROVIDED_ONLY"},
        params={"access_token": TOKEN},
    )
    audience_id = created.json()["id"]
    listed = http("get", f"{base}/{ACCOUNT}/customaudiences", params={"access_token": TOKEN})
    assert {"id": audience_id, "name": "vip"} in listed.json()["data"]
    payload = {"schema": ["EMAIL", "PHONE"], "data": [[sha("a@b.co"), ""], ["", sha("1202")]]}
    added = http(
        "post",
        f"{base}/{audience_id}/users",
        data={"payload": json.dumps(payload), "session": json.dumps({"session_id": 9})},
        params={"access_token": TOKEN},
    )
    assert added.json() == {
        "audience_id": audience_id,
        "session_id": "9",
        "num_received": 2,
        "num_invalid_entries": 0,
        "invalid_entry_samples": {},
    }
    assert len(fake.audiences[audience_id].members) == 2


def test_set_semantics_and_removal_by_any_key(meta: tuple[MetaFake, str]) -> None:
    fake, base = meta
    audience = fake.create_audience(ACCOUNT, "set")
    url = f"{base}/{audience.id}/users"
    body = {
        "access_token": TOKEN,
        "payload": {"schema": ["EMAIL", "PHONE"], "data": [[sha("a@b.co"), sha("1")]]},
    }
    for _ in range(3):
        assert http("post", url, json=body).status_code == 200
    assert len(audience.members) == 1
    removal = {"access_token": TOKEN, "payload": {"schema": "PHONE_SHA256", "data": [sha("1")]}}
    assert http("delete", url, json=removal).status_code == 200
    assert len(audience.members) == 0


def test_auth_errors_use_code_190(meta: tuple[MetaFake, str]) -> None:
    fake, base = meta
    fake.expired_tokens.add("old")
    expired = graph_error(http("get", f"{base}/{ACCOUNT}", params={"access_token": "old"}))
    assert (expired["code"], expired["error_subcode"], expired["type"]) == (
        190,
        463,
        "OAuthException",
    )
    unknown = graph_error(http("get", f"{base}/{ACCOUNT}", params={"access_token": "nope"}))
    assert unknown["code"] == 190
    bearer = http("get", f"{base}/{ACCOUNT}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert bearer.status_code == 200


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"schema": ["EMAIL", "PHONE"], "data": [["x"]]}, "does not match schema"),
        ({"schema": ["EMAIL", "NOPE"], "data": [["x", "y"]]}, "Invalid schema"),
        ({"schema": ["EMAIL"], "data": [[sha("x")]] * 10_001}, "at most 10000 rows"),
    ],
)
def test_payload_shape_errors(meta: tuple[MetaFake, str], payload: dict, message: str) -> None:
    fake, base = meta
    audience = fake.create_audience(ACCOUNT, "shape")
    response = http(
        "post", f"{base}/{audience.id}/users", json={"access_token": TOKEN, "payload": payload}
    )
    error = graph_error(response)
    assert error["code"] == 100 and message in error["message"]
    assert len(audience.members) == 0


def test_unhashed_values_are_counted_invalid_with_samples(meta: tuple[MetaFake, str]) -> None:
    fake, base = meta
    audience = fake.create_audience(ACCOUNT, "hashes")
    payload = {
        "schema": ["EMAIL", "EXTERN_ID"],
        "data": [["jane@example.com", "c1"], [sha("ok@x.co"), "c2"], [sha("A").upper(), ""]],
    }
    result = http(
        "post", f"{base}/{audience.id}/users", json={"access_token": TOKEN, "payload": payload}
    ).json()
    assert result["num_received"] == 3 and result["num_invalid_entries"] == 2
    assert (
        result["invalid_entry_samples"]["jane@example.com"] == "EMAIL is not a valid SHA-256 hash"
    )
    assert audience.members.values("EXTERN_ID") == {"c2"}


def test_usersreplace_swaps_on_last_batch_only(meta: tuple[MetaFake, str]) -> None:
    fake, base = meta
    audience = fake.create_audience(ACCOUNT, "replace")
    audience.members.add({("EMAIL", sha("old@x.co"))})
    url = f"{base}/{audience.id}/usersreplace"

    def send(seq: int, emails: list[str], last: bool) -> requests.Response:
        return http(
            "post",
            url,
            json={
                "access_token": TOKEN,
                "payload": {"schema": ["EMAIL"], "data": [[sha(e)] for e in emails]},
                "session": {"session_id": 77, "batch_seq": seq, "last_batch_flag": last},
            },
        )

    assert send(1, ["new1@x.co"], False).status_code == 200
    assert audience.members.values("EMAIL") == {sha("old@x.co")}  # not swapped yet
    busy = graph_error(
        http(
            "post",
            f"{base}/{audience.id}/users",
            json={"access_token": TOKEN, "payload": {"schema": ["EMAIL"], "data": [[sha("z")]]}},
        )
    )
    assert busy["code"] == 2650
    assert "batch_seq must increase" in graph_error(send(1, ["x@x.co"], False))["message"]
    assert send(2, ["new2@x.co"], False).status_code == 200
    assert send(3, [], True).status_code == 200
    assert audience.members.values("EMAIL") == {sha("new1@x.co"), sha("new2@x.co")}
    no_session = http(
        "post",
        url,
        json={"access_token": TOKEN, "payload": {"schema": ["EMAIL"], "data": [[sha("a")]]}},
    )
    assert "session is required" in graph_error(no_session)["message"]


def test_deleted_and_flagged_audiences(meta: tuple[MetaFake, str]) -> None:
    fake, base = meta
    deleted, flagged = fake.create_audience(ACCOUNT, "d"), fake.create_audience(ACCOUNT, "f")
    deleted.deleted, flagged.flagged = True, True
    body = {"access_token": TOKEN, "payload": {"schema": ["EMAIL"], "data": [[sha("a")]]}}
    gone = graph_error(http("post", f"{base}/{deleted.id}/users", json=body))
    assert (gone["code"], gone["error_subcode"]) == (2650, 1487366)
    blocked = graph_error(http("post", f"{base}/{flagged.id}/users", json=body))
    assert (blocked["code"], blocked["error_subcode"]) == (100, 1713230)
    missing = graph_error(http("post", f"{base}/999/users", json=body))
    assert (missing["code"], missing["error_subcode"]) == (100, 33)


def test_ad_account_budget_answers_80003_with_usage_header(meta: tuple[MetaFake, str]) -> None:
    fake, base = meta
    audience = fake.create_audience(ACCOUNT, "budget")
    body = {"access_token": TOKEN, "payload": {"schema": ["EMAIL"], "data": [[sha("a")]]}}
    statuses = [http("post", f"{base}/{audience.id}/users", json=body) for _ in range(52)]
    throttled = [r for r in statuses if r.status_code != 200]
    assert len(throttled) == 2
    error = throttled[0].json()["error"]
    assert error["code"] == 80003 and error["is_transient"] is True
    usage = json.loads(throttled[0].headers["X-Business-Use-Case-Usage"])
    assert usage["2000000001"][0]["call_count"] == 100
    assert "estimated_time_to_regain_access" in usage["2000000001"][0]
