"""The Salesforce fake enforces api-contracts §2.6 over real HTTP (REST, SOQL, Bulk API 2.0)."""

from __future__ import annotations

import csv
import functools
import io
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from cdpkit.sandbox.fakes_salesforce import (
    DEFAULT_CLIENT_ID,
    SalesforceFake,
    sandbox_client_secret,
)
from cdpkit.sandbox.server import Sandbox

http = functools.partial(requests.request, timeout=30)
V = "/services/data/v62.0"
UPSERT = f"{V}/composite/sobjects/Contact/Cdpkit_Key__c"


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[SalesforceFake, Sandbox]]:
    fake = SalesforceFake()
    with Sandbox(port=0, fakes=[fake]) as sandbox:
        yield fake, sandbox


class Client:
    def __init__(self, base: str) -> None:
        self.base = base
        token = http(
            "post",
            f"{base}/services/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": DEFAULT_CLIENT_ID,
                "client_secret": sandbox_client_secret(),
            },
        ).json()
        self.instance = token["instance_url"]
        self.auth = {"Authorization": f"Bearer {token['access_token']}"}

    def __call__(self, method: str, path: str, body: Any = None, **kw: Any) -> requests.Response:
        url = path if path.startswith("http") else self.instance + path
        return http(method, url, json=body, headers={**self.auth, **kw.pop("headers", {})}, **kw)


@pytest.fixture
def sf(server: tuple[SalesforceFake, Sandbox]) -> tuple[SalesforceFake, Client]:
    fake, sandbox = server
    fake.reset()
    return fake, Client(sandbox.url("salesforce"))


def contact(key: str, **fields: Any) -> dict[str, Any]:
    return {"attributes": {"type": "Contact"}, "Cdpkit_Key__c": key, "LastName": "Doe", **fields}


def test_token_endpoint_errors(server: tuple[SalesforceFake, Sandbox]) -> None:
    fake, sandbox = server
    fake.reset()
    url = f"{sandbox.url('salesforce')}/services/oauth2/token"
    wrong_id = http(
        "post",
        url,
        data={"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"},
    )
    assert (wrong_id.status_code, wrong_id.json()["error"]) == (400, "invalid_client_id")
    wrong_secret = http(
        "post",
        url,
        data={
            "grant_type": "client_credentials",
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": "y",
        },
    )
    assert wrong_secret.json() == {
        "error": "invalid_client",
        "error_description": "invalid client credentials",
    }
    assert (
        http("post", url, data={"grant_type": "password"}).json()["error"]
        == "unsupported_grant_type"
    )
    ok = Client(sandbox.url("salesforce"))
    assert ok.instance == sandbox.url("salesforce")


def test_sessions_expire_with_the_array_body(sf: tuple[SalesforceFake, Client]) -> None:
    fake, call = sf
    assert call("GET", f"{V}/limits").status_code == 200
    fake.sessions.clear()
    expired = call("GET", f"{V}/limits")
    assert expired.status_code == 401
    assert expired.json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]
    assert http("GET", call.instance + f"{V}/limits").status_code == 401


def test_versions_and_limit_header(sf: tuple[SalesforceFake, Client]) -> None:
    fake, call = sf
    assert call("GET", "/services/data/v45.0/limits").status_code == 200
    assert (
        call(
            "PATCH",
            "/services/data/v45.0/composite/sobjects/Contact/Cdpkit_Key__c",
            {"records": [contact("a")]},
        ).status_code
        == 404
    )
    assert call("GET", "/services/data/vX/limits").status_code == 404
    response = call("GET", f"{V}/limits")
    assert response.headers["Sforce-Limit-Info"] == "api-usage=4/100000"


def test_collections_upsert_semantics(sf: tuple[SalesforceFake, Client]) -> None:
    fake, call = sf
    body = {
        "allOrNone": False,
        "records": [
            contact("a@x.io", Email="a@x.io"),
            contact("b@x.io", Email="not-an-email"),
            {"attributes": {"type": "Contact"}, "Cdpkit_Key__c": "c@x.io"},  # no LastName
            contact("d@x.io"),
            contact("D@x.io"),  # one key twice in a request
            contact("", Email="e@x.io"),
        ],
    }
    results = call("PATCH", UPSERT, body).json()
    assert results[0] == {"id": results[0]["id"], "success": True, "errors": [], "created": True}
    assert [r["success"] for r in results] == [True, False, False, False, False, False]
    codes = [r["errors"][0]["statusCode"] for r in results[1:]]
    assert codes == [
        "INVALID_EMAIL_ADDRESS",
        "REQUIRED_FIELD_MISSING",
        "DUPLICATE_EXTERNAL_ID",
        "DUPLICATE_EXTERNAL_ID",
        "MISSING_ARGUMENT",
    ]
    assert results[2]["errors"][0]["fields"] == ["LastName"]
    again = call("PATCH", UPSERT, {"records": [contact("A@X.io", FirstName="Ann")]}).json()
    assert again[0]["created"] is False and again[0]["id"] == results[0]["id"]
    assert fake.by_key()["a@x.io"]["FirstName"] == "Ann"


