"""Epoch-second arithmetic and fast 'YYYY-MM-DD HH:MM:SS' formatting inside the data window."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from cdpkit.demo_data.schema import REFERENCE_TIME, WINDOW_DAYS, WINDOW_START

DAY: Final = 86_400
HOUR: Final = 3_600
END: Final = int(REFERENCE_TIME.timestamp())
"""Exclusive upper bound of every generated epoch second."""
START: Final = int(WINDOW_START.timestamp())
LAST: Final = END - 1
"""The latest second a row may carry."""

_DAY_PREFIX: Final = tuple(
    (WINDOW_START + timedelta(days=d)).strftime("%Y-%m-%d ") for d in range(WINDOW_DAYS + 1)
)
_TIME_OF_DAY: Final = tuple(f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(DAY))


def fmt(t: int) -> str:
    """Naive-UTC text of an epoch second in the window; two table look-ups, no datetime."""
    d, s = divmod(t - START, DAY)
    return _DAY_PREFIX[d] + _TIME_OF_DAY[s]


def clamp(t: int, low: int = START) -> int:
    """Keep a computed time inside [low, LAST] so no row escapes the window."""
    return low if t < low else LAST if t > LAST else t
