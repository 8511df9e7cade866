"""A webhook receiver that enforces the contract of api-contracts.md §8 (and cdpkit's payload).

`POST /webhook/<hook>` (any hook path; each keeps its own records). Checks, in order:
rate limit (429 + Retry-After) and scripted faults, body size (413), signature over the raw
body (401; schemes sha256-hex, sha1-hex, standard-webhooks with a 5-minute clock skew), JSON
shape (400), records per batch (413), idempotency key required (400). A batch whose key was
already accepted is not applied again: it is answered as before and counted as a duplicate
(double delivery made visible). Poisoned keys (`"reject": {"key": "reason"}`) are refused per
record (200 + `rejected`, `reject_mode: record`) or by refusing the whole batch
(400, `reject_mode: batch`). Accepted records are upserted/removed in the hook's store.

Control (`/_sandbox/webhook/...`): `GET records?hook=H` (key -> fields), `GET batches?hook=H`
(operation, keys, and for removals the fields each record came with),
`GET stats`, `POST faults` (see cdpkit.sandbox.fake, plus `reject`, `reject_mode`, `secret`,
`scheme`, `max_batch_size`, `max_body_bytes`), `POST reset`.
"""

from __future__ import annotations

import hmac
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from cdpkit.destinations.webhook import sign
from cdpkit.sandbox import credentials
from cdpkit.sandbox.fake import Fake, Request, Response, error

SECRET_ENV = credentials.WEBHOOK_SECRET
SKEW_S = 300


@dataclass
class Hook:
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    batches: list[dict[str, Any]] = field(default_factory=list)
    responses: dict[str, dict[str, Any]] = field(default_factory=dict)  # idempotency key -> body
    stats: Counter[str] = field(default_factory=Counter)


