"""The shared destination contract suite: every connector passes it against its fake over HTTP.

To run it for a connector, subclass `DestinationContract` in tests/destinations/test_<type>.py
and provide a `harness` fixture:

    class TestAcmeContract(DestinationContract):
        @pytest.fixture
        def harness(self, sandbox) -> ContractHarness:
            return ContractHarness(
                connector=AcmeDestination,
                config=lambda **extra: AcmeConfig.model_validate({...the fake's URL..., **extra}),
                control=AcmeControl(sandbox),     # implements FakeControl for the Acme fake
            )

Everything goes through the engine's own pieces (HttpClient with classification and rate
limiting, `deliver` with retries and bisection), so the suite checks what a real sync does:
authentication (a cheap check; a bad credential is terminal with an actionable message),
batches at the connector's limit, 429 -> retry after Retry-After, 5xx -> retry, per-record
rejection, idempotent re-send, and removals.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pytest

from cdpkit.destinations.base import Batch, Destination, PlanInfo, Record, RunSummary, SyncContext
from cdpkit.destinations.errors import TerminalError
from cdpkit.sync.config import DestinationConfig
from cdpkit.sync.delivery import Delivery, deliver
from cdpkit.sync.http import HttpClient
from cdpkit.sync.ratelimit import TokenBucket
from cdpkit.sync.retry import RetryPolicy

FAST_RETRY = RetryPolicy(max_attempts=6, base_delay_s=0.02, max_delay_s=0.1, max_elapsed_s=30)


class FakeControl(Protocol):
    """What the suite needs to steer a connector's fake (one implementation per fake)."""

    def reset(self) -> None: ...

    def throttle_next(self, n: int, retry_after_s: float) -> None:
        """The next n write requests get the vendor's rate-limit response with a wait hint."""

    def fail_next(self, n: int) -> None:
        """The next n write requests get a server error (5xx)."""

    def fail_auth(self) -> None:
        """Every request is refused as unauthenticated from now on."""

    def reject(self, key: str, reason: str) -> None:
        """The record `key` is refused per record with `reason`."""

    def members(self) -> dict[str, dict[str, Any]]:
        """What the destination holds now: record key -> fields it knows (may be {})."""

    def writes(self) -> int:
        """How many records the fake has been sent so far (re-sends counted again)."""


def default_records(n: int, start: int = 0) -> list[Record]:
    return [
        Record(
            key=f"person{i:05d}@example.com",
            change="add",
            fields={"email": f"person{i:05d}@example.com", "first_name": f"P{i}"},
            customer_id=f"c{i:05d}",
            seq=i + 1,
        )
        for i in range(start, start + n)
    ]


@dataclass
class ContractHarness:
    connector: type[Destination]
    config: Callable[..., DestinationConfig]
    control: FakeControl
    records: Callable[[int, int], list[Record]] = default_records
    fields: tuple[str, ...] = ("email", "first_name")
    project_root: Path = field(default_factory=Path.cwd)

    def open(self, **overrides: Any) -> Destination:
        """A connector instance bound to the fake, with the engine's HTTP client."""
        config = self.config(**overrides)
        base = config.base_url.resolve() if config.base_url else None
        http = HttpClient(base, timeout_s=config.timeout_s, limiter=TokenBucket(None))
        sync = config.syncs[0]
        context = SyncContext(
            sync_id=f"contract.{sync.sync_name}",
            destination="contract",
            sync_name=sync.sync_name,
            audience=sync.audience,
            mode=sync.mode,
            list_name=sync.list_name,
            identifier=sync.identifier,
            fields=tuple(sync.mapping),
            run_id="contract-run",
            project_root=self.project_root,
            config=sync,
        )
        return self.connector(config, context, http)

    def send(
        self, destination: Destination, records: list[Record], operation: str = "upsert"
    ) -> Delivery:
        if operation == "remove":
            records = [
                Record(r.key, "remove", {}, r.customer_id, r.destination_id, r.seq) for r in records
            ]
        batch = Batch(destination.sync.sync_id, operation, tuple(records))  # type: ignore[arg-type]
        return deliver(destination, batch, FAST_RETRY)

    def prepared(self, **overrides: Any) -> Destination:
        destination = self.open(**overrides)
        destination.check()
        destination.open(PlanInfo(adds=0, updates=0, removes=0, audience_size=0))
        return destination