def test_collections_request_level_errors(sf: tuple[SalesforceFake, Client]) -> None:
    fake, call = sf
    too_many = call("PATCH", UPSERT, {"records": [contact(f"k{i}") for i in range(201)]})
    assert too_many.status_code == 400 and too_many.json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    unknown = call("PATCH", UPSERT, {"records": [contact("k", Shoe_Size__c=42)]})
    assert unknown.json() == [
        {
            "message": "No such column 'Shoe_Size__c' on sobject of type Contact",
            "errorCode": "INVALID_FIELD",
        }
    ]
    wrong_type = call(
        "PATCH", UPSERT, {"records": [{"attributes": {"type": "Lead"}, "Cdpkit_Key__c": "k"}]}
    )
    assert wrong_type.status_code == 400 and wrong_type.json()[0]["errorCode"] == "INVALID_TYPE"
    no_type = call("PATCH", UPSERT, {"records": [{"Cdpkit_Key__c": "k"}]})
    assert no_type.status_code == 400
    not_external = call(
        "PATCH", f"{V}/composite/sobjects/Contact/Email", {"records": [contact("k")]}
    )
    assert not_external.status_code == 404
    fake.add_field("Contact", fake.org.schema["Contact"]["Email"].__class__("LTV__c", "double"))
    mistyped = call("PATCH", UPSERT, {"records": [contact("k", LTV__c="lots")]})
    assert mistyped.status_code == 400 and mistyped.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    assert fake.org.records["Contact"] == {}


def test_all_or_none_rolls_back(sf: tuple[SalesforceFake, Client]) -> None:
    fake, call = sf
    results = call(
        "PATCH", UPSERT, {"allOrNone": True, "records": [contact("ok"), contact("bad", Email="x")]}
    ).json()
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1]["errors"][0]["statusCode"] == "INVALID_EMAIL_ADDRESS"
    assert fake.org.records["Contact"] == {}


def test_daily_limit(sf: tuple[SalesforceFake, Client]) -> None:
    fake, call = sf
    fake.configure({"daily_limit": 2})
    assert call("GET", f"{V}/limits").status_code == 200
    assert call("GET", f"{V}/limits").headers["Sforce-Limit-Info"] == "api-usage=2/2"
    refused = call("GET", f"{V}/limits")
    assert refused.status_code == 403
    assert refused.json() == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]


def test_campaign_members_and_soql_paging(sf: tuple[SalesforceFake, Client]) -> None:
    fake, call = sf
    ids = [
        r["id"]
        for r in call(
            "PATCH",
            UPSERT,
            {"records": [contact(f"p{i}@x.io", Email=f"p{i}@x.io") for i in range(5)]},
        ).json()
    ]
    camp = call(
        "POST", f"{V}/sobjects/Campaign", {"Name": "VIP 'quoted'", "IsActive": True}
    ).json()["id"]
    members = {
        "allOrNone": False,
        "records": [
            {"attributes": {"type": "CampaignMember"}, "CampaignId": camp, "ContactId": i}
            for i in [*ids, ids[0]]
        ],
    }
    results = call("POST", f"{V}/composite/sobjects", members).json()
    assert [r["success"] for r in results] == [True] * 5 + [False]
    assert results[5]["errors"][0] == {
        "statusCode": "DUPLICATE_VALUE",
        "message": "Already a campaign member.",
        "fields": [],
    }
    assert fake.campaign_keys("VIP 'quoted'") == {f"p{i}@x.io" for i in range(5)}
    found = call(
        "GET",
        f"{V}/query",
        params={"q": "SELECT Id FROM Campaign WHERE Name = 'VIP \\'quoted\\'' LIMIT 1"},
    ).json()
    assert found["records"][0]["Id"] == camp
    fake.configure({"query_batch_size": 2})
    page = call(
        "GET",
        f"{V}/query",
        params={
            "q": "SELECT Id, ContactId FROM CampaignMember WHERE CampaignId = '"
            + camp
            + "' ORDER BY ContactId"
        },
    ).json()
    seen = [r["ContactId"] for r in page["records"]]
    while not page["done"]:
        page = call("GET", page["nextRecordsUrl"]).json()
        seen += [r["ContactId"] for r in page["records"]]
    assert seen == sorted(ids) and page["totalSize"] == 5
    bad = call("GET", f"{V}/query", params={"q": "SELECT Id FROM Contact WHERE"})
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "MALFORMED_QUERY"
    member_ids = [
        r["Id"]
        for r in call(
            "GET",
            f"{V}/query",
            params={
                "q": f"SELECT Id FROM CampaignMember WHERE ContactId IN ('{ids[0]}', '{ids[1]}')"
            },
        ).json()["records"]
    ]
    deleted = call(
        "DELETE", f"{V}/composite/sobjects", params={"ids": ",".join([*member_ids, "00vNOPE"])}
    ).json()
    assert [r["success"] for r in deleted] == [True, True, False]
    assert len(fake.campaign_keys("VIP 'quoted'")) == 3


