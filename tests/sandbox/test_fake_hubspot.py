"""The HubSpot fake enforces api-contracts §1.5 over real HTTP."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from cdpkit.sandbox.fakes_hubspot import HubSpotFake, sandbox_token
from cdpkit.sandbox.server import Sandbox

http = functools.partial(requests.request, timeout=30)
AUTH = {"Authorization": f"Bearer {sandbox_token()}"}
UPSERT = "/crm/v3/objects/contacts/batch/upsert"


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[HubSpotFake, Sandbox]]:
    fake = HubSpotFake()
    with Sandbox(port=0, fakes=[fake]) as sandbox:
        yield fake, sandbox


@pytest.fixture
def hs(server: tuple[HubSpotFake, Sandbox]) -> Iterator[tuple[HubSpotFake, str]]:
    fake, sandbox = server
    fake.reset()
    yield fake, sandbox.url("hubspot")


def call(base: str, method: str, path: str, body: Any = None, **kw: Any) -> requests.Response:
    return http(method, base + path, json=body, headers=kw.pop("headers", AUTH), **kw)


def inputs(*emails: str, **props: Any) -> dict[str, Any]:
    return {"inputs": [{"idProperty": "email", "id": e, "properties": dict(props)} for e in emails]}


def test_auth_and_scopes(hs: tuple[HubSpotFake, str]) -> None:
    fake, base = hs
    missing = call(base, "GET", "/crm/v3/properties/contacts", headers={})
    assert missing.status_code == 401
    assert missing.json()["category"] == "INVALID_AUTHENTICATION"
    assert (
        call(
            base, "GET", "/crm/v3/properties/contacts", headers={"Authorization": "Bearer x"}
        ).status_code
        == 401
    )
    fake.configure({"tokens": {"narrow": ["crm.objects.contacts.read"]}})
    refused = call(base, "POST", "/crm/v3/lists", {}, headers={"Authorization": "Bearer narrow"})
    assert refused.status_code == 403
    body = refused.json()
    assert body["category"] == "MISSING_SCOPES"
    assert body["errors"][0]["context"]["requiredGranularScopes"] == ["crm.lists.write"]


def test_upsert_creates_then_updates_and_headers(hs: tuple[HubSpotFake, str]) -> None:
    fake, base = hs
    first = call(base, "POST", UPSERT, inputs("A@x.io", "b@x.io", firstname="Ann"))
    assert first.status_code == 200
    data = first.json()
    assert data["status"] == "COMPLETE"
    assert {r["properties"]["email"]: r["new"] for r in data["results"]} == {
        "a@x.io": True,
        "b@x.io": True,
    }
    assert first.headers["X-HubSpot-RateLimit-Max"] == "100"
    assert int(first.headers["X-HubSpot-RateLimit-Daily-Remaining"]) == 250_000 - 1
    again = call(base, "POST", UPSERT, inputs("a@X.io", lastname="Lee"))
    result = again.json()["results"][0]
    assert result["new"] is False
    assert fake.contacts_by_email()["a@x.io"]["firstname"] == "Ann"
    assert fake.contacts_by_email()["a@x.io"]["lastname"] == "Lee"
    assert len(fake.portal.contacts) == 2


def test_batch_limit_duplicates_and_invalid_values_write_nothing(
    hs: tuple[HubSpotFake, str],
) -> None:
    fake, base = hs
    too_many = call(base, "POST", UPSERT, inputs(*[f"p{i}@x.io" for i in range(101)]))
    assert too_many.status_code == 400
    assert too_many.json()["category"] == "VALIDATION_ERROR"
    dup = call(base, "POST", UPSERT, inputs("d@x.io", "D@x.io"))
    assert dup.status_code == 400
    assert dup.json()["message"] == (
        "Duplicate IDs found in batch input: [D@x.io]. IDs must be unique"
    )
    assert dup.json()["context"] == {"ids": ["D@x.io"]}
    unknown = call(base, "POST", UPSERT, inputs("u@x.io", "v@x.io", favourite_colour="red"))
    assert unknown.status_code == 400
    assert "PROPERTY_DOESNT_EXIST" in unknown.json()["message"]
    bad = call(base, "POST", UPSERT, inputs("ok@x.io", "not-an-email"))
    assert bad.status_code == 400
    assert "INVALID_EMAIL" in bad.json()["message"]
    read_only = call(base, "POST", UPSERT, inputs("r@x.io", createdate="2024-01-01"))
    assert "READ_ONLY_VALUE" in read_only.json()["message"]
    assert fake.portal.contacts == {}


def test_multi_status_rejects_only_bad_inputs(hs: tuple[HubSpotFake, str]) -> None:
    fake, base = hs
    fake.configure({"multi_status": True})
    body = inputs("ok@x.io", "bad-email")
    response = call(base, "POST", UPSERT, body)
    assert response.status_code == 207
    data = response.json()
    assert [r["properties"]["email"] for r in data["results"]] == ["ok@x.io"]
    assert data["numErrors"] == 1
    assert data["errors"][0]["context"]["ids"] == ["bad-email"]


def test_create_conflict_and_custom_properties(hs: tuple[HubSpotFake, str]) -> None:
    fake, base = hs
    made = call(base, "POST", "/crm/v3/objects/contacts", {"properties": {"email": "c@x.io"}})
    assert made.status_code == 201
    conflict = call(
        base,
        "POST",
        "/crm/v3/objects/contacts/batch/create",
        {"inputs": [{"properties": {"email": "C@x.io"}}]},
    )
    assert conflict.status_code == 409
    assert conflict.json()["message"] == f"Contact already exists. Existing ID: {made.json()['id']}"
    definition = {
        "name": "ltv",
        "label": "LTV",
        "type": "number",
        "fieldType": "number",
        "groupName": "contactinformation",
    }
    created = call(
        base, "POST", "/crm/v3/properties/contacts/batch/create", {"inputs": [definition]}
    )
    assert created.status_code == 201
    assert (
        call(
            base, "POST", "/crm/v3/properties/contacts/batch/create", {"inputs": [definition]}
        ).status_code
        == 409
    )
    assert "INVALID_DECIMAL" in call(base, "POST", UPSERT, inputs("c@x.io", ltv="lots")).text
    assert call(base, "POST", UPSERT, inputs("c@x.io", ltv=12.5)).status_code == 200
    assert fake.contacts_by_email()["c@x.io"]["ltv"] == "12.5"


def test_static_lists(hs: tuple[HubSpotFake, str]) -> None:
    fake, base = hs
    ids = [
        r["id"] for r in call(base, "POST", UPSERT, inputs("a@x.io", "b@x.io")).json()["results"]
    ]
    spec = {"name": "VIP / all", "objectTypeId": "0-1", "processingType": "MANUAL"}
    created = call(base, "POST", "/crm/v3/lists", spec).json()["list"]
    again = call(base, "POST", "/crm/v3/lists", spec)
    assert again.status_code == 400
    assert again.json()["subCategory"] == "ILS.DUPLICATE_LIST_NAMES"
    found = call(base, "GET", "/crm/v3/lists/object-type-id/0-1/name/VIP%20%2F%20all")
    assert found.json()["list"]["listId"] == created["listId"]
    assert call(base, "GET", "/crm/v3/lists/object-type-id/0-1/name/nope").status_code == 404
    members = f"/crm/v3/lists/{created['listId']}/memberships"
    added = call(base, "PUT", members + "/add", [*ids, "999999"]).json()
    assert sorted(added["recordsIdsAdded"]) == sorted(ids)
    assert added["recordIdsMissing"] == ["999999"]
    assert call(base, "PUT", members + "/add", ids).json()["recordsIdsAdded"] == []
    assert fake.list_emails("VIP / all") == {"a@x.io", "b@x.io"}
    removed = call(base, "PUT", members + "/remove", [ids[0]]).json()
    assert removed["recordIdsRemoved"] == [ids[0]]
    assert call(base, "PUT", members + "/add", {"not": "an array"}).status_code == 400
    dynamic = call(
        base,
        "POST",
        "/crm/v3/lists",
        {"name": "dyn", "objectTypeId": "0-1", "processingType": "DYNAMIC", "filterBranch": {}},
    )
    assert dynamic.status_code == 400  # a DYNAMIC list needs a real filter branch
    fake.portal.create_list("active", "DYNAMIC")
    lst = fake.portal.list_named("active")
    assert lst is not None
    refused = call(base, "PUT", f"/crm/v3/lists/{lst.list_id}/memberships/add", ids)
    assert refused.status_code == 400
    assert refused.json()["subCategory"] == "ILS.INVALID_LIST_PROCESSING_TYPE"


def test_ten_second_window_and_daily_limit(hs: tuple[HubSpotFake, str]) -> None:
    fake, base = hs
    fake.configure({"ten_second_limit": 3, "retry_after": True})
    for _ in range(3):
        assert call(base, "GET", "/crm/v3/properties/contacts").status_code == 200
    throttled = call(base, "GET", "/crm/v3/properties/contacts")
    assert throttled.status_code == 429
    body = throttled.json()
    assert body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert body["errorType"] == "RATE_LIMIT"
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    assert 1 <= int(throttled.headers["Retry-After"]) <= 10
    assert throttled.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    fake.configure({"ten_second_limit": 100, "daily_limit": 4})
    assert call(base, "GET", "/crm/v3/properties/contacts").status_code == 200
    daily = call(base, "GET", "/crm/v3/properties/contacts")
    assert daily.status_code == 429
    assert daily.json()["policyName"] == "DAILY"
    assert daily.json()["message"] == "You have reached your daily limit."
    assert daily.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"


def test_list_contacts_pages_with_after(hs: tuple[HubSpotFake, str]) -> None:
    fake, base = hs
    call(base, "POST", UPSERT, inputs(*[f"p{i}@x.io" for i in range(25)], city="Oslo"))
    seen, after, pages = [], None, 0
    while True:
        params = {"limit": 10, "properties": "email,city"}
        if after:
            params["after"] = after
        page = call(base, "GET", "/crm/v3/objects/contacts", params=params).json()
        pages += 1
        seen += [(r["properties"]["email"], r["properties"]["city"]) for r in page["results"]]
        after = page.get("paging", {}).get("next", {}).get("after")
        if not after:
            break
    assert pages == 3
    assert sorted(seen) == sorted((f"p{i}@x.io", "Oslo") for i in range(25))
    assert call(base, "GET", "/crm/v3/objects/contacts", params={"limit": 101}).status_code == 400
