"""Due-time computation: cron expressions across time zones and daylight-saving changes.

Expected instants are worked out by hand from the zone's offsets (comments show local time).
DST rules follow cron(8): fixed times run once in a repeated hour and at the jump when
skipped; `*` in the minute or hour field runs by the real clock.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdpkit.errors import ConfigError
from cdpkit.ops.cron import CronSchedule

from .helpers import utc

NEXT_CASES = [
    # (cron, zone, after (UTC), expected next instants (UTC))
    (
        "0 * * * *",
        "UTC",
        utc(2026, 1, 1, 0, 0),
        [utc(2026, 1, 1, 1), utc(2026, 1, 1, 2), utc(2026, 1, 1, 3)],
    ),
    (
        "* * * * *",
        "UTC",
        utc(2026, 1, 1, 23, 59, 30),
        [utc(2026, 1, 2, 0, 0), utc(2026, 1, 2, 0, 1), utc(2026, 1, 2, 0, 2)],
    ),
    # weekdays 09:00-17:45 every 15 minutes; Friday evening -> Monday morning
    (
        "*/15 9-17 * * 1-5",
        "UTC",
        utc(2026, 1, 2, 17, 40),
        [utc(2026, 1, 2, 17, 45), utc(2026, 1, 5, 9, 0), utc(2026, 1, 5, 9, 15)],
    ),
    ("0 0 1 * *", "UTC", utc(2026, 1, 31, 12), [utc(2026, 2, 1), utc(2026, 3, 1), utc(2026, 4, 1)]),
    ("0 0 29 2 *", "UTC", utc(2026, 1, 1), [utc(2028, 2, 29), utc(2032, 2, 29), utc(2036, 2, 29)]),
    # +05:30, no DST: 08:30 IST = 03:00 UTC
    (
        "30 8 * * *",
        "Asia/Kolkata",
        utc(2026, 6, 1),
        [utc(2026, 6, 1, 3), utc(2026, 6, 2, 3), utc(2026, 6, 3, 3)],
    ),
    # Monday 09:00 New York across the spring change (Mar 8): EST 14:00 UTC, then EDT 13:00 UTC
    (
        "0 9 * * 1",
        "America/New_York",
        utc(2026, 3, 1),
        [utc(2026, 3, 2, 14), utc(2026, 3, 9, 13), utc(2026, 3, 16, 13)],
    ),
    # Berlin, spring forward Mar 29 02:00 CET -> 03:00 CEST: 02:30 does not exist -> at the jump
    (
        "30 2 * * *",
        "Europe/Berlin",
        utc(2026, 3, 27, 12),
        [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30)],
    ),
    # Berlin, fall back Oct 25 03:00 CEST -> 02:00 CET: 02:30 happens twice -> once, the first
    (
        "30 2 * * *",
        "Europe/Berlin",
        utc(2026, 10, 24, 12),
        [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30), utc(2026, 10, 27, 1, 30)],
    ),
    # every 30 min by the real clock: 01:30 CET, then 03:00 CEST (02:xx never existed)
    (
        "*/30 * * * *",
        "Europe/Berlin",
        utc(2026, 3, 29, 0, 15),
        [utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 1, 0), utc(2026, 3, 29, 1, 30)],
    ),
    # hourly by the real clock through the repeated hour: 02:00 CEST, 02:00 CET, 03:00 CET
    (
        "0 * * * *",
        "Europe/Berlin",
        utc(2026, 10, 24, 23, 30),
        [utc(2026, 10, 25, 0), utc(2026, 10, 25, 1), utc(2026, 10, 25, 2)],
    ),
    # New York fall back Nov 1 02:00 EDT -> 01:00 EST: 01:30 runs once at 01:30 EDT
    (
        "30 1 * * *",
        "America/New_York",
        utc(2026, 10, 31, 12),
        [utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30), utc(2026, 11, 3, 6, 30)],
    ),
    # Lord Howe falls back 30 minutes (Apr 5 02:00 +11 -> 01:30 +10:30): 01:45 once, at +11
    (
        "45 1 * * *",
        "Australia/Lord_Howe",
        utc(2026, 4, 4),
        [utc(2026, 4, 4, 14, 45), utc(2026, 4, 5, 15, 15), utc(2026, 4, 6, 15, 15)],
    ),
    # Sydney springs forward (Oct 4 02:00 AEST -> 03:00 AEDT): 02:15 skipped -> at the jump
    (
        "15 2 * * *",
        "Australia/Sydney",
        utc(2026, 10, 2),
        [utc(2026, 10, 2, 16, 15), utc(2026, 10, 3, 16, 0), utc(2026, 10, 4, 15, 15)],
    ),
]


@pytest.mark.parametrize(("cron", "zone", "after", "expected"), NEXT_CASES)
def test_next_times(cron: str, zone: str, after: dt.datetime, expected: list[dt.datetime]) -> None:
    assert CronSchedule(cron, zone).next_times(after, 3) == expected


PREVIOUS_CASES = [
    ("0 * * * *", "UTC", utc(2026, 1, 1, 10, 0), utc(2026, 1, 1, 10, 0)),  # inclusive
    ("0 * * * *", "UTC", utc(2026, 1, 1, 10, 59, 59), utc(2026, 1, 1, 10, 0)),
    ("0 7 * * 1", "UTC", utc(2026, 1, 7, 12), utc(2026, 1, 5, 7)),  # a Wednesday -> Monday
    ("30 2 * * *", "Europe/Berlin", utc(2026, 3, 29, 1, 0), utc(2026, 3, 29, 1, 0)),  # the jump
    ("30 2 * * *", "Europe/Berlin", utc(2026, 3, 29, 0, 59, 59), utc(2026, 3, 28, 1, 30)),
    (
        "30 2 * * *",
        "Europe/Berlin",
        utc(2026, 10, 25, 1, 45),
        utc(2026, 10, 25, 0, 30),
    ),  # not twice
    ("0 * * * *", "Europe/Berlin", utc(2026, 10, 25, 1, 30), utc(2026, 10, 25, 1, 0)),  # 02:00 CET
]


@pytest.mark.parametrize(("cron", "zone", "at", "expected"), PREVIOUS_CASES)
def test_previous_time(cron: str, zone: str, at: dt.datetime, expected: dt.datetime) -> None:
    assert CronSchedule(cron, zone).previous_time(at) == expected


def test_a_schedule_that_never_fires() -> None:
    never = CronSchedule("0 0 30 2 *")
    assert never.next_times(utc(2026, 1, 1), 3) == []
    assert never.previous_time(utc(2026, 1, 1)) is None


def test_naive_times_are_utc_and_results_are_aware() -> None:
    s = CronSchedule("0 12 * * *", "Europe/Paris")
    (first,) = s.next_times(dt.datetime(2026, 7, 1, 0, 0), 1)
    assert first == utc(2026, 7, 1, 10, 0) and first.tzinfo is dt.UTC


@pytest.mark.parametrize(("cron", "zone"), [("61 * * * *", "UTC"), ("0 * * * *", "Mars/Olympus")])
def test_invalid_schedules_are_refused(cron: str, zone: str) -> None:
    with pytest.raises(ConfigError):
        CronSchedule(cron, zone)


ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]
CRONS = ["0 * * * *", "*/20 * * * *", "30 2 * * *", "45 1 * * 0", "0 0 1 * *", "15 9-17 * * 1-5"]


@settings(max_examples=60, deadline=None)
@given(
    cron=st.sampled_from(CRONS),
    zone=st.sampled_from(ZONES),
    at=st.datetimes(min_value=dt.datetime(2025, 1, 1), max_value=dt.datetime(2027, 12, 31)),
)
def test_previous_and_next_agree(cron: str, zone: str, at: dt.datetime) -> None:
    """prev(t) <= t < next(t), and no firing lies between prev(t) and next(t)."""
    s = CronSchedule(cron, zone)
    t = at.replace(tzinfo=dt.UTC)
    before, (after,) = s.previous_time(t), s.next_times(t, 1)
    assert before is not None and before <= t < after
    assert s.next_times(before, 1) == [after]
    assert s.previous_time(after - dt.timedelta(seconds=1)) == before


# -- against a brute-force oracle, minute by minute, around real DST transitions ------------
DST_ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Australia/Lord_Howe"]
DAILY_CRONS = [
    "30 2 * * *",
    "0 2 * * *",
    "15 1 * * *",
    "45 1 * * *",
    "0 3 * * *",
    "*/15 * * * *",
    "0 * * * *",
    "*/20 1-3 * * *",
    "30 * * * *",
    "5 0-4 * * *",
]


def transitions(zone: str) -> list[dt.datetime]:
    """The instants the zone's UTC offset changes in 2026 (to the minute)."""
    z = zoneinfo.ZoneInfo(zone)
    out = []
    t = utc(2026, 1, 1)
    while t.year == 2026:
        nxt = t + dt.timedelta(minutes=30)
        if t.astimezone(z).utcoffset() != nxt.astimezone(z).utcoffset():
            lo, hi = t, nxt
            while hi - lo > dt.timedelta(minutes=1):
                mid = lo + (hi - lo) / 2
                mid = mid.replace(second=0, microsecond=0)
                if mid == lo:
                    break
                if mid.astimezone(z).utcoffset() == lo.astimezone(z).utcoffset():
                    lo = mid
                else:
                    hi = mid
            out.append(hi)
        t = nxt
    return out