class WebhookFake(Fake):
    name = "webhook"
    description = "generic signed-JSON webhook receiver"

    def __init__(self) -> None:
        super().__init__()
        self._defaults()

    def _defaults(self) -> None:
        self.secret = credentials.credential(SECRET_ENV)
        self.scheme = "sha256-hex"
        self.signature_header = "x-signature"
        self.max_body_bytes = 5 * 1024 * 1024
        self.max_batch_size = 10_000
        self.reject: dict[str, str] = {}
        self.reject_mode = "record"
        self.keep_batches = True
        self.hooks: dict[str, Hook] = {}

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self._defaults()

    def control(self, request: Request) -> Response:
        if request.path.strip("/") == "faults" and request.method == "POST":
            settings = request.json() or {}
            with self.lock:
                for key in (
                    "secret",
                    "scheme",
                    "max_batch_size",
                    "max_body_bytes",
                    "reject_mode",
                    "keep_batches",
                ):
                    if key in settings:
                        setattr(self, key, settings[key])
                if "signature_header" in settings:
                    self.signature_header = str(settings["signature_header"]).lower()
                if "reject" in settings:
                    self.reject = dict(settings["reject"] or {})
        return super().control(request)

    def inspect(self, action: str, request: Request) -> Response:
        with self.lock:
            if action == "stats":
                total: Counter[str] = Counter()
                for hook in self.hooks.values():
                    total.update(hook.stats)
                total["throttled"] = self.faults.throttled
                return Response(
                    200,
                    {
                        "total": dict(total),
                        "hooks": {n: dict(h.stats) for n, h in self.hooks.items()},
                    },
                )
            hook = self.hooks.get(request.query.get("hook", "default"), Hook())
            if action == "records":
                return Response(200, hook.records)
            if action == "batches":
                return Response(200, hook.batches)
        return error(404, f"unknown control action '{action}'")

    # -- receiving ---------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        if request.method != "POST":
            return error(405, "POST only")
        hook_name = request.path.strip("/") or "default"
        with self.lock:
            hook = self.hooks.setdefault(hook_name, Hook())
            hook.stats["requests"] += 1
        early = self.preflight(request)
        if early is not None:
            return early
        if len(request.body) > self.max_body_bytes:
            return error(413, f"body of {len(request.body)} bytes is over {self.max_body_bytes}")
        if not self._signature_ok(request):
            with self.lock:
                hook.stats["bad_signature"] += 1
            return error(401, "missing or invalid signature")
        try:
            payload = request.json()
        except ValueError:
            return error(400, "body is not JSON")
        problem = _shape_problem(payload)
        if problem:
            return error(400, problem)
        if payload["operation"] == "check":
            return Response(200, {"ok": True})
        records = payload["records"]
        if len(records) > self.max_batch_size:
            return error(
                413, f"{len(records)} records is over the limit of {self.max_batch_size} per batch"
            )
        key = request.headers.get("x-idempotency-key") or request.headers.get("webhook-id")
        if not key:
            return error(400, "missing X-Idempotency-Key")
        return self._accept(hook, key, payload)

    def _accept(self, hook: Hook, key: str, payload: dict[str, Any]) -> Response:
        records = payload["records"]
        with self.lock:
            hook.stats["records_received"] += len(records)
            if key in hook.responses:
                hook.stats["duplicate_batches"] += 1
                hook.stats["duplicate_records"] += len(records)
                self._log(hook, key, payload, duplicate=True)
                return Response(200, hook.responses[key])
            poisoned = {r["key"]: self.reject[r["key"]] for r in records if r["key"] in self.reject}
            if poisoned and self.reject_mode == "batch":
                hook.stats["refused_batches"] += 1
                return error(
                    400,
                    "batch refused: " + "; ".join(f"{k}: {v}" for k, v in sorted(poisoned.items())),
                )
            for record in records:
                if record["key"] in poisoned:
                    continue
                if payload["operation"] == "remove":
                    hook.records.pop(record["key"], None)
                    hook.stats["records_removed"] += 1
                else:
                    hook.records[record["key"]] = record.get("fields") or {}
                    hook.stats["records_upserted"] += 1
            hook.stats["batches"] += 1
            hook.stats["records_rejected"] += len(poisoned)
            body = {
                "ok": True,
                "accepted": len(records) - len(poisoned),
                "rejected": [{"key": k, "reason": v} for k, v in sorted(poisoned.items())],
            }
            hook.responses[key] = body
            self._log(hook, key, payload, duplicate=False)
            return Response(200, body)

    def _log(self, hook: Hook, key: str, payload: dict[str, Any], *, duplicate: bool) -> None:
        if not self.keep_batches:
            return
        entry = {
            "idempotency_key": key,
            "operation": payload["operation"],
            "sync": payload.get("sync"),
            "size": len(payload["records"]),
            "keys": [r["key"] for r in payload["records"]],
            "duplicate": duplicate,
            "received_at": time.time(),
        }
        if payload["operation"] == "remove":  # what a removal said about each record
            entry["fields"] = {r["key"]: r.get("fields") or {} for r in payload["records"]}
        hook.batches.append(entry)

    def _signature_ok(self, request: Request) -> bool:
        headers = request.headers
        if self.scheme == "standard-webhooks":
            message_id = headers.get("webhook-id", "")
            ts = headers.get("webhook-timestamp", "")
            given = headers.get("webhook-signature", "")
            if not (message_id and ts.isdigit() and given) or abs(time.time() - int(ts)) > SKEW_S:
                return False
            expected = sign(request.body, self.secret, self.scheme, message_id, timestamp=int(ts))[
                "webhook-signature"
            ]
            return any(hmac.compare_digest(expected, part) for part in given.split())
        given = headers.get(self.signature_header, "")
        expected = next(iter(sign(request.body, self.secret, self.scheme, "").values()))
        return bool(given) and hmac.compare_digest(expected, given)


def _shape_problem(payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return "body must be a JSON object"
    if payload.get("api_version") != 1:
        return "api_version must be 1"
    if payload.get("operation") not in ("upsert", "remove", "check"):
        return "operation must be upsert, remove or check"
    records = payload.get("records")
    if not isinstance(records, list):
        return "records must be a list"
    for i, record in enumerate(records):
        if (
            not isinstance(record, dict)
            or not isinstance(record.get("key"), str)
            or not record["key"]
        ):
            return f"records[{i}].key must be a non-empty string"
        if not isinstance(record.get("fields", {}), dict):
            return f"records[{i}].fields must be an object"
    return None
