"""Meta Custom Audiences connector against the Meta fake over real HTTP."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from cdpkit.destinations.base import Batch, PlanInfo, Record, RunSummary
from cdpkit.destinations.errors import TerminalError
from cdpkit.destinations.meta_custom_audience import MetaCustomAudienceDestination
from cdpkit.project import Project
from cdpkit.sandbox.fakes_meta import MetaFake
from cdpkit.sandbox.server import Sandbox
from cdpkit.sync.delivery import deliver
from cdpkit.sync.retry import RetryPolicy
from cdpkit.warehouse import connect

from .adsync_harness import build_connector, make_job, person, run, write_people

TOKEN = "sandbox-meta-token"
FAST_RETRY = RetryPolicy(max_attempts=6, base_delay_s=0.05, max_delay_s=0.3, max_elapsed_s=30)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[tuple[MetaFake, Sandbox]]:
    fake = MetaFake()
    with Sandbox(port=0, fakes=[fake]) as server:
        yield fake, server


@pytest.fixture
def meta(
    sandbox: tuple[MetaFake, Sandbox], monkeypatch: pytest.MonkeyPatch
) -> tuple[MetaFake, str]:
    fake, server = sandbox
    fake.reset()
    monkeypatch.setenv("META_TOKEN", TOKEN)
    return fake, server.url("meta")


def config(url: str, **overrides: Any) -> dict[str, Any]:
    sync = {
        "audience": "vip",
        "mode": "mirror",
        "identifier": "email",
        "mapping": {
            "email": "email",
            "PHONE": "phone",
            "FN": "first_name",
            "LN": "last_name",
            "CT": "city",
            "COUNTRY": "country",
        },
        "list": "VIP customers",
    }
    sync.update(overrides.pop("sync", {}))
    return {
        "type": "meta_custom_audience",
        "base_url": url,
        "access_token": "${META_TOKEN}",
        "ad_account_id": "1000000001",
        "syncs": [sync],
        **overrides,
    }


def records(*people: dict[str, Any]) -> tuple[Record, ...]:
    mapping = {
        "EMAIL": "email",
        "PHONE": "phone",
        "FN": "first_name",
        "LN": "last_name",
        "CT": "city",
        "COUNTRY": "country",
    }
    return tuple(
        Record(key=p["email"], change="add", fields={k: p[v] for k, v in mapping.items()})
        for p in people
    )


def opened(url: str, **overrides: Any) -> MetaCustomAudienceDestination:
    connector = build_connector(MetaCustomAudienceDestination, config(url, **overrides), url)
    assert isinstance(connector, MetaCustomAudienceDestination)
    connector.check()
    connector.open(PlanInfo(adds=10, updates=0, removes=0, audience_size=10))
    return connector


def test_config_maps_meta_keys_case_insensitively_and_rejects_unknown_ones() -> None:
    loaded = MetaCustomAudienceDestination.config_model.model_validate(config("http://x"))
    assert dict(loaded.syncs[0].mapping)["EMAIL"] == "email"
    with pytest.raises(
        ValidationError, match="'EMIAL' is not a field Meta Custom Audiences accepts"
    ):
        MetaCustomAudienceDestination.config_model.model_validate(
            config("http://x", sync={"mapping": {"EMIAL": "email"}})
        )
    with pytest.raises(ValidationError, match="identifier 'email' must be mapped to one of EMAIL"):
        MetaCustomAudienceDestination.config_model.model_validate(
            config("http://x", sync={"mapping": {"FN": "first_name"}})
        )
    with pytest.raises(ValidationError, match="a secret must be an environment variable"):
        MetaCustomAudienceDestination.config_model.model_validate(
            {**config("http://x"), "access_token": "EAAB-literal"}
        )


def test_find_or_create_audience_by_name(meta: tuple[MetaFake, str]) -> None:
    fake, url = meta
    first = opened(url)
    second = opened(url)
    assert first.audience_id == second.audience_id
    assert [a.name for a in fake.audiences.values()] == ["VIP customers"]
    assert fake.audiences[first.audience_id].file_source == "USER_PROVIDED_ONLY"


def test_upsert_sends_normalized_hashed_multikey_rows(meta: tuple[MetaFake, str]) -> None:
    fake, url = meta
    connector = opened(url)
    people = [person(1), person(2, phone="+44 20 7946 0958", country="GB", city="São Paulo")]
    result = connector.upsert(Batch("s", "upsert", records(*people)))
    assert result.rejected == {}
    audience = fake.audiences[connector.audience_id]
    assert audience.members.values("EMAIL") == {
        sha("person.1@example.com"),
        sha("person.2@example.com"),
    }
    assert audience.members.values("PHONE") == {sha("12128010001"), sha("442079460958")}
    assert audience.members.values("CT") == {sha("newyork"), sha("saopaulo")}
    assert audience.members.values("COUNTRY") == {sha("us"), sha("gb")}
    assert audience.members.values("LN") == {sha("odoeb"), sha("odoec")}
    assert connector.received == 2 and connector.invalid == 0


def test_invalid_values_are_rejected_with_reasons_and_never_sent(
    meta: tuple[MetaFake, str],
) -> None:
    fake, url = meta
    connector = opened(url)
    batch = Batch(
        "s", "upsert", records(person(1), person(2, email="not-an-email"), person(3, phone="123"))
    )
    result = connector.upsert(batch)
    assert result.rejected == {
        "not-an-email": "EMAIL: not an email address (needs one '@' with a name before it)",
        "Person.3@Example.com ": "PHONE: not a valid phone number for its country",
    }
    audience = fake.audiences[connector.audience_id]
    assert audience.members.values("EMAIL") == {sha("person.1@example.com")}


def test_drop_policy_sends_the_valid_keys(meta: tuple[MetaFake, str]) -> None:
    fake, url = meta
    connector = opened(url, on_invalid_value="drop")
    result = connector.upsert(Batch("s", "upsert", records(person(3, phone="123"))))
    assert result.rejected == {}
    audience = fake.audiences[connector.audience_id]
    assert audience.members.values("EMAIL") == {sha("person.3@example.com")}
    assert audience.members.values("PHONE") == set()


def test_remove_by_identifier_and_idempotent_resends(meta: tuple[MetaFake, str]) -> None:
    fake, url = meta
    connector = opened(url)
    batch = Batch("s", "upsert", records(person(1), person(2)))
    for _ in range(3):
        assert connector.upsert(batch).rejected == {}
    audience = fake.audiences[connector.audience_id]
    assert len(audience.members) == 2
    removal = Batch("s", "remove", (Record(key="Person.1@Example.com ", change="remove"),))
    for _ in range(2):
        assert connector.remove(removal).rejected == {}
    assert audience.members.values("EMAIL") == {sha("person.2@example.com")}


def test_expired_token_is_terminal_with_an_actionable_message(meta: tuple[MetaFake, str]) -> None:
    fake, url = meta
    fake.expired_tokens.add(TOKEN)
    connector = build_connector(MetaCustomAudienceDestination, config(url), url)
    with pytest.raises(TerminalError) as caught:
        connector.check()
    message = str(caught.value)
    assert "Meta error 190/463" in message and "META_TOKEN" in message
    assert TOKEN not in message


def test_throttling_by_error_code_is_retried(meta: tuple[MetaFake, str]) -> None:
    fake, url = meta
    connector = opened(url)
    fake.calls_per_window, fake.window_s = 1, 0.2
    fake.budget.clear()
    batches = [Batch("s", "upsert", records(person(i))) for i in range(3)]
    deliveries = [deliver(connector, b, FAST_RETRY) for b in batches]
    assert all(d.error is None and len(d.confirmed) == 1 for d in deliveries)
    assert fake.throttled >= 1
    assert sum(d.retries for d in deliveries) == fake.throttled
    assert len(fake.audiences[connector.audience_id].members) == 3


def test_invalid_entries_named_by_samples_become_record_rejections(
    meta: tuple[MetaFake, str],
) -> None:
    fake, url = meta
    connector = opened(url)
    bad = sha("person.2@example.com")
    fake.faults.configure(
        {
            "script": [
                {
                    "status": 200,
                    "body": {
                        "audience_id": connector.audience_id,
                        "session_id": "1",
                        "num_received": 2,
                        "num_invalid_entries": 1,
                        "invalid_entry_samples": {bad: "not a user"},
                    },
                }
            ]
        }
    )
    result = connector.upsert(Batch("s", "upsert", records(person(1), person(2))))
    assert result.rejected == {"Person.2@Example.com ": "Meta counted the row invalid: not a user"}
    assert connector.invalid == 1


def test_unattributed_invalid_entries_are_isolated_by_bisection(meta: tuple[MetaFake, str]) -> None:
    fake, url = meta
    connector = opened(url)
    invalid = {
        "status": 200,
        "body": {"num_received": 1, "num_invalid_entries": 1, "invalid_entry_samples": {}},
    }
    fake.faults.configure({"script": [invalid, invalid]})
    delivery = deliver(connector, Batch("s", "upsert", records(person(1), person(2))), FAST_RETRY)
    assert delivery.rejected == {
        "Person.1@Example.com ": "Meta counted the row invalid (num_invalid_entries)"
    }
    assert [r.key for r in delivery.confirmed] == ["Person.2@Example.com "]


def test_deleted_audience_is_terminal_and_says_how_to_recover(meta: tuple[MetaFake, str]) -> None:
    fake, url = meta
    connector = opened(url)
    fake.audiences[connector.audience_id].deleted = True
    with pytest.raises(TerminalError, match="--full-resync"):
        connector.upsert(Batch("s", "upsert", records(person(1))))


@dataclasses.dataclass(frozen=True)
class ResyncPlan(PlanInfo):
    full_resync: bool = True


def test_full_resync_replaces_the_audience_only_when_the_run_succeeds(
    meta: tuple[MetaFake, str],
) -> None:
    fake, url = meta
    connector = opened(url)
    connector.upsert(Batch("s", "upsert", records(person(1), person(2))))
    audience = fake.audiences[connector.audience_id]
    failed = opened(url)
    failed.open(ResyncPlan(adds=1, updates=0, removes=0, audience_size=1))
    failed.upsert(Batch("s", "upsert", records(person(9))))
    failed.close(RunSummary("failed", 1, 0))
    assert audience.members.values("EMAIL") == {
        sha("person.1@example.com"),
        sha("person.2@example.com"),
    }
    fake.replace_timeout_s = 0.5
    time.sleep(0.6)  # the abandoned session expires (Meta: ~90 minutes)
    resync = opened(url)
    resync.open(ResyncPlan(adds=3, updates=0, removes=0, audience_size=3))
    resync.upsert(Batch("s", "upsert", records(person(2), person(3))))
    resync.upsert(Batch("s", "upsert", records(person(4))))
    assert len(audience.members) == 2  # nothing swapped before the last batch
    resync.close(RunSummary("success", 3, 0))
    assert audience.members.values("EMAIL") == {
        sha("person.2@example.com"),
        sha("person.3@example.com"),
        sha("person.4@example.com"),
    }


@pytest.mark.parametrize("mode", ["upsert", "add_only"])
def test_full_resync_outside_mirror_mode_adds_and_keeps_who_left(
    meta: tuple[MetaFake, str], mode: str
) -> None:
    fake, url = meta
    first = opened(url, sync={"mode": mode})
    first.upsert(Batch("s", "upsert", records(person(1), person(2))))
    audience = fake.audiences[first.audience_id]
    resync = opened(url, sync={"mode": mode})
    resync.open(ResyncPlan(adds=0, updates=2, removes=0, audience_size=2))
    resync.upsert(Batch("s", "upsert", records(person(2), person(3))))
    resync.close(RunSummary("success", 2, 0))
    assert audience.members.values("EMAIL") == {  # person 1 left the audience: still there
        sha("person.1@example.com"),
        sha("person.2@example.com"),
        sha("person.3@example.com"),
    }


def test_sandbox_control_api_reports_members(meta: tuple[MetaFake, str]) -> None:
    import requests

    fake, url = meta
    connector = opened(url)
    connector.upsert(Batch("s", "upsert", records(person(1))))
    control = url.replace("/meta", "/_sandbox/meta")
    members = requests.get(f"{control}/members", params={"audience": "VIP customers"}, timeout=10)
    assert members.json()["EMAIL"] == [sha("person.1@example.com")]


@pytest.mark.slow
def test_end_to_end_mirror_sync_equals_the_consented_audience(
    meta: tuple[MetaFake, str], scratch_project: Project
) -> None:
    fake, url = meta
    people = [person(i) for i in range(1, 41)]
    for p in people[:6]:
        p["consent_advertising"] = False  # never uploaded
    people[6]["email"] = "broken@"  # rejected with a reason, never sent
    cfg = config(url, batch_size=7)

    def expected() -> set[str]:
        return {
            sha(p["email"].strip().lower())
            for p in people
            if p["in_audience"] and p["consent_advertising"] and "@example" in p["email"].lower()
        }

    with connect(scratch_project) as wh:
        write_people(wh, people)
        job = make_job("meta", MetaCustomAudienceDestination, cfg)
        first = run(wh, job, scratch_project.root)
        assert first.status == "partial" and first.rejected["add"] == 1
        assert first.confirmed["add"] == 33
        audience = fake.audience_named("VIP customers")
        assert audience is not None
        assert audience.members.values("EMAIL") == expected()
        people[10]["consent_advertising"] = False  # consent revoked -> removed
        people[11]["in_audience"] = False  # left the audience -> removed
        people.append(person(99))  # joined
        write_people(wh, people)
        second = run(wh, make_job("meta", MetaCustomAudienceDestination, cfg), scratch_project.root)
        assert second.confirmed["remove"] == 2 and second.confirmed["add"] == 1
        assert audience.members.values("EMAIL") == expected()
        before = len(fake.requests)
        third = run(wh, make_job("meta", MetaCustomAudienceDestination, cfg), scratch_project.root)
        assert third.confirmed == {"add": 0, "update": 0, "remove": 0}
        assert not [r for r in fake.requests[before:] if r[1].endswith("/users")]
        assert audience.members.values("EMAIL") == expected()