def _field(spec: str, lo: int, hi: int) -> set[int]:
    values: set[int] = set()
    for part in spec.split(","):
        rng, _, step = part.partition("/")
        start, end = (lo, hi) if rng == "*" else map(int, (rng.split("-") * 2)[:2])
        values.update(range(start, end + 1, int(step or 1)))
    return values


def oracle(cron: str, zone: str, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """Every firing instant in (start, end] by cron(8)'s rules, checking each minute."""
    z = zoneinfo.ZoneInfo(zone)
    minute_spec, hour_spec = cron.split()[:2]
    minutes, hours = _field(minute_spec, 0, 59), _field(hour_spec, 0, 23)
    real_clock = "*" in minute_spec or "*" in hour_spec

    def local(u: dt.datetime) -> dt.datetime:
        return u.astimezone(z).replace(tzinfo=None)

    def matches(t: dt.datetime) -> bool:
        return t.minute in minutes and t.hour in hours

    out: list[dt.datetime] = []
    u = start.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    while u <= end:
        here, before = local(u), local(u - dt.timedelta(minutes=1))
        fires = matches(here)
        if fires and not real_clock:  # a repeated local time fires at its first occurrence
            fires = all(local(u - dt.timedelta(minutes=m)) != here for m in (30, 60, 120))
        if not real_clock and here - before > dt.timedelta(minutes=1):  # the clock jumped
            skipped = before + dt.timedelta(minutes=1)
            while skipped < here and not fires:
                fires = matches(skipped)
                skipped += dt.timedelta(minutes=1)
        if fires:
            out.append(u)
        u += dt.timedelta(minutes=1)
    return out


@settings(max_examples=40, deadline=None)
@given(
    zone=st.sampled_from(DST_ZONES),
    which=st.integers(0, 1),
    shift=st.integers(-300, 300),
    cron=st.sampled_from(DAILY_CRONS),
)
def test_matches_a_minute_by_minute_oracle_around_dst_changes(
    zone: str, which: int, shift: int, cron: str
) -> None:
    after = transitions(zone)[which] + dt.timedelta(minutes=shift, seconds=17)
    end = after + dt.timedelta(hours=30)
    expected = oracle(cron, zone, after, end)
    s = CronSchedule(cron, zone)
    got = [t for t in s.next_times(after, 200) if t <= end]
    assert got == expected
    if expected:
        assert s.previous_time(expected[-1] + dt.timedelta(seconds=30)) == expected[-1]
        assert s.previous_time(expected[0] - dt.timedelta(seconds=1)) < expected[0]
