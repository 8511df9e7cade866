"""Token bucket and backoff, with a controllable clock."""

from __future__ import annotations

import random
import threading
import time

from hypothesis import given
from hypothesis import strategies as st

from cdpkit.sync.ratelimit import TokenBucket
from cdpkit.sync.retry import RetryPolicy, parse_retry_after


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_bucket_allows_burst_then_paces_at_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(10, burst=5, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        bucket.acquire()
    assert clock.now == 0.0
    for _ in range(20):
        bucket.acquire()
    assert abs(clock.now - 2.0) < 1e-9  # 20 more at 10/s


@given(rate=st.floats(0.5, 500), burst=st.integers(1, 50), n=st.integers(1, 300))
def test_bucket_never_exceeds_burst_plus_rate_times_t(rate: float, burst: int, n: int) -> None:
    clock = Clock()
    bucket = TokenBucket(rate, burst=burst, clock=clock, sleep=clock.sleep)
    times = []
    for _ in range(n):
        bucket.acquire()
        times.append(clock.now)
    for i, start in enumerate(times):
        window = [t for t in times[i:] if t - start <= 1.0]
        assert len(window) <= burst + rate * 1.0 + 1e-6


def test_pause_holds_everyone_back() -> None:
    clock = Clock()
    bucket = TokenBucket(100, burst=100, clock=clock, sleep=clock.sleep)
    bucket.pause(2.5)
    bucket.acquire()
    assert clock.now >= 2.5


def test_unlimited_bucket_and_stop_event() -> None:
    TokenBucket(None).acquire()
    bucket = TokenBucket(0.01, burst=1)
    bucket.acquire()
    stop = threading.Event()
    stop.set()
    started = time.monotonic()
    bucket.acquire(stop)  # returns at once instead of waiting 100 s
    assert time.monotonic() - started < 1


def test_backoff_is_exponential_with_full_jitter_and_honours_retry_after() -> None:
    policy = RetryPolicy(max_attempts=5, base_delay_s=1, max_delay_s=8)
    rng = random.Random(1)
    for retry, ceiling in [(1, 1), (2, 2), (3, 4), (4, 8), (5, 8), (9, 8)]:
        delays = [policy.delay(retry, rng=rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # really spread up to the ceiling
    assert 30 <= policy.delay(1, retry_after=30, rng=rng) <= 30.1
    assert policy.gives_up(5, 0) and not policy.gives_up(4, 0)
    assert RetryPolicy(max_elapsed_s=10).gives_up(1, 11)


def test_parse_retry_after() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.25") == 0.25
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
