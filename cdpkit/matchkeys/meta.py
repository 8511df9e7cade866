"""Meta Custom Audience rows: the multi-key schema, each key normalized then hashed.

`EXTERN_ID` and `MADID` are never hashed (Meta's SDK skips them); every other key is
normalized per api-contracts §3.3 and SHA-256 hashed, unless the value already is a hash.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from cdpkit.matchkeys import normalize
from cdpkit.matchkeys.hashing import hash_once, is_sha256_hex
from cdpkit.matchkeys.values import InvalidPolicy, InvalidValue, KeyIssue, verdict

META_KEYS: Final = (
    "EXTERN_ID",
    "EMAIL",
    "PHONE",
    "GEN",
    "DOBY",
    "DOBM",
    "DOBD",
    "LN",
    "FN",
    "FI",
    "CT",
    "ST",
    "ZIP",
    "MADID",
    "COUNTRY",
)
UNHASHED_KEYS: Final = frozenset({"EXTERN_ID", "MADID"})


@dataclass(frozen=True)
class Place:
    """What a key's rules depend on: the record's country, else the default region."""

    country: str | None


def _normalizer(key: str, place: Place) -> Callable[[str], str]:
    return _rules(place.country)[key]


@functools.lru_cache(maxsize=512)
def _rules(where: str | None) -> dict[str, Callable[[str], str]]:
    rules: dict[str, Callable[[str], str]] = {
        "EMAIL": normalize.email,
        "PHONE": lambda v: normalize.phone_digits(v, region=where),
        "GEN": normalize.gender,
        "DOBY": lambda v: f"{normalize.birth_date(v).year:04d}",
        "DOBM": lambda v: f"{normalize.birth_date(v).month:02d}",
        "DOBD": lambda v: f"{normalize.birth_date(v).day:02d}",
        "LN": lambda v: normalize.person_name(v, style="meta"),
        "FN": lambda v: normalize.person_name(v, style="meta"),
        "FI": normalize.first_initial,
        "CT": normalize.city,
        "ST": lambda v: normalize.state(v, country_code=where),
        "ZIP": lambda v: normalize.postal_code_meta(v, country_code=where),
        "COUNTRY": lambda v: normalize.country(v).lower(),
        "EXTERN_ID": normalize.external_id,
        "MADID": normalize.mobile_id,
    }
    return rules


def meta_value(key: str, raw: object, *, place: Place) -> str:
    """The value Meta receives for one schema key (raises InvalidValue).

    >>> meta_value("PHONE", "+1 (202) 309-5976", place=Place(None))[:8]
    '6f02fe24'
    """
    if key not in META_KEYS:
        raise ValueError(f"unknown Meta schema key {key!r}")
    normalizer = _normalizer(key, place)
    text = str(raw)
    if key in UNHASHED_KEYS:
        if key == "MADID" and is_sha256_hex(text.strip()):
            return text.strip().lower()
        return normalizer(text)
    return hash_once(text, normalizer)


@dataclass(frozen=True)
class MetaRow:
    """One `data` row in schema order (`""` where unknown) and the values left out."""

    values: tuple[str, ...]
    issues: tuple[KeyIssue, ...]

    @property
    def key_count(self) -> int:
        return sum(1 for v in self.values if v)

    def rejection(self, policy: InvalidPolicy) -> str | None:
        return verdict(self.issues, self.key_count, policy)


def _place(values: Mapping[str, object], default_region: str | None) -> Place:
    raw = values.get("COUNTRY")
    if raw is not None and str(raw).strip() and not is_sha256_hex(str(raw).strip()):
        try:
            return Place(normalize.country(raw))
        except InvalidValue:
            pass
    return Place(normalize.country(default_region) if default_region else None)


def build_meta_row(
    schema: Sequence[str], values: Mapping[str, object], *, default_region: str | None
) -> MetaRow:
    """Normalize and hash a record's values (keyed by schema key) into a Meta `data` row."""
    place = _place(values, default_region)
    row: list[str] = []
    issues: list[KeyIssue] = []
    for key in schema:
        raw = values.get(key)
        if raw is None or not str(raw).strip():
            row.append("")
            continue
        try:
            row.append(meta_value(key, raw, place=place))
        except InvalidValue as invalid:
            row.append("")
            issues.append(KeyIssue(key, invalid.reason))
    return MetaRow(tuple(row), tuple(issues))
