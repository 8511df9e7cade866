"""When a cron schedule fires, as UTC instants, with cron's rules for daylight-saving changes.

A schedule is a 5-field cron expression read in an IANA time zone (default UTC):

    s = CronSchedule("30 2 * * *", "Europe/Berlin")
    s.next_times(now, 3)         # the next three instants (aware, UTC) strictly after `now`
    s.previous_time(now)         # the latest instant at or before `now` (None if it never fired)

Daylight-saving changes follow ISC/Vixie cron(8): a schedule with a fixed minute and hour
runs once when its local time is repeated (at the first occurrence) and, when its local time
is skipped, runs at the moment the clock jumps; a schedule with `*` in the minute or hour
field runs by the real clock (skipped local times do not fire, repeated ones fire twice).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from functools import cached_property

from croniter import CroniterBadDateError, croniter

from cdpkit.errors import ConfigError

UTC = dt.UTC
# Longer than any UTC offset change, so a window this wide covers every instant a local time
# can map to around a transition.
_SLACK = dt.timedelta(hours=3)
_ZERO = dt.timedelta(0)
_MAX_STEPS = 100_000


@dataclass(frozen=True)
class CronSchedule:
    """A cron expression evaluated in `timezone`."""

    cron: str
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        if not croniter.is_valid(self.cron):
            raise ConfigError(f"invalid cron expression '{self.cron}'")
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"unknown time zone '{self.timezone}'") from None

    @cached_property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def _slack(self, instant: dt.datetime) -> dt.timedelta:
        """How far around `instant` local times may map out of order: only near a DST change."""
        if self.timezone in ("UTC", "Etc/UTC"):
            return dt.timedelta(0)
        offsets = {
            (instant + d).astimezone(self.zone).utcoffset() for d in (-_SLACK, _ZERO, _SLACK)
        }
        return _SLACK if len(offsets) > 1 else _ZERO

    @cached_property
    def by_real_clock(self) -> bool:
        """`*` in the minute or hour field: fire on real time across DST changes (cron(8))."""
        fields = self.cron.split()
        return len(fields) < 2 or "*" in fields[0] or "*" in fields[1]

    def next_times(self, after: dt.datetime, count: int = 1) -> list[dt.datetime]:
        """The first `count` firing instants strictly after `after` (aware UTC), in order."""
        after = as_utc(after)
        found: set[dt.datetime] = set()
        it = croniter(self.cron, self._local(after) - self._slack(after))
        for _ in range(_MAX_STEPS):
            try:
                local = it.get_next(dt.datetime)
            except CroniterBadDateError:
                break
            found.update(u for u in self._instants(local) if u > after)
            if len(found) >= count:
                earliest = self._earliest(local)
                if earliest - self._slack(earliest) > sorted(found)[count - 1]:
                    break
        return sorted(found)[:count]

    def previous_time(self, at: dt.datetime) -> dt.datetime | None:
        """The latest firing instant at or before `at` (aware UTC), None if there is none."""
        at = as_utc(at)
        best: dt.datetime | None = None
        start = self._local(at).replace(microsecond=0) + self._slack(at) + dt.timedelta(seconds=1)
        it = croniter(self.cron, start)
        for _ in range(_MAX_STEPS):
            try:
                local = it.get_prev(dt.datetime)
            except CroniterBadDateError:
                break
            for u in self._instants(local):
                if u <= at and (best is None or u > best):
                    best = u
            if best is not None:
                latest = self._latest(local)
                if latest + self._slack(latest) < best:
                    break
        return best

    # -- local wall-clock time -> instants ---------------------------------------------------
    def _local(self, instant: dt.datetime) -> dt.datetime:
        return instant.astimezone(self.zone).replace(tzinfo=None)

    def _fold(self, local: dt.datetime, fold: int) -> dt.datetime:
        return local.replace(tzinfo=self.zone, fold=fold).astimezone(UTC)

    def _earliest(self, local: dt.datetime) -> dt.datetime:
        return min(self._fold(local, 0), self._fold(local, 1))

    def _latest(self, local: dt.datetime) -> dt.datetime:
        return max(self._fold(local, 0), self._fold(local, 1))

    def _instants(self, local: dt.datetime) -> list[dt.datetime]:
        """The instants a local wall-clock time stands for under the cron(8) DST rules."""
        first, second = self._fold(local, 0), self._fold(local, 1)
        if first == second:
            return [first]
        if self._local(first) == local and self._local(second) == local:  # repeated hour
            return sorted({first, second}) if self.by_real_clock else [min(first, second)]
        # Skipped by a jump forward: fire when the jump happens (fixed times only).
        return (
            []
            if self.by_real_clock
            else [self._jump(min(first, second), max(first, second), local)]
        )

    def _jump(self, lo: dt.datetime, hi: dt.datetime, local: dt.datetime) -> dt.datetime:
        """The first instant in [lo, hi] whose local time is at or after `local` (the jump)."""
        while hi - lo > dt.timedelta(seconds=1):
            mid = lo + (hi - lo) / 2
            if self._local(mid) >= local:
                hi = mid
            else:
                lo = mid
        return hi.replace(microsecond=0)  # transitions happen on whole seconds


def as_utc(value: dt.datetime) -> dt.datetime:
    """An aware UTC datetime (naive values are taken to be UTC already)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
