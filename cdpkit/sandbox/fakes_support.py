"""Pieces shared by the ad-platform and messaging fakes: metering windows, member sets, forms.

The fakes themselves subclass `cdpkit.sandbox.fake.Fake` and are served by
`cdpkit.sandbox.server.Sandbox` under their own prefix (`/meta`, `/google`, `/klaviyo`, `/braze`).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from cdpkit.sandbox.fake import Request


def form(request: Request) -> dict[str, str]:
    """The body as `application/x-www-form-urlencoded` fields."""
    parsed = parse_qs(request.body.decode("utf-8"), keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items()}


def settings_update(target: object, settings: dict[str, Any], names: tuple[str, ...]) -> None:
    """Copy the allowed `names` from a control request's settings onto the fake."""
    for name in names:
        if name in settings:
            setattr(target, name, settings[name])


class FixedWindow:
    """A fixed-window request counter (the way most vendors meter): `limit` per `window_s`."""

    def __init__(self, limit: int | None, window_s: float, clock: Callable[[], float] = time.time):
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._start = clock()
        self._count = 0
        self.rejected = 0

    def take(self) -> bool:
        """Count one request; False when the window is already full."""
        if self.limit is None:
            return True
        with self._lock:
            now = self._clock()
            if now - self._start >= self.window_s:
                elapsed_windows = int((now - self._start) // self.window_s)
                self._start += elapsed_windows * self.window_s
                self._count = 0
            if self._count >= self.limit:
                self.rejected += 1
                return False
            self._count += 1
            return True

    def remaining(self) -> int | None:
        with self._lock:
            return None if self.limit is None else max(0, self.limit - self._count)

    def reset_in(self) -> float:
        with self._lock:
            return max(0.0, self._start + self.window_s - self._clock())

    def reset_at(self) -> float:
        with self._lock:
            return self._start + self.window_s


class People:
    """A set of people, each known by the (key, value) pairs uploaded for them.

    Rows are matched to people on their identifying pairs (`strong` keys, e.g. EMAIL, PHONE):
    a row sharing one with a member is that member. A row with only weak keys (first name,
    city, ...) is identified by all of them together, never by one (many people share a city).
    """

    def __init__(self, strong: frozenset[str] | None = None) -> None:
        self.strong = strong
        self._people: dict[int, set[tuple[str, Any]]] = {}
        self._index: dict[tuple[str, Any], int] = {}
        self._ids = itertools.count(1)

    def _identity(self, pairs: set[tuple[str, Any]]) -> set[tuple[str, Any]]:
        if self.strong is None:
            return set(pairs)
        strong = {p for p in pairs if p[0] in self.strong}
        return strong or {("*", frozenset(pairs))}

    def add(self, pairs: set[tuple[str, Any]]) -> None:
        identity = self._identity(pairs)
        matches = {self._index[p] for p in identity if p in self._index}
        person = min(matches) if matches else next(self._ids)
        merged = set(pairs) | identity
        for other in matches:
            merged |= self._people.pop(other)
        self._people[person] = merged
        for pair in self._identity(merged) | identity:
            self._index[pair] = person

    def remove(self, pairs: set[tuple[str, Any]]) -> int:
        matches = {self._index[p] for p in self._identity(pairs) if p in self._index}
        for person in matches:
            for pair in self._people.pop(person):
                self._index.pop(pair, None)
        return len(matches)

    def clear(self) -> None:
        self._people.clear()
        self._index.clear()

    def __len__(self) -> int:
        return len(self._people)

    def values(self, key: str) -> set[Any]:
        """Every value of `key` across members (e.g. all EMAIL hashes)."""
        return {v for pairs in self._people.values() for k, v in pairs if k == key}

    def persons(self) -> list[frozenset[tuple[str, Any]]]:
        return [frozenset(p for p in person if p[0] != "*") for person in self._people.values()]


def snake(name: str) -> str:
    """`hashedEmail` -> `hashed_email` (Google reports field paths in proto names)."""
    return "".join("_" + ch.lower() if ch.isupper() else ch for ch in name)
