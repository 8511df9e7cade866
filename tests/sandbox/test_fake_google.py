"""The Google fake enforces api-contracts §4 (Data Manager + Ads job flow) over real HTTP."""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Iterator

import pytest
import requests

from cdpkit.sandbox.fakes_google import Customer, GoogleFake
from cdpkit.sandbox.server import Sandbox

http = functools.partial(requests.request, timeout=30)
TOKEN = "sandbox-google-token"
CID = "1234567890"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ADS = {**AUTH, "developer-token": "sandbox-dev-token"}


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[tuple[GoogleFake, Sandbox]]:
    fake = GoogleFake(
        customers=[Customer(CID), Customer("5550001111", manager="9999999999")],
        per_minute=20,
        minute_s=1.0,
        job_run_delay_s=0.05,
    )
    with Sandbox(port=0, fakes=[fake]) as server:
        yield fake, server


@pytest.fixture
def google(sandbox: tuple[GoogleFake, Sandbox]) -> tuple[GoogleFake, str]:
    fake, server = sandbox
    fake.reset()
    return fake, server.url("google")


def ingest_body(list_id: str, members: list[dict], **extra: object) -> dict:
    destination = {
        "operatingAccount": {"accountType": "GOOGLE_ADS", "accountId": CID},
        "productDestinationId": list_id,
    }
    return {"destinations": [destination], "audienceMembers": members, "encoding": "HEX", **extra}


def email_member(address: str) -> dict:
    return {"userData": {"userIdentifiers": [{"emailAddress": sha(address)}]}}


def test_token_endpoint_issues_access_tokens(google: tuple[GoogleFake, str]) -> None:
    fake, url = google
    grant = {
        "grant_type": "refresh_token",
        "client_id": "sandbox-client-id",
        "client_secret": "sandbox-client-secret",
        "refresh_token": "sandbox-refresh-token",
    }
    token = http("post", f"{url}/token", data=grant).json()["access_token"]
    assert token in fake.tokens
    bad = http("post", f"{url}/token", data={**grant, "refresh_token": "revoked"})
    assert (bad.status_code, bad.json()["error"]) == (400, "invalid_grant")


def test_ingest_and_remove_with_set_semantics(google: tuple[GoogleFake, str]) -> None:
    fake, url = google
    user_list = fake.create_list(CID, "vip")
    consent = {"adUserData": "CONSENT_GRANTED", "adPersonalization": "CONSENT_GRANTED"}
    body = ingest_body(
        user_list.id, [email_member("a@x.co"), email_member("b@x.co")], consent=consent
    )
    for _ in range(2):
        response = http("post", f"{url}/v1/audienceMembers:ingest", json=body, headers=AUTH)
        assert response.status_code == 200 and "requestId" in response.json()
    assert user_list.members.values("emailAddress") == {sha("a@x.co"), sha("b@x.co")}
    removal = ingest_body(user_list.id, [email_member("a@x.co")])
    assert http("post", f"{url}/v1/audienceMembers:remove", json=removal, headers=AUTH).ok
    assert user_list.members.values("emailAddress") == {sha("b@x.co")}


