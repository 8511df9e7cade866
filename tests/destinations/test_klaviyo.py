"""Klaviyo connector against the Klaviyo fake over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from cdpkit.destinations.base import Batch, PlanInfo, Record
from cdpkit.destinations.errors import TerminalError
from cdpkit.destinations.klaviyo import KlaviyoDestination
from cdpkit.project import Project
from cdpkit.sandbox.fakes_klaviyo import KlaviyoFake
from cdpkit.sandbox.server import Sandbox
from cdpkit.sync.delivery import deliver
from cdpkit.sync.retry import RetryPolicy
from cdpkit.warehouse import connect

from .adsync_harness import build_connector, make_job, person, run, write_people

FAST_RETRY = RetryPolicy(max_attempts=6, base_delay_s=0.05, max_delay_s=0.3, max_elapsed_s=30)
MAPPING = {
    "email": "email",
    "phone_number": "phone",
    "first_name": "first_name",
    "location.city": "city",
    "location.country": "country",
    "properties.surname": "last_name",
}
ROOMY = {"M": (1000, 100_000), "L": (1000, 100_000)}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[tuple[KlaviyoFake, Sandbox]]:
    fake = KlaviyoFake(tiers=ROOMY, processing_delay_s=0.02)
    with Sandbox(port=0, fakes=[fake]) as server:
        yield fake, server


@pytest.fixture
def klaviyo(
    sandbox: tuple[KlaviyoFake, Sandbox], monkeypatch: pytest.MonkeyPatch
) -> tuple[KlaviyoFake, str]:
    fake, server = sandbox
    fake.reset()
    monkeypatch.setenv("KLAVIYO_KEY", "pk_sandbox_klaviyo")
    return fake, server.url("klaviyo")


def config(url: str, **overrides: Any) -> dict[str, Any]:
    sync = {
        "audience": "vip",
        "mode": "mirror",
        "identifier": "email",
        "mapping": dict(MAPPING),
        "list": "VIP",
    }
    sync.update(overrides.pop("sync", {}))
    return {
        "type": "klaviyo",
        "base_url": url,
        "api_key": "${KLAVIYO_KEY}",
        "job_poll_s": 0.01,
        "syncs": [sync],
        **overrides,
    }


def records(*people: dict[str, Any]) -> tuple[Record, ...]:
    return tuple(
        Record(key=p["email"], change="add", fields={k: p[v] for k, v in MAPPING.items()})
        for p in people
    )


def opened(url: str, **overrides: Any) -> KlaviyoDestination:
    connector = build_connector(KlaviyoDestination, config(url, **overrides), url)
    assert isinstance(connector, KlaviyoDestination)
    connector.check()
    connector.open(PlanInfo(1, 0, 0, 1))
    return connector


def members(fake: KlaviyoFake, name: str = "VIP") -> set[str]:
    list_id = fake.list_named(name)
    assert list_id is not None
    return fake.emails(list_id)


def test_config_rejects_unknown_attributes_and_unmapped_identifier() -> None:
    with pytest.raises(ValidationError, match="'phone' is not a Klaviyo profile attribute"):
        KlaviyoDestination.config_model.model_validate(
            config("http://x", sync={"mapping": {"email": "email", "phone": "phone"}})
        )
    with pytest.raises(ValidationError, match="must be mapped to one of email"):
        KlaviyoDestination.config_model.model_validate(
            config("http://x", sync={"mapping": {"first_name": "first_name"}})
        )


def test_import_upserts_profiles_into_the_list(klaviyo: tuple[KlaviyoFake, str]) -> None:
    fake, url = klaviyo
    connector = opened(url)
    first = opened(url)
    assert connector.list_id == first.list_id  # found by name, not created twice
    result = connector.upsert(Batch("s", "upsert", records(person(1), person(2))))
    assert result.rejected == {}
    assert members(fake) == {"person.1@example.com", "person.2@example.com"}
    profile = next(
        p for p in fake.profiles.values() if p.attributes["email"] == "person.1@example.com"
    )
    assert profile.attributes["phone_number"] == "+12128010001"
    assert profile.attributes["location"] == {"city": "New York", "country": "US"}
    assert profile.attributes["properties"] == {"surname": "O'Doeb"}
    connector.upsert(Batch("s", "upsert", records(person(1))))
    assert len(fake.profiles) == 2  # idempotent re-send


def test_invalid_values_rejected_before_sending(klaviyo: tuple[KlaviyoFake, str]) -> None:
    fake, url = klaviyo
    connector = opened(url)
    result = connector.upsert(Batch("s", "upsert", records(person(1), person(2, phone="12"))))
    assert result.rejected == {
        "Person.2@Example.com ": "phone_number: not a valid phone number for its country"
    }
    assert members(fake) == {"person.1@example.com"}


def test_async_import_errors_become_record_rejections(klaviyo: tuple[KlaviyoFake, str]) -> None:
    fake, url = klaviyo
    connector = opened(url, on_invalid_value="drop")
    # A phone Klaviyo refuses although it passed our checks: report it by profile index.
    original = connector._attributes

    def loose(fields: dict[str, Any]) -> dict[str, Any]:
        attributes = original(fields)
        if attributes["email"] == "person.2@example.com":
            attributes["phone_number"] = "212-not-e164"
        return attributes

    connector._attributes = loose  # type: ignore[method-assign]
    result = connector.upsert(Batch("s", "upsert", records(person(1), person(2), person(3))))
    assert result.rejected == {
        "Person.2@Example.com ": "Klaviyo: Invalid phone number format: 212-not-e164"
    }
    assert members(fake) == {"person.1@example.com", "person.3@example.com"}


def test_refused_profile_is_rejected_and_the_rest_resent(klaviyo: tuple[KlaviyoFake, str]) -> None:
    fake, url = klaviyo
    connector = opened(url)
    fake.invalid_mode = "reject"
    original = connector._attributes

    def broken(fields: dict[str, Any]) -> dict[str, Any]:
        attributes = original(fields)
        if attributes["email"] == "person.2@example.com":
            attributes["email"] = "person.2@@example"
        return attributes

    connector._attributes = broken  # type: ignore[method-assign]
    result = connector.upsert(Batch("s", "upsert", records(person(1), person(2), person(3))))
    assert list(result.rejected) == ["Person.2@Example.com "]
    assert members(fake) == {"person.1@example.com", "person.3@example.com"}


def test_remove_looks_up_profile_ids_by_email(klaviyo: tuple[KlaviyoFake, str]) -> None:
    fake, url = klaviyo
    connector = opened(url)
    connector.upsert(Batch("s", "upsert", records(*(person(i) for i in range(1, 6)))))
    removal = Batch(
        "s",
        "remove",
        tuple(Record(key=f"Person.{i}@Example.com ", change="remove") for i in (1, 2, 9)),
    )
    for _ in range(2):
        assert connector.remove(removal).rejected == {}
    assert members(fake) == {f"person.{i}@example.com" for i in (3, 4, 5)}
    assert len(fake.profiles) == 5  # removed from the list, never deleted


def test_bad_key_is_terminal(klaviyo: tuple[KlaviyoFake, str]) -> None:
    fake, url = klaviyo
    fake.keys.clear()
    connector = build_connector(KlaviyoDestination, config(url), url)
    with pytest.raises(TerminalError, match="refused the API key \\(HTTP 401"):
        connector.check()


def test_throttled_reads_wait_for_retry_after_without_restarting_the_job(
    klaviyo: tuple[KlaviyoFake, str],
) -> None:
    fake, url = klaviyo
    connector = opened(url)
    fake.tiers["M"] = (2, 1000)
    fake.windows.clear()
    delivery = deliver(connector, Batch("s", "upsert", records(person(1), person(2))), FAST_RETRY)
    assert delivery.error is None and len(delivery.confirmed) == 2
    assert fake.throttled >= 1
    assert delivery.retries == 0 and len(fake.jobs) == 1  # a throttled poll did not restart it
    assert members(fake) == {"person.1@example.com", "person.2@example.com"}


@pytest.mark.slow
def test_end_to_end_mirror_sync_equals_the_consented_audience(
    klaviyo: tuple[KlaviyoFake, str], scratch_project: Project
) -> None:
    fake, url = klaviyo
    people = [person(i) for i in range(1, 26)]
    for p in people[:3]:
        p["consent_marketing"] = False
    people[3]["consent_advertising"] = False  # irrelevant to a messaging destination
    cfg = config(url, batch_size=6)

    def expected() -> set[str]:
        return {
            p["email"].strip().lower()
            for p in people
            if p["in_audience"] and p["consent_marketing"]
        }

    with connect(scratch_project) as wh:
        write_people(wh, people)
        first = run(wh, make_job("klaviyo", KlaviyoDestination, cfg), scratch_project.root)
        assert first.status == "success", first.error
        assert members(fake) == expected()
        people[4]["consent_marketing"] = False
        people[5]["in_audience"] = False
        write_people(wh, people)
        second = run(wh, make_job("klaviyo", KlaviyoDestination, cfg), scratch_project.root)
        assert second.confirmed["remove"] == 2
        assert members(fake) == expected()


def test_throttled_import_is_retried_by_the_engine(klaviyo: tuple[KlaviyoFake, str]) -> None:
    fake, url = klaviyo
    connector = opened(url)
    fake.faults.configure({"script": [{"status": 429, "retry_after": 0.1}]})
    delivery = deliver(connector, Batch("s", "upsert", records(person(1))), FAST_RETRY)
    assert delivery.error is None and delivery.retries == 1
    assert members(fake) == {"person.1@example.com"}


def test_imports_split_under_5_mb_and_removals_in_chunks_of_1000(
    klaviyo: tuple[KlaviyoFake, str],
) -> None:
    fake, url = klaviyo
    connector = opened(url)
    bulky = [
        Record(
            key=f"big{i}@x.co",
            change="add",
            fields={"email": f"big{i}@x.co", "properties.notes": "x" * 90_000},
        )
        for i in range(60)
    ]  # ~5.4 MB in one batch: two import jobs
    assert connector.upsert(Batch("s", "upsert", tuple(bulky))).rejected == {}
    assert len(fake.jobs) == 2
    many = [
        Record(key=f"p{i}@x.co", change="add", fields={"email": f"p{i}@x.co"}) for i in range(1_200)
    ]
    connector.upsert(Batch("s", "upsert", tuple(many)))
    removal = Batch("s", "remove", tuple(Record(key=r.key, change="remove") for r in many))
    assert connector.remove(removal).rejected == {}
    assert members(fake) == {f"big{i}@x.co" for i in range(60)}
    deletes = [r for r in fake.requests if r[0] == "DELETE"]
    assert len(deletes) == 2  # 1,200 ids: 1,000 + 200
