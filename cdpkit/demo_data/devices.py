"""A person's browsers and apps, with cookie resets (new anonymous_id) over time."""

from __future__ import annotations

import random
from bisect import bisect
from dataclasses import dataclass
from typing import Final

from cdpkit.demo_data.clock import DAY
from cdpkit.demo_data.contact import pick
from cdpkit.demo_data.ids import hex_id, uuid4
from cdpkit.demo_data.person import Person

DESKTOP, MOBILE_WEB, IOS, ANDROID = 0, 1, 2, 3
_KIND_CUM: Final = (0.45, 0.78, 0.91, 1.00)
_COUNT_CUM: Final = (0.45, 0.83, 1.00)
"""One, two or three own devices."""
_RESET_MEAN_DAYS: Final = (150.0, 45.0, 0.0, 0.0)
"""Mean days between cookie resets: Safari-style mobile browsers forget fastest; apps never."""
MAX_EPOCHS: Final = 8


@dataclass(frozen=True)
class Device:
    """A browser or app install; each epoch is one anonymous_id between resets."""

    kind: int
    source: str
    device_id: str | None
    epoch_starts: tuple[int, ...]
    anon_ids: tuple[str, ...]
    shared: bool = False

    def anon_at(self, t: int) -> tuple[int, str]:
        """(epoch number, anonymous_id) in use at time t."""
        epoch = max(0, bisect(self.epoch_starts, t) - 1)
        return epoch, self.anon_ids[epoch]


def _epochs(rng: random.Random, start: int, end: int, mean_days: float) -> tuple[int, ...]:
    starts = [start]
    if mean_days:
        t = start + int(rng.expovariate(1.0 / (mean_days * DAY)))
        while t < end and len(starts) < MAX_EPOCHS:
            starts.append(t)
            t += int(rng.expovariate(1.0 / (mean_days * DAY)))
    elif rng.random() < 0.08:  # an app reinstall mints a new anonymous_id
        starts.append(start + int(rng.random() * (end - start)))
    return tuple(starts)


def _device(rng: random.Random, kind: int, p: Person, shared_id: str | None = None) -> Device:
    starts = _epochs(rng, p.first_seen, p.last_active, _RESET_MEAN_DAYS[kind])
    device_id = shared_id
    if kind == IOS and device_id is None:
        device_id = uuid4(rng, upper=True)
    elif kind == ANDROID:
        device_id = hex_id(rng)
    return Device(
        kind=kind,
        source=("web", "web", "ios", "android")[kind],
        device_id=device_id,
        epoch_starts=starts,
        anon_ids=tuple(uuid4(rng) for _ in starts),
        shared=shared_id is not None,
    )


def build_devices(p: Person, rng: random.Random, scale: float = 1.0) -> list[Device]:
    """Own devices (the first is the main one), plus the family tablet for household members.

    Below scale 1 some people keep only their main device (the committed seeds are small).
    """
    own = 1 + pick(rng, _COUNT_CUM)
    if scale < 1.0 and rng.random() >= max(scale, 0.4):
        own = 1
    devices = [_device(rng, pick(rng, _KIND_CUM), p) for _ in range(own)]
    if p.uses_tablet and p.household is not None:
        devices.append(_device(rng, IOS, p, shared_id=p.household.tablet_id))
    return devices