class DestinationContract:
    """Subclass with a `harness` fixture (see the module docstring)."""

    @pytest.fixture
    def harness(self) -> ContractHarness:  # pragma: no cover - provided by subclasses
        raise NotImplementedError

    def test_check_passes_with_valid_credentials(self, harness: ContractHarness) -> None:
        harness.open().check()

    def test_bad_credentials_are_terminal_with_an_actionable_message(
        self, harness: ContractHarness
    ) -> None:
        destination = harness.prepared()
        harness.control.fail_auth()
        with pytest.raises(TerminalError) as caught:
            destination.check()
        message = str(caught.value).lower()
        assert any(word in message for word in ("credential", "token", "auth", "key", "permission"))
        out = harness.send(destination, harness.records(5, 0))
        assert isinstance(out.error, TerminalError)
        assert out.confirmed == [] and len(out.undelivered) == 5

    def test_upserted_records_arrive(self, harness: ContractHarness) -> None:
        destination = harness.prepared()
        records = harness.records(25, 0)
        out = harness.send(destination, records)
        assert out.error is None and not out.rejected
        assert [r.key for r in out.confirmed] == [r.key for r in records]
        assert set(harness.control.members()) >= {r.key for r in records}
        destination.close(RunSummary("success", len(records), 0))

    def test_a_full_batch_at_the_connector_limit_is_accepted(
        self, harness: ContractHarness
    ) -> None:
        destination = harness.prepared()
        size = min(harness.connector.max_batch_size, 10_000)
        out = harness.send(destination, harness.records(size, 0))
        assert out.error is None and len(out.confirmed) == size

    def test_throttling_is_retried_after_the_wait_it_asks_for(
        self, harness: ContractHarness
    ) -> None:
        destination = harness.prepared()
        harness.control.throttle_next(2, 0.3)
        started = time.monotonic()
        out = harness.send(destination, harness.records(10, 0))
        assert out.error is None and len(out.confirmed) == 10
        assert out.retries >= 2 and time.monotonic() - started >= 0.6

    def test_server_errors_are_retried(self, harness: ContractHarness) -> None:
        destination = harness.prepared()
        harness.control.fail_next(2)
        out = harness.send(destination, harness.records(10, 0))
        assert out.error is None and len(out.confirmed) == 10 and out.retries >= 2

    def test_a_bad_record_is_rejected_alone_with_the_reason(self, harness: ContractHarness) -> None:
        destination = harness.prepared()
        records = harness.records(16, 0)
        harness.control.reject(records[5].key, "invalid email address")
        out = harness.send(destination, records)
        assert out.error is None
        assert set(out.rejected) == {records[5].key}
        assert "invalid" in out.rejected[records[5].key].lower()
        assert len(out.confirmed) == 15
        assert records[5].key not in harness.control.members()

    def test_sending_the_same_batch_twice_is_harmless(self, harness: ContractHarness) -> None:
        destination = harness.prepared()
        records = harness.records(10, 0)
        harness.send(destination, records)
        before = harness.control.members()
        out = harness.send(destination, records)
        assert out.error is None and len(out.confirmed) == 10
        assert harness.control.members() == before

    def test_removed_records_leave_the_destination(self, harness: ContractHarness) -> None:
        if not harness.connector.supports_remove:
            pytest.skip(f"{harness.connector.type} cannot remove records")
        destination = harness.prepared()
        records = harness.records(12, 0)
        harness.send(destination, records)
        out = harness.send(destination, records[:4], "remove")
        assert out.error is None and len(out.confirmed) == 4
        members = harness.control.members()
        assert not ({r.key for r in records[:4]} & set(members))
        assert {r.key for r in records[4:]} <= set(members)

    def test_removals_carrying_their_last_synced_fields_leave_the_destination(
        self, harness: ContractHarness
    ) -> None:
        """The engine hands a removal the fields last confirmed (from the sync state)."""
        if not harness.connector.supports_remove:
            pytest.skip(f"{harness.connector.type} cannot remove records")
        destination = harness.prepared()
        records = harness.records(8, 0)
        harness.send(destination, records)
        removals = tuple(
            Record(r.key, "remove", r.fields, r.customer_id, r.destination_id, r.seq)
            for r in records[:3]
        )
        batch = Batch(destination.sync.sync_id, "remove", removals)
        out = deliver(destination, batch, FAST_RETRY)
        assert out.error is None and not out.rejected and len(out.confirmed) == 3
        members = harness.control.members()
        assert not ({r.key for r in records[:3]} & set(members))
        assert {r.key for r in records[3:]} <= set(members)
