"""The fakes' credentials come from the environment, or are made up per process: none in code."""

from __future__ import annotations

import pytest

from cdpkit.sandbox import credentials
from cdpkit.sandbox.fake import Request
from cdpkit.sandbox.fakes_hubspot import HubSpotFake


def test_an_unset_credential_is_made_up_once_and_exported(monkeypatch: pytest.MonkeyPatch) -> None:
    name = "CDPKIT_SANDBOX_TEST_CREDENTIAL"
    monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(credentials, "_made_up", {})
    first = credentials.credential(name)
    assert len(first) >= 24 and credentials.credential(name) == first
    assert credentials.made_up() == {name: first}
    monkeypatch.setenv(name, "chosen-by-the-user")
    assert credentials.credential(name) == "chosen-by-the-user"
    assert credentials.made_up() == {}  # no longer in effect: not printed as made up


def test_the_hubspot_fake_accepts_the_environment_token_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(credentials.HUBSPOT_TOKEN, "pat-local-123")
    fake = HubSpotFake()

    def status(token: str) -> int:
        request = Request(
            "GET", "/crm/v3/properties/contacts", {}, {"authorization": f"Bearer {token}"}, b""
        )
        return fake.handle(request).status

    assert status("pat-local-123") == 200
    assert status("sandbox-hubspot-token") == 401  # the old built-in default is gone
