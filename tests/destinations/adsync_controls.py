"""FakeControl implementations (see contract.py) for the Meta, Google, Klaviyo and Braze fakes.

Everything goes through the sandbox's HTTP control API. Throttling uses each vendor's own
rate-limit response (Meta error 80003, Google 429 RESOURCE_EXHAUSTED with `retryDelay`,
Klaviyo 429 `throttled`, Braze 429 with `X-RateLimit-Reset`); Meta and Braze document no
`Retry-After`, so theirs also carry one to give the shared timing assertion a wait hint (the
vendor-only signals are tested in each connector's own tests). Ad platforms hold hashes, so
`members()` maps them back to the plaintext keys the contract suite sends.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import requests

from cdpkit.destinations.base import Record
from cdpkit.sandbox.server import Sandbox

from .contract import default_records


def sha(text: str) -> str:
    return hashlib.sha256(text.strip().lower().encode()).hexdigest()


class SandboxControl:
    """The common part: faults, stats and reset through `/_sandbox/<fake>/...`."""

    fake = ""

    def __init__(self, sandbox: Sandbox) -> None:
        self.base = sandbox.control_url(self.fake)

    def faults(self, settings: dict[str, Any]) -> None:
        requests.post(f"{self.base}/faults", json=settings, timeout=10).raise_for_status()

    def get(self, action: str, **params: str) -> Any:
        response = requests.get(f"{self.base}/{action}", params=params, timeout=10)
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        requests.post(f"{self.base}/reset", timeout=10).raise_for_status()

    def fail_next(self, n: int) -> None:
        self.faults({"script": [{"status": 503, "times": n}]})

    def fail_auth(self) -> None:
        self.faults({"fail_auth": True})


class KeysByHash:
    """Plaintext keys of the records the contract suite sends, by their hash."""

    def __init__(self, limit: int = 12_000) -> None:
        self.by_hash = {sha(r.key): r.key for r in default_records(limit, 0)}

    def keys(self, hashes: list[str]) -> dict[str, dict[str, Any]]:
        return {self.by_hash[h]: {} for h in hashes if h in self.by_hash}


class MetaControl(SandboxControl):
    fake = "meta"
    audience = "contract"

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__(sandbox)
        self.hashes = KeysByHash()

    def throttle_next(self, n: int, retry_after_s: float) -> None:
        error = {
            "message": "(#80003) There have been too many calls to this ad-account. Wait a bit "
            "and try again.",
            "type": "OAuthException",
            "code": 80003,
            "is_transient": True,
            "fbtrace_id": "contract",
        }
        self.faults(
            {
                "script": [
                    {
                        "status": 400,
                        "body": {"error": error},
                        "retry_after": retry_after_s,
                        "times": n,
                    }
                ]
            }
        )

    def fail_auth(self) -> None:
        self.faults({"expired_tokens": ["sandbox-meta-token"]})

    def reject(self, key: str, reason: str) -> None:
        self.faults({"poison": {sha(key): reason}})

    def members(self) -> dict[str, dict[str, Any]]:
        found = requests.get(f"{self.base}/members", params={"audience": self.audience}, timeout=10)
        return self.hashes.keys(found.json().get("EMAIL", [])) if found.ok else {}

    def writes(self) -> int:
        return int(self.get("stats")["rows_received"])


class GoogleControl(SandboxControl):
    fake = "google"
    user_list = "contract"

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__(sandbox)
        self.hashes = KeysByHash()

    def throttle_next(self, n: int, retry_after_s: float) -> None:
        error = {
            "code": 429,
            "message": "Resource has been exhausted (e.g. check quota).",
            "status": "RESOURCE_EXHAUSTED",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.RetryInfo",
                    "retryDelay": f"{retry_after_s}s",
                }
            ],
        }
        self.faults({"script": [{"status": 429, "body": {"error": error}, "times": n}]})

    def reject(self, key: str, reason: str) -> None:
        self.faults({"poison": {sha(key): reason}})

    def members(self) -> dict[str, dict[str, Any]]:
        found = requests.get(f"{self.base}/members", params={"list": self.user_list}, timeout=10)
        return self.hashes.keys(found.json().get("emailAddress", [])) if found.ok else {}

    def writes(self) -> int:
        return int(self.get("stats")["members_received"])


class KlaviyoControl(SandboxControl):
    fake = "klaviyo"
    list_name = "contract"

    def throttle_next(self, n: int, retry_after_s: float) -> None:
        wait = max(1, math.ceil(retry_after_s))
        error = {
            "id": "contract",
            "status": 429,
            "code": "throttled",
            "title": "Request was throttled.",
            "detail": f"Request was throttled. Expected available in {wait} second.",
            "source": {"pointer": "/data"},
        }
        self.faults(
            {
                "script": [
                    {
                        "status": 429,
                        "body": {"errors": [error]},
                        "retry_after": retry_after_s,
                        "times": n,
                    }
                ]
            }
        )

    def reject(self, key: str, reason: str) -> None:
        self.faults({"poison": {key.strip().lower(): reason}})

    def members(self) -> dict[str, dict[str, Any]]:
        found = requests.get(f"{self.base}/members", params={"list": self.list_name}, timeout=10)
        return {email: {} for email in found.json()} if found.ok else {}

    def writes(self) -> int:
        return int(self.get("stats")["profiles_received"])


class BrazeControl(SandboxControl):
    fake = "braze"
    attribute = "in_contract"

    def throttle_next(self, n: int, retry_after_s: float) -> None:
        # Scripted faults carry Retry-After only; the fake's own window sends X-RateLimit-Reset.
        body = {"message": "API rate limit exceeded"}
        self.faults(
            {"script": [{"status": 429, "body": body, "retry_after": retry_after_s, "times": n}]}
        )

    def reject(self, key: str, reason: str) -> None:
        self.faults({"poison": {key.strip().lower(): reason}})

    def members(self) -> dict[str, dict[str, Any]]:
        users = self.get("users")
        return {
            u["email"]: u
            for u in users.values()
            if u.get(self.attribute) is True and u.get("email")
        }

    def writes(self) -> int:
        return int(self.get("stats")["objects_received"])


def meta_records(n: int, start: int) -> list[Record]:
    """The contract's records with Meta schema keys as destination fields."""
    return [
        Record(
            r.key,
            r.change,
            {"EMAIL": r.fields["email"], "FN": r.fields["first_name"]},
            r.customer_id,
            r.destination_id,
            r.seq,
        )
        for r in default_records(n, start)
    ]