def test_fast_fail_names_every_bad_member(google: tuple[GoogleFake, str]) -> None:
    fake, url = google
    user_list = fake.create_list(CID, "strict")
    members = [
        email_member("ok@x.co"),
        {"userData": {"userIdentifiers": [{"emailAddress": "jane@example.com"}]}},
        {"userData": {"userIdentifiers": [{"phoneNumber": "abcdef"}]}},
        {"userData": {"userIdentifiers": [{"emailAddress": sha("x"), "phoneNumber": sha("y")}]}},
    ]
    response = http(
        "post",
        f"{url}/v1/audienceMembers:ingest",
        json=ingest_body(user_list.id, members),
        headers=AUTH,
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    violations = next(d for d in error["details"] if d["@type"].endswith("BadRequest"))
    fields = {(v["field"], v["reason"]) for v in violations["fieldViolations"]}
    assert fields == {
        ("audience_members[1].user_data.user_identifiers[0].email_address", "INVALID_HEX_ENCODING"),
        ("audience_members[2].user_data.user_identifiers[0].phone_number", "INVALID_SHA256_FORMAT"),
        ("audience_members[3].user_data.user_identifiers[0]", "INVALID_FORMAT"),
    }
    assert len(user_list.members) == 0  # nothing applied


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (
            lambda b: b.update(audienceMembers=[email_member("a")] * 10_001),
            "TOO_MANY_AUDIENCE_MEMBERS",
        ),
        (lambda b: b.pop("encoding"), "REQUIRED_FIELD_MISSING"),
        (lambda b: b.update(consent={"adUserData": "YES"}), "INVALID_ENUM_VALUE"),
        (
            lambda b: b["audienceMembers"].append(
                {"mobileData": {"mobileIds": ["aece52e7-03ee-455a-b3c4-e57283966239"]}}
            ),
            "MULTIPLE_DATA_TYPES_NOT_ALLOWED",
        ),
        (
            lambda b: b.update(
                audienceMembers=[
                    {
                        "userData": {
                            "userIdentifiers": [{"emailAddress": sha(str(i))} for i in range(11)]
                        }
                    }
                ]
            ),
            "TOO_MANY_USER_IDENTIFIERS",
        ),
        (lambda b: b["destinations"][0].update(productDestinationId="42"), "INVALID_USER_LIST_ID"),
        (
            lambda b: b.update(
                audienceMembers=[
                    {"userData": {"userIdentifiers": [{"emailAddress": sha("x")[:60]}]}}
                ]
            ),
            "INVALID_SHA256_FORMAT",
        ),
    ],
)
def test_request_rules(google: tuple[GoogleFake, str], mutate: object, reason: str) -> None:
    fake, url = google
    user_list = fake.create_list(CID, f"rules-{reason}")
    body = ingest_body(user_list.id, [email_member("a@x.co")])
    mutate(body)  # type: ignore[operator]
    response = http("post", f"{url}/v1/audienceMembers:ingest", json=body, headers=AUTH)
    assert response.status_code == 400
    reasons = {
        v["reason"]
        for d in response.json()["error"]["details"]
        for v in d.get("fieldViolations", [])
    }
    assert reason in reasons


def test_auth_and_manager_access(google: tuple[GoogleFake, str]) -> None:
    fake, url = google
    user_list = fake.create_list("5550001111", "client")
    body = ingest_body(user_list.id, [email_member("a@x.co")])
    body["destinations"][0]["operatingAccount"]["accountId"] = "555-000-1111"
    unauth = http("post", f"{url}/v1/audienceMembers:ingest", json=body)
    assert (unauth.status_code, unauth.json()["error"]["status"]) == (401, "UNAUTHENTICATED")
    denied = http("post", f"{url}/v1/audienceMembers:ingest", json=body, headers=AUTH)
    assert denied.status_code == 403
    body["destinations"][0]["loginAccount"] = {
        "accountType": "GOOGLE_ADS",
        "accountId": "9999999999",
    }
    assert http("post", f"{url}/v1/audienceMembers:ingest", json=body, headers=AUTH).ok


def test_per_minute_quota_answers_429_with_retry_delay(google: tuple[GoogleFake, str]) -> None:
    fake, url = google
    user_list = fake.create_list(CID, "quota")
    body = ingest_body(user_list.id, [email_member("a@x.co")])
    responses = [
        http("post", f"{url}/v1/audienceMembers:ingest", json=body, headers=AUTH) for _ in range(21)
    ]
    last = responses[-1]
    assert [r.status_code for r in responses[:20]] == [200] * 20 and last.status_code == 429
    error = last.json()["error"]
    assert error["status"] == "RESOURCE_EXHAUSTED"
    info = next(d for d in error["details"] if d["@type"].endswith("ErrorInfo"))
    assert info["metadata"]["quota_limit"] == "IngestionRequestsPerMinutePerProject"
    retry = next(d for d in error["details"] if d["@type"].endswith("RetryInfo"))
    assert retry["retryDelay"] == "1s"


# --- Google Ads API job flow -------------------------------------------------------------


def ads(url: str, path: str, body: dict, headers: dict | None = None) -> requests.Response:
    return http("post", f"{url}/v23/customers/{CID}/{path}", json=body, headers=headers or ADS)


def create_job(url: str, list_resource: str) -> str:
    job = {
        "type": "CUSTOMER_MATCH_USER_LIST",
        "customerMatchUserListMetadata": {
            "userList": list_resource,
            "consent": {"adUserData": "GRANTED", "adPersonalization": "GRANTED"},
        },
    }
    response = ads(url, "offlineUserDataJobs:create", {"job": job})
    assert response.status_code == 200, response.text
    return response.json()["resourceName"]


def job_status(url: str, resource: str) -> str:
    query = (
        "SELECT offline_user_data_job.status FROM offline_user_data_job "
        f"WHERE offline_user_data_job.resource_name = '{resource}' LIMIT 1"
    )
    rows = ads(url, "googleAds:search", {"query": query}).json()["results"]
    return rows[0]["offlineUserDataJob"]["status"]


