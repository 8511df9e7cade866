"""Braze connector against the Braze fake over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from cdpkit.destinations.base import Batch, Record
from cdpkit.destinations.braze import BrazeDestination
from cdpkit.destinations.errors import TerminalError
from cdpkit.project import Project
from cdpkit.sandbox.fakes_braze import BrazeFake
from cdpkit.sandbox.fakes_support import FixedWindow
from cdpkit.sandbox.server import Sandbox
from cdpkit.sync.delivery import deliver
from cdpkit.sync.retry import RetryPolicy
from cdpkit.warehouse import connect

from .adsync_harness import build_connector, make_job, person, run, write_people

FAST_RETRY = RetryPolicy(max_attempts=6, base_delay_s=0.05, max_delay_s=0.3, max_elapsed_s=30)
MAPPING = {
    "external_id": "customer_id",
    "email": "email",
    "phone": "phone",
    "first_name": "first_name",
    "country": "country",
    "home_city": "city",
}
FIELDS = ("email", "phone", "first_name", "last_name", "city", "country")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[tuple[BrazeFake, Sandbox]]:
    fake = BrazeFake()
    with Sandbox(port=0, fakes=[fake]) as server:
        yield fake, server


@pytest.fixture
def braze(
    sandbox: tuple[BrazeFake, Sandbox], monkeypatch: pytest.MonkeyPatch
) -> tuple[BrazeFake, str]:
    fake, server = sandbox
    fake.reset()
    monkeypatch.setenv("BRAZE_KEY", "sandbox-braze-key")
    return fake, server.url("braze")


def config(url: str, **overrides: Any) -> dict[str, Any]:
    sync = {
        "audience": "vip",
        "mode": "mirror",
        "identifier": "customer_id",
        "mapping": dict(MAPPING),
    }
    sync.update(overrides.pop("sync", {}))
    return {
        "type": "braze",
        "base_url": url,
        "api_key": "${BRAZE_KEY}",
        "syncs": [sync],
        **overrides,
    }


def records(*people: dict[str, Any]) -> tuple[Record, ...]:
    return tuple(
        Record(key=p["customer_id"], change="add", fields={k: p[v] for k, v in MAPPING.items()})
        for p in people
    )


def connector(url: str, **overrides: Any) -> BrazeDestination:
    built = build_connector(BrazeDestination, config(url, **overrides), url)
    assert isinstance(built, BrazeDestination)
    built.check()
    return built


def members(fake: BrazeFake, attribute: str = "in_vip") -> set[str]:
    return {value for (kind, value), user in fake.users.items() if user.get(attribute) is True}


def test_config_checks() -> None:
    with pytest.raises(ValidationError, match="must be mapped to one of external_id"):
        BrazeDestination.config_model.model_validate(
            config("http://x", sync={"mapping": {"first_name": "first_name"}})
        )
    with pytest.raises(ValidationError, match="over Braze's 50 objects"):
        BrazeDestination.config_model.model_validate(
            config("http://x", limit_mode="mau", batch_size=60)
        )


def test_members_get_the_boolean_attribute_and_mapped_attributes(
    braze: tuple[BrazeFake, str],
) -> None:
    fake, url = braze
    destination = connector(
        url, subscription_group={"id": "sg-newsletter", "on_remove": "unsubscribed"}
    )
    result = destination.upsert(Batch("s", "upsert", records(person(1), person(2))))
    assert result.rejected == {}
    user = fake.user("external_id", "c00001")
    assert user is not None
    assert user["email"] == "person.1@example.com" and user["phone"] == "+12128010001"
    assert user["home_city"] == "New York" and user["in_vip"] is True
    assert user["subscription_groups"] == {"sg-newsletter": "subscribed"}
    removal = Batch(
        "s",
        "remove",
        (Record(key="c00001", change="remove"), Record(key="c09999", change="remove")),
    )
    assert destination.remove(removal).rejected == {}
    assert members(fake) == {"c00002"}
    assert fake.user("external_id", "c00001")["subscription_groups"] == {
        "sg-newsletter": "unsubscribed"
    }  # type: ignore[index]
    assert fake.user("external_id", "c09999") is None  # never created just to be removed


def test_array_membership(braze: tuple[BrazeFake, str]) -> None:
    fake, url = braze
    destination = connector(url, membership={"type": "array", "attribute": "audiences"})
    destination.upsert(Batch("s", "upsert", records(person(1))))
    destination.upsert(Batch("s", "upsert", records(person(1))))
    assert fake.user("external_id", "c00001")["audiences"] == ["vip"]  # type: ignore[index]
    destination.remove(Batch("s", "remove", (Record(key="c00001", change="remove"),)))
    assert fake.user("external_id", "c00001")["audiences"] == []  # type: ignore[index]


def test_invalid_values_and_partial_errors_are_record_rejections(
    braze: tuple[BrazeFake, str],
) -> None:
    fake, url = braze
    destination = connector(url)
    bad_phone = person(2, phone="12")
    result = destination.upsert(Batch("s", "upsert", records(person(1), bad_phone)))
    assert result.rejected == {"c00002": "phone: not a valid phone number for its country"}
    fake.faults.configure(
        {
            "script": [
                {
                    "status": 201,
                    "body": {
                        "message": "success",
                        "errors": [
                            {
                                "type": "Invalid subscription group ID.",
                                "input_array": "attributes",
                                "index": 1,
                            }
                        ],
                    },
                }
            ]
        }
    )
    partial = destination.upsert(Batch("s", "upsert", records(person(3), person(4), person(5))))
    assert partial.rejected == {"c00004": "Braze: Invalid subscription group ID."}


def test_requests_never_exceed_the_object_limit(braze: tuple[BrazeFake, str]) -> None:
    fake, url = braze
    fake.limit_mode = "mau"
    destination = connector(url, limit_mode="mau")
    batch = Batch("s", "upsert", records(*(person(i) for i in range(1, 121))))
    assert destination.upsert(batch).rejected == {}
    assert len(members(fake)) == 120


def test_unknown_key_is_terminal(braze: tuple[BrazeFake, str]) -> None:
    fake, url = braze
    fake.permissions.clear()
    with pytest.raises(TerminalError, match="refused the REST API key \\(HTTP 401"):
        connector(url)


def test_429_waits_until_the_rate_limit_reset(braze: tuple[BrazeFake, str]) -> None:
    fake, url = braze
    destination = connector(url)
    fake.window = FixedWindow(1, 0.5)
    batches = [Batch("s", "upsert", records(person(i))) for i in (1, 2)]
    deliveries = [deliver(destination, b, FAST_RETRY) for b in batches]
    assert all(d.error is None for d in deliveries)
    assert fake.throttled >= 1 and sum(d.retries for d in deliveries) >= 1
    assert members(fake) == {"c00001", "c00002"}


@pytest.mark.slow
def test_end_to_end_mirror_sync_equals_the_consented_audience(
    braze: tuple[BrazeFake, str], scratch_project: Project
) -> None:
    fake, url = braze
    people = [person(i) for i in range(1, 31)]
    for p in people[:4]:
        p["consent_marketing"] = False
    cfg = config(url, batch_size=9)
    cfg["syncs"][0]["mapping"] = {
        "external_id": "customer_id",
        "email": "email",
        "first_name": "first_name",
    }

    def expected() -> set[str]:
        return {p["customer_id"] for p in people if p["in_audience"] and p["consent_marketing"]}

    with connect(scratch_project) as wh:
        write_people(wh, people)
        job = make_job("braze", BrazeDestination, cfg, fields=("customer_id", *FIELDS))
        first = run(wh, job, scratch_project.root)
        assert first.status == "success", first.error
        assert members(fake) == expected()
        people[5]["consent_marketing"] = False
        people[6]["in_audience"] = False
        write_people(wh, people)
        second = run(
            wh,
            make_job("braze", BrazeDestination, cfg, fields=("customer_id", *FIELDS)),
            scratch_project.root,
        )
        assert second.confirmed["remove"] == 2
        assert members(fake) == expected()
