"""Token bucket and backoff, with a controllable clock."""

from __future__ import annotations

import random
import threading
import time

from hypothesis import given
from hypothesis import strategies as st

from cdpkit.sync.ratelimit import LimiterRegistry, SlidingWindow, TokenBucket
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


@given(limit=st.integers(1, 20), window=st.floats(0.05, 5.0), n=st.integers(1, 120))
def test_sliding_window_never_exceeds_its_limit(limit: int, window: float, n: int) -> None:
    clock = Clock()
    limiter = SlidingWindow(limit, window, margin_s=0.0, clock=clock, sleep=clock.sleep)
    times = []
    for _ in range(n):
        assert limiter.acquire()
        times.append(clock.now)
    for i, start in enumerate(times):
        assert sum(1 for t in times[i:] if t < start + window - 1e-9) <= limit
    # and it runs at the limit: n requests need about ceil(n / limit) - 1 windows, no more
    assert clock.now <= (max(0, -(-n // limit) - 1)) * window + 0.002 * n  # 1 ms steps


def test_sliding_window_pause_and_stop() -> None:
    clock = Clock()
    limiter = SlidingWindow(100, 10.0, clock=clock, sleep=clock.sleep)
    limiter.pause(3.0)
    assert 2.9 < limiter.paused_for() <= 3.0
    assert limiter.acquire() and clock.now >= 3.0 and limiter.paused_for() == 0
    slow = SlidingWindow(1, 100.0)
    assert slow.acquire()
    stop = threading.Event()
    stop.set()
    started = time.monotonic()
    assert not slow.acquire(stop)  # returns at once instead of waiting 100 s
    assert time.monotonic() - started < 1


def test_the_registry_shares_one_limiter_per_account_and_follows_config_changes() -> None:
    registry = LimiterRegistry()
    bucket = registry.get("a", 10, 5)
    assert isinstance(bucket, TokenBucket) and registry.get("a", 10, 5) is bucket
    assert registry.get("a", 20, 5) is bucket and bucket.rate == 20
    window = registry.get("h", 19, 190, 10.0)
    assert isinstance(window, SlidingWindow) and window.limit == 190
    assert registry.get("h", 25, 250, 10.0) is window and window.limit == 250
    assert isinstance(registry.get("h", 5, 1), TokenBucket)  # the file's rate_limit: a bucket
    unlimited = registry.get("u", None, 1, 10.0)
    assert isinstance(unlimited, TokenBucket) and unlimited.unlimited
    registry.forget("a")
    assert registry.get("a", 10, 5) is not bucket
