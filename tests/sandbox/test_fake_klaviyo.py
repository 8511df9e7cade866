"""The Klaviyo fake enforces api-contracts §5.4 over real HTTP."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator

import pytest
import requests

from cdpkit.sandbox.fakes_klaviyo import KlaviyoFake
from cdpkit.sandbox.server import Sandbox

http = functools.partial(requests.request, timeout=30)
HEADERS = {"Authorization": "Klaviyo-API-Key pk_sandbox_klaviyo", "revision": "2025-01-15"}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[tuple[KlaviyoFake, Sandbox]]:
    fake = KlaviyoFake(tiers={"M": (1000, 10_000), "L": (1000, 10_000)})
    with Sandbox(port=0, fakes=[fake]) as server:
        yield fake, server


@pytest.fixture
def klaviyo(sandbox: tuple[KlaviyoFake, Sandbox]) -> tuple[KlaviyoFake, str]:
    fake, server = sandbox
    fake.reset()
    return fake, server.url("klaviyo")


def job_body(profiles: list[dict], list_id: str) -> dict:
    return {
        "data": {
            "type": "profile-bulk-import-job",
            "attributes": {
                "profiles": {"data": [{"type": "profile", "attributes": p} for p in profiles]}
            },
            "relationships": {"lists": {"data": [{"type": "list", "id": list_id}]}},
        }
    }


def finished(url: str, job_id: str) -> dict:
    for _ in range(50):
        job = http("get", f"{url}/api/profile-bulk-import-jobs/{job_id}", headers=HEADERS).json()
        if job["data"]["attributes"]["status"] == "complete":
            return job
        time.sleep(0.02)
    raise AssertionError("job never completed")


def test_auth_and_revision_header(klaviyo: tuple[KlaviyoFake, str]) -> None:
    _, url = klaviyo
    no_key = http("get", f"{url}/api/lists", headers={"revision": "2025-01-15"})
    assert no_key.status_code == 401 and no_key.json()["errors"][0]["code"] == "not_authenticated"
    no_revision = http(
        "get", f"{url}/api/lists", headers={"Authorization": HEADERS["Authorization"]}
    )
    assert (
        no_revision.status_code == 400 and "revision" in no_revision.json()["errors"][0]["detail"]
    )


def test_import_job_upserts_profiles_and_reports_async_errors(
    klaviyo: tuple[KlaviyoFake, str],
) -> None:
    fake, url = klaviyo
    list_id = fake.create_list("vip")
    profiles = [
        {"email": "a@x.co", "first_name": "A"},
        {"email": "bad"},
        {"phone_number": "+14155552671"},
    ]
    created = http(
        "post",
        f"{url}/api/profile-bulk-import-jobs",
        json=job_body(profiles, list_id),
        headers=HEADERS,
    )
    assert created.status_code == 202
    job = created.json()["data"]
    assert job["attributes"]["status"] == "queued"
    done = finished(url, job["id"])["data"]["attributes"]
    assert (done["total_count"], done["completed_count"], done["failed_count"]) == (3, 2, 1)
    errors = http(
        "get", f"{url}/api/profile-bulk-import-jobs/{job['id']}/import-errors", headers=HEADERS
    ).json()
    assert (
        errors["data"][0]["attributes"]["source"]["pointer"]
        == "/data/attributes/profiles/data/1/attributes/email"
    )
    again = http(
        "post",
        f"{url}/api/profile-bulk-import-jobs",
        json=job_body([{"email": "a@x.co", "last_name": "Z"}], list_id),
        headers=HEADERS,
    )
    finished(url, again.json()["data"]["id"])
    assert len(fake.profiles) == 2  # upserted by email
    assert fake.emails(list_id) == {"a@x.co", "None"}


def test_structural_errors_refuse_the_whole_request(klaviyo: tuple[KlaviyoFake, str]) -> None:
    fake, url = klaviyo
    list_id = fake.create_list("vip")
    missing = http(
        "post",
        f"{url}/api/profile-bulk-import-jobs",
        json=job_body([{"email": "a@x.co"}, {"first_name": "x"}], list_id),
        headers=HEADERS,
    )
    assert missing.status_code == 400
    assert (
        missing.json()["errors"][0]["source"]["pointer"]
        == "/data/attributes/profiles/data/1/attributes"
    )
    fake.invalid_mode = "reject"
    bad = http(
        "post",
        f"{url}/api/profile-bulk-import-jobs",
        json=job_body([{"email": "a@x.co"}, {"email": "nope"}], list_id),
        headers=HEADERS,
    )
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["source"]["pointer"].startswith(
        "/data/attributes/profiles/data/1"
    )
    too_many = http(
        "post",
        f"{url}/api/profile-bulk-import-jobs",
        json=job_body([{"email": f"{i}@x.co"} for i in range(10_001)], list_id),
        headers=HEADERS,
    )
    assert too_many.status_code in (400, 413)
    unknown = http(
        "post",
        f"{url}/api/profile-bulk-import-jobs",
        json=job_body([{"email": "a@x.co"}], "nope"),
        headers=HEADERS,
    )
    assert unknown.status_code == 404
    assert fake.jobs == {}


def test_list_relationships_and_lookup(klaviyo: tuple[KlaviyoFake, str]) -> None:
    fake, url = klaviyo
    list_id = fake.create_list("vip")
    job = http(
        "post",
        f"{url}/api/profile-bulk-import-jobs",
        json=job_body([{"email": "a@x.co"}, {"email": "b@x.co"}], list_id),
        headers=HEADERS,
    ).json()
    finished(url, job["data"]["id"])
    found = http(
        "get", f"{url}/api/profiles", params={"filter": 'any(email,["a@x.co"])'}, headers=HEADERS
    ).json()
    profile_id = found["data"][0]["id"]
    path = f"{url}/api/lists/{list_id}/relationships/profiles"
    body = {"data": [{"type": "profile", "id": profile_id}]}
    for _ in range(2):
        assert http("delete", path, json=body, headers=HEADERS).status_code == 204
    assert fake.emails(list_id) == {"b@x.co"}
    too_many = {"data": [{"type": "profile", "id": profile_id}] * 1001}
    assert http("post", path, json=too_many, headers=HEADERS).status_code == 400
    assert (
        http(
            "post", f"{url}/api/lists/nope/relationships/profiles", json=body, headers=HEADERS
        ).status_code
        == 404
    )


def test_throttled_body_and_rate_headers(klaviyo: tuple[KlaviyoFake, str]) -> None:
    fake, url = klaviyo
    fake.tiers["M"] = (2, 150)
    fake.windows.clear()
    responses = [http("get", f"{url}/api/lists", headers=HEADERS) for _ in range(3)]
    assert responses[0].headers["RateLimit-Limit"] == "150"
    throttled = responses[2]
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "1"
    error = throttled.json()["errors"][0]
    assert (error["code"], error["title"]) == ("throttled", "Request was throttled.")
    assert error["detail"] == "Request was throttled. Expected available in 1 second."
