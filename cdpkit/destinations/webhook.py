"""`type: webhook`: batched, signed JSON POSTs of the records to add/update and to remove.

Body (UTF-8 JSON, signed over these exact bytes):

    {"api_version": 1, "operation": "upsert" | "remove" | "check", "sync": "dest.sync",
     "audience": "...", "list": "...", "idempotency_key": "...",
     "records": [{"key": "...", "change": "add" | "update" | "remove", "fields": {...}}]}

Removals carry the fields the receiver last confirmed for the record (`{}` for records synced
before cdpkit kept them).

Headers: `X-Idempotency-Key` (stable across retries of the same batch), and the signature:
`sha256-hex` / `sha1-hex` -> `<signature_header>: <hex HMAC of the body>`; `standard-webhooks` ->
`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256 of id.ts.body>`.

Receiver semantics (api-contracts.md §8): 2xx delivered, optionally with per-record rejections
`{"rejected": [{"key": "...", "reason": "..."}]}`; 408/429/5xx retried (Retry-After honoured);
400/413/422 the whole batch refused (the engine bisects); 401/403 terminal.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from cdpkit.destinations.base import Batch, BatchResult, Destination, RateLimit, Record, jsonable
from cdpkit.destinations.errors import TerminalError
from cdpkit.sync.config import DestinationConfig
from cdpkit.sync.envref import EnvText, Secret, SecretText, Text

API_VERSION = 1
Scheme = Literal["sha256-hex", "sha1-hex", "standard-webhooks"]


class WebhookConfig(DestinationConfig):
    """A generic HTTPS endpoint that receives batches of changes."""

    type: Literal["webhook"]
    base_url: Text
    path: Text = Field(default_factory=lambda: EnvText("/"))
    signing_secret: Secret | None = None
    signature: Scheme = "sha256-hex"
    signature_header: str = Field(default="X-Signature", min_length=1)
    headers: dict[str, SecretText] = Field(default_factory=dict)


class WebhookDestination(Destination):
    type = "webhook"
    config_model = WebhookConfig
    description = "Batched JSON POSTs signed with HMAC; any HTTP endpoint"
    max_batch_size = 10_000
    default_batch_size = 1_000
    rate_limit = RateLimit(per_second=50, burst=10)
    max_concurrency = 4
    removals_with_fields = True  # a removal tells the receiver what it last received

    config: WebhookConfig

    def check(self) -> None:
        self._post("check", [], "check")

    def upsert(self, batch: Batch) -> BatchResult:
        return self._post("upsert", batch.records, batch.idempotency_key)

    def remove(self, batch: Batch) -> BatchResult:
        return self._post("remove", batch.records, batch.idempotency_key)

    # -- internals ---------------------------------------------------------------------------
    def _post(
        self, operation: str, records: tuple[Record, ...] | list[Record], key: str
    ) -> BatchResult:
        body = encode_body(
            {
                "api_version": API_VERSION,
                "operation": operation,
                "sync": self.sync.sync_id,
                "audience": self.sync.audience,
                "list": self.sync.list_name,
                "idempotency_key": key,
                "records": [
                    {"key": r.key, "change": r.change, "fields": r.fields} for r in records
                ],
            }
        )
        headers = {"Content-Type": "application/json", "X-Idempotency-Key": key}
        headers.update({name: value.resolve() for name, value in self.config.headers.items()})
        headers.update(self._signature(body, key))
        response = self.http.post(self.config.path.resolve(), data=body, headers=headers)
        return parse_result(response.content, {r.key for r in records})

    def _signature(self, body: bytes, key: str) -> dict[str, str]:
        if self.config.signing_secret is None:
            return {}
        secret = self.config.signing_secret.reveal()
        return sign(body, secret, self.config.signature, key, self.config.signature_header)


def encode_body(payload: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON; warehouse types (decimals, timestamps) converted on the way."""
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, default=jsonable)
    return text.encode("utf-8")


def sign(
    body: bytes,
    secret: str,
    scheme: str,
    message_id: str,
    header: str = "X-Signature",
    timestamp: int | None = None,
) -> dict[str, str]:
    """The signature headers for `body` under `scheme` (shared with the sandbox fake)."""
    if scheme == "sha256-hex":
        return {header: hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}
    if scheme == "sha1-hex":
        return {header: hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()}
    if scheme == "standard-webhooks":
        ts = str(int(time.time()) if timestamp is None else timestamp)
        signed = message_id.encode() + b"." + ts.encode() + b"." + body
        digest = hmac.new(standard_webhooks_key(secret), signed, hashlib.sha256).digest()
        return {
            "webhook-id": message_id,
            "webhook-timestamp": ts,
            "webhook-signature": "v1," + base64.b64encode(digest).decode(),
        }
    raise TerminalError(f"unknown signature scheme '{scheme}'")


def standard_webhooks_key(secret: str) -> bytes:
    """`whsec_<base64>` secrets are base64 keys; anything else is used as UTF-8 bytes."""
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except ValueError:
            pass
    return secret.encode()


def parse_result(content: bytes, keys: set[str]) -> BatchResult:
    """Per-record rejections from a 2xx body (an empty or non-JSON body confirms everything)."""
    if not content.strip():
        return BatchResult.ok()
    try:
        data = json.loads(content)
    except ValueError:
        return BatchResult.ok()
    rejected: dict[str, str] = {}
    items = data.get("rejected") if isinstance(data, dict) else None
    for item in items or []:
        if isinstance(item, dict) and str(item.get("key")) in keys:
            rejected[str(item["key"])] = str(item.get("reason") or "rejected by the receiver")
    return BatchResult(rejected=rejected)
