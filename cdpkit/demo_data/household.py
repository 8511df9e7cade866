"""Households: runs of consecutive people who share a surname, a city and a family tablet."""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from cdpkit.demo_data.contact import pick
from cdpkit.demo_data.ids import uuid4
from cdpkit.demo_data.places import COUNTRIES, COUNTRY_CUM_WEIGHTS, Country

BLOCK: Final = 8
"""People are grouped in blocks of 8 indexes; a household is the first 2-5 of a block."""
_SIZE_CUM: Final = (0.40, 0.70, 0.90, 1.00)
"""Household sizes 2, 3, 4, 5."""
HOUSEHOLD_SHARE: Final = 0.22
"""Share of blocks that start with a household."""


@dataclass(frozen=True)
class Household:
    """What members share; each member is still a different person in the truth."""

    size: int
    country: Country
    last_name: str
    city: str
    tablet_id: str
    """The shared tablet's device_id (an iPad: IDFV-style uppercase UUID)."""


@lru_cache(maxsize=64)
def household_of_block(seed: int, block: int) -> Household | None:
    """The household starting block `block`, or None; derived from (seed, block) alone."""
    rng = random.Random(f"{seed}:household:{block}")
    if rng.random() >= HOUSEHOLD_SHARE:
        return None
    size = 2 + pick(rng, _SIZE_CUM)
    country = COUNTRIES[pick(rng, COUNTRY_CUM_WEIGHTS)]
    return Household(
        size=size,
        country=country,
        last_name=country.last_names[rng.randrange(len(country.last_names))],
        city=country.cities[rng.randrange(len(country.cities))],
        tablet_id=uuid4(rng, upper=True),
    )


def household_of(seed: int, index: int) -> tuple[Household | None, int]:
    """(household, position in it) of a person, or (None, -1) when they live alone."""
    house = household_of_block(seed, index // BLOCK)
    position = index % BLOCK
    if house is None or position >= house.size:
        return None, -1
    return house, position