def test_job_flow_with_partial_failure(google: tuple[GoogleFake, str]) -> None:
    fake, url = google
    created = ads(
        url,
        "userLists:mutate",
        {
            "operations": [
                {"create": {"name": "jobs", "crmBasedUserList": {"uploadKeyType": "CONTACT_INFO"}}}
            ]
        },
    ).json()["results"][0]["resourceName"]
    found = ads(
        url,
        "googleAds:search",
        {"query": "SELECT user_list.resource_name FROM user_list WHERE user_list.name = 'jobs'"},
    ).json()["results"]
    assert found[0]["userList"]["resourceName"] == created
    job = create_job(url, created)
    job_path = job.split(f"customers/{CID}/")[1]
    operations = [
        {
            "create": {
                "userIdentifiers": [
                    {"hashedEmail": sha("a@x.co")},
                    {"hashedPhoneNumber": sha("+1")},
                ]
            }
        },
        {"create": {"userIdentifiers": [{"hashedEmail": "NOT-A-HASH"}]}},
        {"create": {"userIdentifiers": [{"hashedEmail": sha(str(i))} for i in range(21)]}},
        {"create": {"userIdentifiers": [{"hashedEmail": sha("b@x.co")}]}},
    ]
    strict = ads(url, f"{job_path}:addOperations", {"operations": operations})
    assert strict.status_code == 400
    partial = ads(
        url, f"{job_path}:addOperations", {"operations": operations, "enablePartialFailure": True}
    ).json()["partialFailureError"]
    errors = partial["details"][0]["errors"]
    assert [e["location"]["fieldPathElements"][0]["index"] for e in errors] == [1, 2]
    assert errors[0]["errorCode"] == {"offlineUserDataJobError": "INVALID_SHA256_FORMAT"}
    assert errors[1]["errorCode"] == {"userDataError": "TOO_MANY_USER_IDENTIFIERS"}
    assert job_status(url, job) == "PENDING"
    assert ads(url, f"{job_path}:run", {}).status_code == 200
    assert job_status(url, job) == "RUNNING"
    again = ads(url, f"{job_path}:addOperations", {"operations": operations[:1]})
    assert again.status_code == 400  # no operations after run
    time.sleep(0.1)
    assert job_status(url, job) == "SUCCESS"
    user_list = fake.list_named("jobs")
    assert user_list is not None
    assert user_list.members.values("emailAddress") == {sha("a@x.co"), sha("b@x.co")}


def test_concurrent_jobs_on_one_list_are_counted(google: tuple[GoogleFake, str]) -> None:
    fake, url = google
    fake.jobs.run_delay_s = 5.0
    user_list = fake.create_list(CID, "busy")
    first, second = (
        create_job(url, user_list.resource_name),
        create_job(url, user_list.resource_name),
    )
    for job in (first, second):
        path = job.split(f"customers/{CID}/")[1]
        ads(
            url,
            f"{path}:addOperations",
            {"operations": [{"create": {"userIdentifiers": [{"hashedEmail": sha("a")}]}}]},
        )
        ads(url, f"{path}:run", {})
    assert fake.jobs.concurrent_runs == 1


def test_ads_headers_allowlist_and_consent(google: tuple[GoogleFake, str]) -> None:
    fake, url = google
    user_list = fake.create_list(CID, "hdr")
    missing = ads(url, "googleAds:search", {"query": "SELECT user_list.id FROM user_list"}, AUTH)
    assert missing.status_code == 401
    assert missing.json()["error"]["details"][0]["errors"][0]["errorCode"] == {
        "authenticationError": "DEVELOPER_TOKEN_PARAMETER_MISSING"
    }
    job = {
        "type": "CUSTOMER_MATCH_USER_LIST",
        "customerMatchUserListMetadata": {
            "userList": user_list.resource_name,
            "consent": {"adUserData": "DENIED"},
        },
    }
    denied = ads(url, "offlineUserDataJobs:create", {"job": job})
    assert "CUSTOMER_NOT_ACCEPTED_CUSTOMER_DATA_TERMS" in denied.text
    fake.customers[CID].allowlisted = False
    job["customerMatchUserListMetadata"]["consent"] = {"adUserData": "GRANTED"}
    blocked = ads(url, "offlineUserDataJobs:create", {"job": job})
    assert (
        blocked.status_code == 403 and "CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE" in blocked.text
    )
