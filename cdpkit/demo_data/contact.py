"""Emails and phone numbers: unique canonical values per person, then messy raw spellings."""

from __future__ import annotations

import random
from bisect import bisect
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate
from typing import Final

from cdpkit.demo_data.places import WORK_DOMAINS, Country, ascii_slug

EMPTY: Final = " "
"""The 'empty string' junk value. A bare '' cannot be told from NULL in CSV (DuckDB reads both
`,,` and `,"",` as NULL), so the generator writes a single space in every format."""

JUNK_EMAILS: Final = (
    "test@test.com",
    "null",
    "undefined",
    EMPTY,
    "n/a",
    "none@none.com",
    "noemail@example.com",
)
JUNK_PHONES: Final = ("0000000000", EMPTY, "n/a", "null")
JUNK_IDS: Final = ("undefined", "null")
"""What buggy clients send as user_id / anonymous_id."""

WEB, POS, CRM = 0, 1, 2
"""Contexts a phone or email is typed in; each has its own habits."""

_DOMAIN_TYPOS: Final = {
    "gmail.com": ("gmial.com", "gmail.con", "gmal.com", "gnail.com"),
    "yahoo.com": ("yaho.com", "yahooo.com"),
    "hotmail.com": ("hotmial.com", "hotmail.co"),
    "outlook.com": ("outlok.com",),
    "icloud.com": ("iclod.com", "icloud.co"),
}


def pick(rng: random.Random, cum_weights: tuple[float, ...]) -> int:
    """Index drawn with the given cumulative weights (bisect: no per-call list building)."""
    return bisect(cum_weights, rng.random() * cum_weights[-1])


# ---------------------------------------------------------------- emails


def canonical_email(
    rng: random.Random, country: Country, first: str, last: str, number: int, work: bool = False
) -> str:
    """A lowercase address unique to its person: its only digit run is the person's number."""
    f, s = ascii_slug(first), ascii_slug(last)
    r = rng.random()
    if r < 0.35:
        local = f"{f}.{s}{number}"
    elif r < 0.50:
        local = f"{f}{s}{number}"
    elif r < 0.65:
        local = f"{f[0]}{s}{number}"
    elif r < 0.75:
        local = f"{f}_{s}{number}"
    elif r < 0.85:
        local = f"{s}.{f}{number}"
    else:
        local = f"{f}{number}"
    if work:
        domain = WORK_DOMAINS[rng.randrange(len(WORK_DOMAINS))]
    else:
        domain = country.domains[pick(rng, country.domain_cum_weights)]
    return f"{local}@{domain}"


def other_email(
    rng: random.Random, country: Country, first: str, last: str, number: int, old: str
) -> str:
    """A later address of the same person on another domain (job change, new provider)."""
    for _ in range(8):
        new = canonical_email(rng, country, first, last, number, work=rng.random() < 0.3)
        if new.split("@")[1] != old.split("@")[1]:
            return new
    return canonical_email(rng, country, first, last, number, work=True)


def _title(text: str) -> str:
    return "".join(
        c.upper() if i == 0 or not text[i - 1].isalpha() else c for i, c in enumerate(text)
    )


def email_spelling(rng: random.Random, email: str, context: int) -> str:
    """How an address was typed: mostly as is, sometimes capitalised, shouted or padded."""
    r = rng.random()
    calm = (0.86, 0.70, 0.45)[context]
    if r < calm:
        return email
    local, domain = email.split("@", 1)
    r = (r - calm) / (1 - calm)
    if r < 0.45:
        return f"{_title(local)}@{domain}"
    if r < 0.65:
        return f"{_title(local)}@{_title(domain)}"
    if r < 0.80:
        return email.upper()
    if r < 0.92:
        return f"  {_title(local)}@{_title(domain)} "
    return f"{email} "


def email_typo(rng: random.Random, email: str) -> str:
    """A misspelt address (domain typo or two swapped letters); still unique to its person."""
    local, domain = email.split("@", 1)
    typos = _DOMAIN_TYPOS.get(domain)
    if typos and rng.random() < 0.6:
        return f"{local}@{typos[rng.randrange(len(typos))]}"
    spots = [i for i in range(len(local) - 1) if local[i].isalpha() and local[i + 1].isalpha()]
    spots = [i for i in spots if local[i] != local[i + 1]]
    if not spots:
        return f"{local}@{domain[:-1]}n" if domain.endswith("m") else f"{local}@{domain}m"
    i = spots[rng.randrange(len(spots))]
    return f"{local[:i]}{local[i + 1]}{local[i]}{local[i + 2 :]}@{domain}"


# ---------------------------------------------------------------- phones


@dataclass(frozen=True)
class Phone:
    """A number as its national parts; `formats` spells it, `cum_weights[context]` picks one."""

    parts: tuple[str, ...]
    formats: tuple[Callable[[tuple[str, ...]], str], ...]
    cum_weights: tuple[tuple[float, ...], ...]

    def spell(self, rng: random.Random, context: int) -> str:
        """The number as typed in `context` (WEB, POS or CRM)."""
        return self.formats[pick(rng, self.cum_weights[context])](self.parts)


_A: Final = 2_654_435_761
"""Multiplier coprime to every space size below, so core -> number is a bijection."""


def _spread(core: int, space: int, offset: int) -> int:
    return (core * _A + offset) % space


