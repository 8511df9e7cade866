"""The fakes `cdpkit sandbox` serves. A connector's fake adds one line to FAKES."""

from __future__ import annotations

import importlib

from cdpkit.sandbox.fake import Fake

FAKES: dict[str, str] = {
    "webhook": "cdpkit.sandbox.webhook:WebhookFake",
    "hubspot": "cdpkit.sandbox.fakes_hubspot:HubSpotFake",
    "salesforce": "cdpkit.sandbox.fakes_salesforce:SalesforceFake",
    "meta": "cdpkit.sandbox.fakes_meta:MetaFake",
    "google": "cdpkit.sandbox.fakes_google:GoogleFake",
    "klaviyo": "cdpkit.sandbox.fakes_klaviyo:KlaviyoFake",
    "braze": "cdpkit.sandbox.fakes_braze:BrazeFake",
}


def fake_class(name: str) -> type[Fake]:
    module_name, _, attr = FAKES[name].partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    assert issubclass(cls, Fake) and cls.name == name
    return cls


def default_fakes() -> list[Fake]:
    """One instance of every registered fake, with its default settings."""
    return [fake_class(name)() for name in FAKES]
