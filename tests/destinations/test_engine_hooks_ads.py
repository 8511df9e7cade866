"""Engine hooks end to end with the ad-platform fakes over real HTTP: a full resync replaces a
Meta audience (and is repeated until one completes), and removals carry every match key last
uploaded (Meta multi-key DELETE rows, Google Data Manager members)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cdpkit.destinations.base import Batch, PlanInfo, Record
from cdpkit.destinations.google_customer_match import GoogleCustomerMatchDestination
from cdpkit.destinations.meta_custom_audience import MetaCustomAudienceDestination
from cdpkit.project import Project
from cdpkit.sandbox import fakes_meta_payload as wire
from cdpkit.sandbox.fakes_google import Customer, GoogleFake
from cdpkit.sandbox.fakes_meta import MetaFake
from cdpkit.sandbox.server import Sandbox
from cdpkit.warehouse import connect

from .adsync_harness import build_connector, make_job, person, run, write_people

TOKEN = "sandbox-meta-token"
META_MAPPING = {
    "email": "email",
    "PHONE": "phone",
    "FN": "first_name",
    "LN": "last_name",
    "CT": "city",
    "COUNTRY": "country",
}


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def email_hash(p: dict[str, Any]) -> str:
    return sha(p["email"].strip().lower())


class RecordingMetaFake(MetaFake):
    """The Meta fake, also keeping the schema and rows of every removal request."""

    def __init__(self) -> None:
        super().__init__()
        self.removals: list[tuple[list[str], list[Any]]] = []

    def _users(self, audience: Any, params: dict[str, Any], *, remove: bool) -> Any:
        if remove:
            self.removals.append(wire.payload(params))
        return super()._users(audience, params, remove=remove)


@pytest.fixture(scope="module")
def meta_server() -> Iterator[tuple[RecordingMetaFake, Sandbox]]:
    fake = RecordingMetaFake()
    with Sandbox(port=0, fakes=[fake]) as server:
        yield fake, server


@pytest.fixture
def meta(
    meta_server: tuple[RecordingMetaFake, Sandbox], monkeypatch: pytest.MonkeyPatch
) -> tuple[RecordingMetaFake, str]:
    fake, server = meta_server
    fake.reset()
    fake.removals.clear()
    monkeypatch.setenv("META_TOKEN", TOKEN)
    return fake, server.url("meta")


def meta_config(url: str, **overrides: Any) -> dict[str, Any]:
    return {
        "type": "meta_custom_audience",
        "base_url": url,
        "access_token": "${META_TOKEN}",
        "ad_account_id": "1000000001",
        "batch_size": 7,
        "retry": {"base_delay_s": 0.01, "max_delay_s": 0.05},
        "syncs": [
            {
                "audience": "vip",
                "mode": "mirror",
                "identifier": "email",
                "mapping": dict(META_MAPPING),
                "list": "VIP customers",
            }
        ],
        **overrides,
    }


@pytest.mark.slow
def test_meta_full_resync_replaces_the_audience_and_removals_send_every_key(
    meta: tuple[RecordingMetaFake, str], scratch_project: Project
) -> None:
    fake, url = meta
    people = [person(i) for i in range(1, 21)]
    job = make_job("meta", MetaCustomAudienceDestination, meta_config(url))
    root = scratch_project.root

    def members() -> set[str]:
        audience = fake.audience_named("VIP customers")
        assert audience is not None
        return audience.members.values("EMAIL")

    with connect(scratch_project) as wh:
        write_people(wh, people)
        first = run(wh, job, root)
        assert first.status == "success" and first.confirmed["add"] == 20
        assert members() == {email_hash(p) for p in people}

        # A leaver is removed with every key it was uploaded with, not by its email alone.
        people[3]["in_audience"] = False
        write_people(wh, people)
        second = run(wh, job, root)
        assert second.confirmed["remove"] == 1
        [(schema, rows)] = fake.removals
        assert schema == ["EMAIL", "PHONE", "LN", "FN", "CT", "COUNTRY"]
        assert rows[0][0] == email_hash(people[3]) and all(rows[0])  # every key hashed
        assert email_hash(people[3]) not in members()

        # Out of band, the audience lost members and gained strangers: a normal run cannot
        # see it; a full resync replaces the audience with exactly the current members.
        audience = fake.audience_named("VIP customers")
        assert audience is not None
        audience.members.remove({("EMAIL", email_hash(people[0]))})
        audience.members.add({("EMAIL", sha("stranger@example.com"))})
        people[4]["in_audience"] = False  # and one more leaver
        write_people(wh, people)
        before = len(fake.requests)
        resync = run(wh, job, root, full_resync=True)
        assert resync.status == "success" and resync.full_resync, resync.error
        assert resync.confirmed == {"add": 0, "update": 18, "remove": 1}
        current = {email_hash(p) for p in people if p["in_audience"]}
        assert members() == current  # stranger gone, people[0] back, people[4] out
        sent = fake.requests[before:]
        assert any(path.endswith("/usersreplace") for _, path in sent)
        assert not any(path.endswith("/users") for _, path in sent)  # no add/remove calls
        assert len(fake.removals) == 1  # the leaver went with the replace, no DELETE

        # A resync that dies half way leaves the audience as it was (Meta never swapped it);
        # the next run notices and resyncs again instead of trusting what it confirmed.
        fake.faults.configure(
            {
                "script": [
                    {},
                    {},
                    {},
                    {
                        "status": 400,
                        "body": {"error": {"code": 190, "message": "Session has expired"}},
                    },
                ]
            }
        )
        people[5]["in_audience"] = False
        write_people(wh, people)
        broken = run(wh, job, root, full_resync=True)
        assert broken.status == "failed" and "expired" in (broken.error or "")
        assert members() == current  # unchanged: the replace was never committed
        assert audience.replace is not None  # the abandoned session blocks other uploads
        fake.replace_timeout_s = 0.2  # ... until it expires (Meta: about 90 minutes)
        time.sleep(0.3)
        assert fake._replace_expired(audience)
        fake.replace_timeout_s = 90 * 60
        again = run(wh, job, root)  # a normal run...
        assert again.full_resync and again.status == "success", again.error  # ...resyncs
        assert members() == {email_hash(p) for p in people if p["in_audience"]}
        calm = run(wh, job, root)
        assert not calm.full_resync and sum(calm.sent.values()) == 0


# -- Google: removals with every identifier ---------------------------------------------------
CID = "1234567890"
GOOGLE_MAPPING = {
    "email": "email",
    "phone": "phone",
    "first_name": "first_name",
    "last_name": "last_name",
    "country": "country",
}


@pytest.fixture(scope="module")
def google_server() -> Iterator[tuple[GoogleFake, Sandbox]]:
    fake = GoogleFake(customers=[Customer(CID, manager="7770007777")], job_run_delay_s=0.05)
    with Sandbox(port=0, fakes=[fake]) as server:
        yield fake, server


@pytest.fixture
def google(
    google_server: tuple[GoogleFake, Sandbox], monkeypatch: pytest.MonkeyPatch
) -> tuple[GoogleFake, str]:
    fake, server = google_server
    fake.reset()
    monkeypatch.setenv("GOOGLE_TOKEN", "sandbox-google-token")
    monkeypatch.setenv("GOOGLE_DEV", "sandbox-dev-token")
    return fake, server.url("google")


def test_google_removals_send_every_identifier_last_uploaded(
    google: tuple[GoogleFake, str],
) -> None:
    fake, url = google
    cfg = {
        "type": "google_customer_match",
        "base_url": url,
        "ads_base_url": url,
        "token_url": f"{url}/token",
        "customer_id": "123-456-7890",
        "login_customer_id": "777-000-7777",
        "access_token": "${GOOGLE_TOKEN}",
        "developer_token": "${GOOGLE_DEV}",
        "syncs": [
            {"audience": "vip", "mode": "mirror", "identifier": "email", "mapping": GOOGLE_MAPPING}
        ],
    }
    connector = build_connector(GoogleCustomerMatchDestination, cfg, url, root=Path("."))
    assert isinstance(connector, GoogleCustomerMatchDestination)
    connector.check()
    connector.open(PlanInfo(adds=2, updates=0, removes=2, audience_size=2))
    people = [person(1), person(2)]
    fields = [{k: p[v] for k, v in GOOGLE_MAPPING.items()} for p in people]
    adds = tuple(Record(p["email"], "add", f) for p, f in zip(people, fields, strict=True))
    connector.upsert(Batch("s", "upsert", adds))
    assert connector.dm is not None
    sent: list[tuple[str, list[Any]]] = []
    real_send = connector.dm.send

    def spy(verb: str, members: list[Any]) -> Any:
        sent.append((verb, members))
        return real_send(verb, members)

    connector.dm.send = spy  # type: ignore[method-assign]
    result = connector.remove(
        Batch(
            "s",
            "remove",
            (
                Record(people[0]["email"], "remove", fields[0]),  # from the sync state
                Record(people[1]["email"], "remove"),  # state from before fields were kept
            ),
        )
    )
    assert result.rejected == {}
    [(verb, members)] = sent
    with_fields, bare = (member["userData"]["userIdentifiers"] for _, member in members)
    assert verb == "remove"
    kinds = {kind for identifier in with_fields for kind in identifier}
    assert {"emailAddress", "phoneNumber"} <= kinds  # every identifier uploaded
    assert [list(i) for i in bare] == [["emailAddress"]]  # the key alone
    user_list = fake.list_named("vip")
    assert user_list is not None and len(user_list.members) == 0
