"""Google Customer Match connector (Data Manager + Google Ads jobs) against the Google fake."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from cdpkit.destinations.base import Batch, PlanInfo, Record, RunSummary
from cdpkit.destinations.errors import TerminalError
from cdpkit.destinations.google_customer_match import GoogleCustomerMatchDestination
from cdpkit.project import Project
from cdpkit.sandbox.fakes_google import Customer, GoogleFake
from cdpkit.sandbox.server import Sandbox
from cdpkit.sync.delivery import deliver
from cdpkit.sync.retry import RetryPolicy
from cdpkit.warehouse import connect

from .adsync_harness import build_connector, make_job, person, run, write_people

CID = "1234567890"
FAST_RETRY = RetryPolicy(max_attempts=6, base_delay_s=0.05, max_delay_s=0.3, max_elapsed_s=30)
MAPPING = {
    "email": "email",
    "phone": "phone",
    "first_name": "first_name",
    "last_name": "last_name",
    "country": "country",
}


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[tuple[GoogleFake, Sandbox]]:
    fake = GoogleFake(customers=[Customer(CID, manager="7770007777")], job_run_delay_s=0.05)
    with Sandbox(port=0, fakes=[fake]) as server:
        yield fake, server


@pytest.fixture
def google(
    sandbox: tuple[GoogleFake, Sandbox], monkeypatch: pytest.MonkeyPatch
) -> tuple[GoogleFake, str]:
    fake, server = sandbox
    fake.reset()
    monkeypatch.setenv("GOOGLE_REFRESH", "sandbox-refresh-token")
    monkeypatch.setenv("GOOGLE_CLIENT", "sandbox-client-id")
    monkeypatch.setenv("GOOGLE_SECRET", "sandbox-client-secret")
    monkeypatch.setenv("GOOGLE_DEV", "sandbox-dev-token")
    monkeypatch.setenv("GOOGLE_TOKEN", "sandbox-google-token")
    return fake, server.url("google")


def config(url: str, **overrides: Any) -> dict[str, Any]:
    sync = {"audience": "vip", "mode": "mirror", "identifier": "email", "mapping": dict(MAPPING)}
    sync.update(overrides.pop("sync", {}))
    return {
        "type": "google_customer_match",
        "base_url": url,
        "ads_base_url": url,
        "token_url": f"{url}/token",
        "customer_id": "123-456-7890",
        "login_customer_id": "777-000-7777",
        "refresh_token": "${GOOGLE_REFRESH}",
        "client_id": "${GOOGLE_CLIENT}",
        "client_secret": "${GOOGLE_SECRET}",
        "developer_token": "${GOOGLE_DEV}",
        "job_poll_s": 0.02,
        "job_wait_s": 5,
        "syncs": [sync],
        **overrides,
    }


def records(*people: dict[str, Any]) -> tuple[Record, ...]:
    return tuple(
        Record(key=p["email"], change="add", fields={k: p[v] for k, v in MAPPING.items()})
        for p in people
    )


def removal(*emails: str) -> Batch:
    return Batch("s", "remove", tuple(Record(key=e, change="remove") for e in emails))


def opened(url: str, **overrides: Any) -> GoogleCustomerMatchDestination:
    connector = build_connector(GoogleCustomerMatchDestination, config(url, **overrides), url)
    assert isinstance(connector, GoogleCustomerMatchDestination)
    connector.check()
    connector.open(PlanInfo(adds=2, updates=0, removes=0, audience_size=2))
    return connector


def emails(fake: GoogleFake, name: str = "vip") -> set[str]:
    fake.jobs.settle()
    user_list = fake.list_named(name)
    assert user_list is not None
    return user_list.members.values("emailAddress")


# --- configuration ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"refresh_token": None}, "Google needs credentials"),
        ({"client_secret": None}, "refresh_token needs client_id and client_secret"),
        ({"developer_token": None}, "developer_token is required"),
        ({"sync": {"mapping": {"emial": "email"}}}, "'emial' is not a field Google Customer Match"),
        ({"sync": {"mapping": {"first_name": "first_name"}}}, "must be mapped to one of email"),
    ],
)
def test_config_errors(change: dict[str, Any], message: str) -> None:
    data = config("http://x")
    for key, value in change.items():
        if key == "sync":
            data["syncs"][0].update(value)
        elif value is None:
            data.pop(key)
        else:
            data[key] = value
    with pytest.raises(ValidationError, match=message):
        GoogleCustomerMatchDestination.config_model.model_validate(data)


# --- Data Manager -------------------------------------------------------------------------


def test_data_manager_ingest_and_remove_with_refreshed_token(
    google: tuple[GoogleFake, str],
) -> None:
    fake, url = google
    connector = opened(url)
    assert connector.tokens.refreshes == 1
    people = [person(1, email="Jane.Doe+ads@GMAIL.com"), person(2)]
    assert connector.upsert(Batch("s", "upsert", records(*people))).rejected == {}
    assert emails(fake) == {sha("janedoe@gmail.com"), sha("person.2@example.com")}
    user_list = fake.list_named("vip")
    assert user_list is not None
    assert user_list.members.values("phoneNumber") == {sha("+12128010001"), sha("+12128020002")}
    assert connector.remove(removal("Jane.Doe+ads@GMAIL.com")).rejected == {}
    assert emails(fake) == {sha("person.2@example.com")}
    assert fake.consent_denied == 0


def test_data_manager_member_violations_become_record_rejections(
    google: tuple[GoogleFake, str],
) -> None:
    fake, url = google
    connector = opened(url)
    violation = {
        "field": "audience_members[1].user_data.user_identifiers[0].email_address",
        "reason": "INVALID_SHA256_FORMAT",
        "description": "The SHA256 encoded value is malformed.",
    }
    body = {
        "error": {
            "code": 400,
            "status": "INVALID_ARGUMENT",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [violation],
                }
            ],
        }
    }
    fake.faults.configure({"script": [{"status": 400, "body": body}]})
    result = connector.upsert(Batch("s", "upsert", records(person(1), person(2), person(3))))
    assert result.rejected == {
        "Person.2@Example.com ": "Google INVALID_SHA256_FORMAT: The SHA256 encoded value is "
        "malformed. (audience_members[1].user_data.user_identifiers[0].email_address)"
    }
    assert emails(fake) == {sha("person.1@example.com"), sha("person.3@example.com")}


def test_data_manager_quota_waits_for_retry_delay(google: tuple[GoogleFake, str]) -> None:
    fake, url = google
    connector = opened(url)
    fake.minute.limit, fake.minute.window_s = 1, 0.5
    deliveries = [
        deliver(connector, Batch("s", "upsert", records(person(i))), FAST_RETRY) for i in (1, 2)
    ]
    assert all(d.error is None and len(d.confirmed) == 1 for d in deliveries)
    assert deliveries[1].retries >= 1
    assert connector.http.metrics.snapshot()["throttled"] >= 1


def test_daily_quota_stops_the_run_cleanly(google: tuple[GoogleFake, str]) -> None:
    fake, url = google
    connector = opened(url)
    fake.day.limit = 0
    with pytest.raises(TerminalError, match="daily quota is used up.*next run resumes"):
        connector.upsert(Batch("s", "upsert", records(person(1))))


def test_expired_access_token_is_refreshed_and_the_batch_retried(
    google: tuple[GoogleFake, str],
) -> None:
    fake, url = google
    connector = opened(url)
    fake.tokens.clear()  # every issued token expires
    delivery = deliver(connector, Batch("s", "upsert", records(person(1))), FAST_RETRY)
    assert delivery.error is None and delivery.retries == 1
    assert connector.tokens.refreshes == 2


def test_static_token_refused_is_terminal(google: tuple[GoogleFake, str]) -> None:
    fake, url = google
    cfg = config(url, access_token="${GOOGLE_TOKEN}")
    for key in ("refresh_token", "client_id", "client_secret"):
        cfg.pop(key)
    connector = opened_from(cfg, url)
    fake.tokens.clear()
    with pytest.raises(TerminalError, match="refused access \\(HTTP 401"):
        connector.upsert(Batch("s", "upsert", records(person(1))))


def opened_from(cfg: dict[str, Any], url: str) -> GoogleCustomerMatchDestination:
    connector = build_connector(GoogleCustomerMatchDestination, cfg, url)
    assert isinstance(connector, GoogleCustomerMatchDestination)
    connector.open(PlanInfo(1, 0, 0, 1))
    return connector


def test_wrong_manager_account_is_terminal(google: tuple[GoogleFake, str]) -> None:
    fake, url = google
    fake.create_list(CID, "vip")
    cfg = config(url, login_customer_id="111-111-1111")
    connector = opened_from({**cfg, "user_list_id": fake.list_named("vip").id}, url)  # type: ignore[union-attr]
    with pytest.raises(TerminalError, match="login_customer_id"):
        connector.upsert(Batch("s", "upsert", records(person(1))))


# --- Google Ads API job flow --------------------------------------------------------------


def test_ads_jobs_run_removes_then_adds_never_concurrently(google: tuple[GoogleFake, str]) -> None:
    fake, url = google
    seed = opened(url, api="google_ads")
    seed.upsert(Batch("s", "upsert", records(person(1), person(2))))
    seed.close(RunSummary("success", 2, 0))
    assert emails(fake) == {sha("person.1@example.com"), sha("person.2@example.com")}
    connector = opened(url, api="google_ads")
    assert connector.remove(removal("Person.1@Example.com ")).rejected == {}
    assert connector.upsert(Batch("s", "upsert", records(person(3)))).rejected == {}
    connector.upsert(Batch("s", "upsert", records(person(4))))
    connector.close(RunSummary("success", 3, 0))
    assert emails(fake) == {
        sha("person.2@example.com"),
        sha("person.3@example.com"),
        sha("person.4@example.com"),
    }
    kinds = [sorted({k for k, _ in job.operations}) for job in fake.jobs.jobs.values()]
    assert kinds == [["create"], ["remove"], ["create"]]
    assert {job.status for job in fake.jobs.jobs.values()} == {"SUCCESS"}
    assert fake.jobs.concurrent_runs == 0


def test_ads_partial_failure_maps_operation_indexes(google: tuple[GoogleFake, str]) -> None:
    fake, url = google
    connector = opened(url, api="google_ads")
    error = {
        "errorCode": {"offlineUserDataJobError": "INVALID_SHA256_FORMAT"},
        "message": "The SHA256 encoded value is malformed.",
        "location": {"fieldPathElements": [{"fieldName": "operations", "index": 1}]},
    }
    body = {"partialFailureError": {"code": 3, "message": "x", "details": [{"errors": [error]}]}}
    connector.upsert(Batch("s", "upsert", records(person(1))))  # creates the job
    fake.faults.configure({"script": [{"status": 200, "body": body}]})
    result = connector.upsert(Batch("s", "upsert", records(person(2), person(3))))
    assert result.rejected == {
        "Person.3@Example.com ": "Google offlineUserDataJobError.INVALID_SHA256_FORMAT: "
        "The SHA256 encoded value is malformed."
    }


def test_ads_job_left_pending_by_a_crash_runs_at_the_next_open(
    google: tuple[GoogleFake, str],
) -> None:
    fake, url = google
    crashed = opened(url, api="google_ads")
    crashed.upsert(Batch("s", "upsert", records(person(1))))  # confirmed, never run
    assert emails(fake) == set()
    opened(url, api="google_ads")
    assert emails(fake) == {sha("person.1@example.com")}


def test_ads_running_job_blocks_a_new_run(google: tuple[GoogleFake, str]) -> None:
    fake, url = google
    fake.jobs.run_delay_s = 30
    slow = opened(url, api="google_ads", job_wait_s=0.1)
    slow.upsert(Batch("s", "upsert", records(person(1))))
    with pytest.raises(TerminalError, match="still RUNNING"):
        slow.close(RunSummary("success", 1, 0))
    with pytest.raises(TerminalError, match="still RUNNING after"):
        opened(url, api="google_ads", job_wait_s=0.1)
    assert fake.jobs.concurrent_runs == 0


def test_ads_not_allowlisted_points_to_data_manager(google: tuple[GoogleFake, str]) -> None:
    fake, url = google
    fake.customers[CID].allowlisted = False
    connector = opened(url, api="google_ads")
    with pytest.raises(TerminalError, match="use `api: data_manager`"):
        connector.upsert(Batch("s", "upsert", records(person(1))))


# --- end to end ---------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("api", ["data_manager", "google_ads"])
def test_end_to_end_mirror_sync_equals_the_consented_audience(
    google: tuple[GoogleFake, str], scratch_project: Project, api: str
) -> None:
    fake, url = google
    people = [person(i) for i in range(1, 31)]
    for p in people[:4]:
        p["consent_advertising"] = False
    cfg = config(url, api=api, batch_size=8)

    def expected() -> set[str]:
        return {
            sha(p["email"].strip().lower())
            for p in people
            if p["in_audience"] and p["consent_advertising"]
        }

    with connect(scratch_project) as wh:
        write_people(wh, people)
        first = run(
            wh, make_job("google", GoogleCustomerMatchDestination, cfg), scratch_project.root
        )
        assert first.status == "success", first.error
        assert emails(fake) == expected()
        people[5]["consent_advertising"] = False
        people[6]["in_audience"] = False
        people.append(person(77))
        write_people(wh, people)
        second = run(
            wh, make_job("google", GoogleCustomerMatchDestination, cfg), scratch_project.root
        )
        assert second.status == "success", second.error
        assert second.confirmed["remove"] == 2 and second.confirmed["add"] == 1
        assert emails(fake) == expected()
    assert fake.jobs.concurrent_runs == 0
