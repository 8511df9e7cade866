"""The shared destination contract (contract.py) for Meta, Google, Klaviyo and Braze, against
the sandbox's fakes over real HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cdpkit.destinations.braze import BrazeDestination
from cdpkit.destinations.google_customer_match import GoogleCustomerMatchDestination
from cdpkit.destinations.klaviyo import KlaviyoDestination
from cdpkit.destinations.meta_custom_audience import MetaCustomAudienceDestination
from cdpkit.sandbox.server import Sandbox
from cdpkit.sync.config import DestinationConfig

from .adsync_controls import BrazeControl, GoogleControl, KlaviyoControl, MetaControl, meta_records
from .contract import ContractHarness, DestinationContract

SECRETS = {
    "CONTRACT_META_TOKEN": "sandbox-meta-token",
    "CONTRACT_GOOGLE_REFRESH": "sandbox-refresh-token",
    "CONTRACT_GOOGLE_SECRET": "sandbox-client-secret",
    "CONTRACT_GOOGLE_DEV": "sandbox-dev-token",
    "CONTRACT_KLAVIYO_KEY": "pk_sandbox_klaviyo",
    "CONTRACT_BRAZE_KEY": "sandbox-braze-key",
}


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)


def sync(mapping: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "audience": "contract",
            "mode": "mirror",
            "identifier": "email",
            "mapping": mapping,
            "list": "contract",
        }
    ]


def factory(
    model: type[DestinationConfig], base: dict[str, Any]
) -> Callable[..., DestinationConfig]:
    return lambda **extra: model.model_validate({**base, "timeout_s": 5, **extra})


class TestMetaContract(DestinationContract):
    @pytest.fixture
    def harness(self, sandbox: Sandbox) -> ContractHarness:
        url = sandbox.url("meta")
        base = {
            "type": "meta_custom_audience",
            "base_url": url,
            "access_token": "${CONTRACT_META_TOKEN}",
            "ad_account_id": "1000000001",
            "syncs": sync({"EMAIL": "email", "FN": "first_name"}),
        }
        return ContractHarness(
            MetaCustomAudienceDestination,
            factory(MetaCustomAudienceDestination.config_model, base),
            MetaControl(sandbox),
            records=meta_records,
            fields=("EMAIL", "FN"),
        )


class TestGoogleContract(DestinationContract):
    @pytest.fixture
    def harness(self, sandbox: Sandbox) -> ContractHarness:
        url = sandbox.url("google")
        base = {
            "type": "google_customer_match",
            "base_url": url,
            "ads_base_url": url,
            "token_url": f"{url}/token",
            "customer_id": "1234567890",
            "refresh_token": "${CONTRACT_GOOGLE_REFRESH}",
            "client_id": "sandbox-client-id",
            "client_secret": "${CONTRACT_GOOGLE_SECRET}",
            "developer_token": "${CONTRACT_GOOGLE_DEV}",
            "syncs": sync({"email": "email", "first_name": "first_name"}),
        }
        return ContractHarness(
            GoogleCustomerMatchDestination,
            factory(GoogleCustomerMatchDestination.config_model, base),
            GoogleControl(sandbox),
        )


class TestKlaviyoContract(DestinationContract):
    @pytest.fixture
    def harness(self, sandbox: Sandbox) -> ContractHarness:
        base = {
            "type": "klaviyo",
            "base_url": sandbox.url("klaviyo"),
            "api_key": "${CONTRACT_KLAVIYO_KEY}",
            "job_poll_s": 0.02,
            "syncs": sync({"email": "email", "first_name": "first_name"}),
        }
        return ContractHarness(
            KlaviyoDestination,
            factory(KlaviyoDestination.config_model, base),
            KlaviyoControl(sandbox),
        )


class TestBrazeContract(DestinationContract):
    @pytest.fixture
    def harness(self, sandbox: Sandbox) -> ContractHarness:
        base = {
            "type": "braze",
            "base_url": sandbox.url("braze"),
            "api_key": "${CONTRACT_BRAZE_KEY}",
            "syncs": sync({"email": "email", "first_name": "first_name"}),
        }
        return ContractHarness(
            BrazeDestination, factory(BrazeDestination.config_model, base), BrazeControl(sandbox)
        )