def test_soql_incremental_by_last_modified(sf: tuple[SalesforceFake, Client]) -> None:
    fake, call = sf
    call("PATCH", UPSERT, {"records": [contact("old@x.io")]})
    cut = fake.org.records["Contact"][next(iter(fake.org.records["Contact"]))]["LastModifiedDate"]
    time.sleep(0.01)
    call("PATCH", UPSERT, {"records": [contact("new@x.io"), contact("old2@x.io")]})
    q = (
        "SELECT Id, Cdpkit_Key__c, Account.Name FROM Contact "
        f"WHERE LastModifiedDate > {cut} ORDER BY LastModifiedDate, Id"
    )
    rows = call("GET", f"{V}/query", params={"q": q}).json()["records"]
    assert {r["Cdpkit_Key__c"] for r in rows} == {"new@x.io", "old2@x.io"}
    assert rows[0]["Account"] is None and rows[0]["attributes"]["type"] == "Contact"


def bulk_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_bulk_ingest_state_machine(sf: tuple[SalesforceFake, Client]) -> None:
    fake, call = sf
    fake.configure({"processing_delay_s": 0.2})
    job = call(
        "POST",
        f"{V}/jobs/ingest",
        {
            "object": "Contact",
            "operation": "upsert",
            "externalIdFieldName": "Cdpkit_Key__c",
            "contentType": "CSV",
            "lineEnding": "LF",
        },
    ).json()
    assert job["state"] == "Open" and job["contentUrl"].endswith(
        f"/jobs/ingest/{job['id']}/batches"
    )
    path = f"{V}/jobs/ingest/{job['id']}"
    data = "Cdpkit_Key__c,LastName,Email\na@x.io,Doe,a@x.io\nb@x.io,Doe,bad\nc@x.io,,\n"
    assert (
        call(
            "PUT",
            path + "/batches",
            data=data.encode(),
            headers={"Content-Type": "application/json"},
        ).status_code
        == 400
    )
    assert (
        call(
            "PUT", path + "/batches", data=data.encode(), headers={"Content-Type": "text/csv"}
        ).status_code
        == 201
    )
    assert (
        call(
            "PUT", path + "/batches", data=data.encode(), headers={"Content-Type": "text/csv"}
        ).status_code
        == 400
    )
    assert call("GET", path + "/failedResults/").status_code == 400  # not finished yet
    assert call("PATCH", path, {"state": "UploadComplete"}).json()["state"] == "UploadComplete"
    assert (
        call(
            "PUT", path + "/batches", data=data.encode(), headers={"Content-Type": "text/csv"}
        ).json()[0]["errorCode"]
        == "INVALIDJOBSTATE"
    )
    states = set()
    while (state := call("GET", path).json()["state"]) not in ("JobComplete", "Failed"):
        states.add(state)
        time.sleep(0.03)
    assert state == "JobComplete" and "InProgress" in states
    info = call("GET", path).json()
    assert (info["numberRecordsProcessed"], info["numberRecordsFailed"]) == (3, 2)
    ok = bulk_rows(call("GET", path + "/successfulResults/").text)
    assert [(r["Cdpkit_Key__c"], r["sf__Created"]) for r in ok] == [("a@x.io", "true")]
    failed = {
        r["Cdpkit_Key__c"]: r["sf__Error"]
        for r in bulk_rows(call("GET", path + "/failedResults/").text)
    }
    assert failed["b@x.io"].startswith("INVALID_EMAIL_ADDRESS:")
    assert failed["c@x.io"].startswith("REQUIRED_FIELD_MISSING:")


def test_bulk_job_fails_on_a_bad_header(sf: tuple[SalesforceFake, Client]) -> None:
    fake, call = sf
    fake.configure({"processing_delay_s": 0})
    job = call(
        "POST",
        f"{V}/jobs/ingest",
        {"object": "Contact", "operation": "upsert", "externalIdFieldName": "Cdpkit_Key__c"},
    ).json()
    path = f"{V}/jobs/ingest/{job['id']}"
    call(
        "PUT",
        path + "/batches",
        data=b"Cdpkit_Key__c,Nope__c\na,b\n",
        headers={"Content-Type": "text/csv"},
    )
    call("PATCH", path, {"state": "UploadComplete"})
    info = call("GET", path).json()
    assert (
        info["state"] == "Failed"
        and info["errorMessage"] == "InvalidBatch : Field name not found : Nope__c"
    )
    missing_ext = call("POST", f"{V}/jobs/ingest", {"object": "Contact", "operation": "upsert"})
    assert missing_ext.status_code == 400