_NANP: Final = (
    lambda p: f"+1{p[0]}{p[1]}{p[2]}",
    lambda p: f"+1 ({p[0]}) {p[1]}-{p[2]}",
    lambda p: f"+1 {p[0]} {p[1]} {p[2]}",
    lambda p: f"({p[0]}) {p[1]}-{p[2]}",
    lambda p: f"{p[0]}-{p[1]}-{p[2]}",
    lambda p: f"{p[0]}.{p[1]}.{p[2]}",
    lambda p: f"{p[0]}{p[1]}{p[2]}",
    lambda p: f"1-{p[0]}-{p[1]}-{p[2]}",
    lambda p: f"001 {p[0]} {p[1]} {p[2]}",
)
_NANP_W: Final = (
    (25, 10, 0, 20, 20, 10, 15, 0, 0),
    (0, 0, 0, 10, 20, 10, 60, 0, 0),
    (3, 30, 15, 20, 5, 15, 5, 5, 2),
)
_GB_MOBILE: Final = (
    lambda p: f"0{p[0]} {p[1]}",
    lambda p: f"0{p[0]}{p[1]}",
    lambda p: f"+44 {p[0]} {p[1]}",
    lambda p: f"+44{p[0]}{p[1]}",
    lambda p: f"00 44 {p[0]} {p[1]}",
    lambda p: f"+44 (0){p[0]} {p[1]}",
)
_GB_LONDON: Final = (
    lambda p: f"020 {p[0]} {p[1]}",
    lambda p: f"020{p[0]}{p[1]}",
    lambda p: f"+44 20 {p[0]} {p[1]}",
    lambda p: f"+4420{p[0]}{p[1]}",
    lambda p: f"00 44 20 {p[0]} {p[1]}",
    lambda p: f"(020) {p[0]} {p[1]}",
)
_GB_W: Final = ((30, 10, 25, 30, 0, 5), (50, 50, 0, 0, 0, 0), (25, 5, 30, 5, 20, 15))
_DE: Final = (
    lambda p: f"0{p[0]} {p[1]}",
    lambda p: f"0{p[0]}{p[1]}",
    lambda p: f"+49 {p[0]} {p[1]}",
    lambda p: f"+49{p[0]}{p[1]}",
    lambda p: f"0049 {p[0]} {p[1]}",
    lambda p: f"+49 (0){p[0]} {p[1]}",
    lambda p: f"0{p[0]}/{p[1]}",
)
_DE_W: Final = ((30, 10, 25, 25, 0, 5, 5), (40, 40, 0, 0, 0, 0, 20), (20, 5, 30, 5, 15, 15, 10))
_FR: Final = (
    lambda p: f"0{p[0]} {p[1]} {p[2]} {p[3]} {p[4]}",
    lambda p: f"0{''.join(p)}",
    lambda p: f"+33 {p[0]} {p[1]} {p[2]} {p[3]} {p[4]}",
    lambda p: f"+33{''.join(p)}",
    lambda p: f"00 33 {p[0]} {p[1]} {p[2]} {p[3]} {p[4]}",
    lambda p: f"0{p[0]}.{p[1]}.{p[2]}.{p[3]}.{p[4]}",
)
_FR_W: Final = ((35, 10, 25, 25, 0, 5), (50, 40, 0, 0, 0, 10), (30, 5, 30, 5, 15, 15))

_US_AREAS: Final = (
    "212",
    "213",
    "312",
    "415",
    "469",
    "503",
    "512",
    "602",
    "617",
    "646",
    "702",
    "713",
    "718",
    "720",
    "773",
    "786",
    "808",
    "818",
    "858",
    "917",
    "206",
    "305",
    "404",
    "202",
    "614",
    "615",
    "619",
    "650",
    "678",
    "704",
    "480",
    "510",
    "571",
    "612",
    "651",
    "952",
    "972",
    "916",
    "925",
    "303",
)
_CA_AREAS: Final = ("416", "647", "437", "604", "778", "514", "438", "403")
_DE_PREFIXES: Final = ("151", "152", "157", "160", "162", "170", "171", "173", "176", "178")


def _cum(weights: tuple[tuple[int, ...], ...]) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(float(x) for x in accumulate(w)) for w in weights)


_NANP_CUM: Final = _cum(_NANP_W)
_GB_CUM: Final = _cum(_GB_W)
_DE_CUM: Final = _cum(_DE_W)
_FR_CUM: Final = _cum(_FR_W)


def make_phone(rng: random.Random, country: str, core: int) -> Phone:
    """The phone number with unique `core` (person index * 2 + version) in `country`."""
    if country in ("US", "CA"):
        areas = _US_AREAS if country == "US" else _CA_AREAS
        m = _spread(core, len(areas) * 8_000_000, 7 if country == "US" else 11)
        local = m // len(areas)
        parts = (areas[m % len(areas)], str(200 + local // 10_000), f"{local % 10_000:04d}")
        return Phone(parts, _NANP, _NANP_CUM)
    if country == "GB":
        if rng.random() < 0.3:
            m = _spread(core, 30_000_000, 13)
            rest = m % 10_000_000
            parts = (f"{(3, 7, 8)[m // 10_000_000]}{rest // 10_000:03d}", f"{rest % 10_000:04d}")
            return Phone(parts, _GB_LONDON, _GB_CUM)
        m = _spread(core, 600_000_000, 17)
        rest = m % 100_000_000
        parts = (f"7{4 + m // 100_000_000}{rest // 1_000_000:02d}", f"{rest % 1_000_000:06d}")
        return Phone(parts, _GB_MOBILE, _GB_CUM)
    if country == "DE":
        m = _spread(core, 1_000_000_000, 19)
        return Phone((_DE_PREFIXES[m % 10], f"{m // 10:08d}"), _DE, _DE_CUM)
    m = _spread(core, 200_000_000, 23)
    digits = f"{6 + m // 100_000_000}{m % 100_000_000:08d}"
    parts = (digits[0], digits[1:3], digits[3:5], digits[5:7], digits[7:9])
    return Phone(parts, _FR, _FR_CUM)
