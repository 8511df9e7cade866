"""Normalize raw identifier values the way ad and messaging platforms match them.

Every function takes a raw value and returns its normalized text, or raises `InvalidValue`
with a reason a user can act on. All are idempotent: normalizing a normalized value gives it
back unchanged. Rules and examples come from docs/api-contracts (Meta §3.3, Google §4.5 and
the Data Manager formatting guide).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from typing import Final, Literal

import phonenumbers

from cdpkit.matchkeys.geo import COUNTRY_ALIASES, COUNTRY_CODES, US_STATE_CODES, US_STATES
from cdpkit.matchkeys.values import InvalidValue

NameStyle = Literal["meta", "google"]

_WHITESPACE = re.compile(r"\s+")
_EMAIL_LOCAL = re.compile(r"[^\s@]+")
_DOMAIN_LABEL = re.compile(r"[^\s@.]+")
_PHONE_FORMATTING = re.compile(r"[\s\-().\/]")
_PHONE_CHARS = re.compile(r"\+?[0-9]+")
_UK_POSTCODE = re.compile(r"([A-Z]{1,2}[0-9][A-Z0-9]?)(?:([0-9])(?:[A-Z]{2})?)?")
_US_ZIP = re.compile(r"([0-9]{5})(?:-?[0-9]{4})?")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_GMAIL_DOMAINS: Final = frozenset({"gmail.com", "googlemail.com"})
_NAME_PREFIXES: Final = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame"})
_NAME_SUFFIXES: Final = frozenset({"jr", "sr", "ii", "iii", "iv", "phd", "md", "esq"})
_GENDERS: Final = {"m": "m", "male": "m", "man": "m", "f": "f", "female": "f", "woman": "f"}


def _text(value: object) -> str:
    text = str(value).strip()
    if not text:
        raise InvalidValue("empty")
    return text


def email(value: object, *, gmail_canonical: bool = False) -> str:
    """Trim, drop whitespace, lowercase; optionally Google's gmail dot/`+tag` removal.

    >>> email("  Jane.Doe@Example.COM ")
    'jane.doe@example.com'
    >>> email("cloudy.sanfrancisco+shopping@gmail.com", gmail_canonical=True)
    'cloudysanfrancisco@gmail.com'
    """
    text = _WHITESPACE.sub("", _text(value)).lower()
    local, at, domain = text.rpartition("@")
    if not at or not _EMAIL_LOCAL.fullmatch(local or " "):
        raise InvalidValue("not an email address (needs one '@' with a name before it)")
    labels = domain.split(".")
    if len(labels) < 2 or not all(_DOMAIN_LABEL.fullmatch(label) for label in labels):
        raise InvalidValue(f"not an email address (bad domain '{domain}')")
    if len(labels[-1]) < 2:
        raise InvalidValue(f"not an email address (bad top-level domain '{labels[-1]}')")
    if gmail_canonical and domain in _GMAIL_DOMAINS:
        local = local.split("+", 1)[0].replace(".", "")
        if not local:
            raise InvalidValue("not an email address (nothing before '+' or '@')")
    return f"{local}@{domain}"


def _region(region: str | None) -> str | None:
    return country(region) if region else None


def phone_e164(value: object, *, region: str | None = None) -> str:
    """E.164 with `+` and country code, via the `phonenumbers` library.

    National numbers are read in `region` (an ISO country code: the record's country, else
    the configured default). A digits-only value of 11+ digits is first read as an
    international number written without `+` (the E.164-digits form marts store).

    >>> phone_e164("(800)555-0100", region="US")
    '+18005550100'
    """
    text = _PHONE_FORMATTING.sub("", _text(value))
    if not _PHONE_CHARS.fullmatch(text):
        raise InvalidValue("not a phone number (only digits, spaces, - ( ) . / and a leading +)")
    home = _region(region)
    candidates: list[tuple[str, str | None]] = []
    if text.startswith("+"):
        candidates.append((text, None))
    else:
        international = (f"+{text}", None)
        national = (text, home)
        if len(text) >= 11 and not text.startswith("0"):
            candidates += [international, national]
        else:
            candidates += [national, international]
    for number, number_region in candidates:
        if number_region is None and not number.startswith("+"):
            continue
        try:
            parsed = phonenumbers.parse(number, number_region)
        except phonenumbers.NumberParseException:
            continue
        # Checking the expected region first skips phonenumbers' scan of every region that
        # shares the country code (+1 has 25), the slow part of is_valid_number.
        guess = number_region or home
        if (guess and phonenumbers.is_valid_number_for_region(parsed, guess)) or (
            phonenumbers.is_valid_number(parsed)
        ):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if home is None and not text.startswith("+"):
        raise InvalidValue("no country code and no default region to read a national number")
    raise InvalidValue("not a valid phone number for its country")


def phone_digits(value: object, *, region: str | None = None) -> str:
    """Meta's phone form: E.164 digits with country code, no `+`, no leading zeros.

    >>> phone_digits("+1 (202) 309-5976")
    '12023095976'
    """
    return phone_e164(value, region=region)[1:]


def _fold_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def person_name(value: object, *, style: NameStyle) -> str:
    """First or last name: lowercase, no punctuation.

    Meta keeps letters only (UTF-8 letters allowed: `Valérie` → `valérie`); Google also drops
    prefixes and suffixes (`Mrs.`, `Jr.`) and keeps single spaces between words.
    """
    text = unicodedata.normalize("NFC", _text(value)).lower()
    if style == "meta":
        normalized = "".join(ch for ch in text if ch.isalpha())
    else:
        words = ["".join(ch for ch in word if ch.isalnum()) for word in text.split()]
        words = [w for w in words if w]
        while len(words) > 1 and words[0] in _NAME_PREFIXES:
            words.pop(0)
        while len(words) > 1 and words[-1] in _NAME_SUFFIXES:
            words.pop()
        normalized = " ".join(words)
    if not normalized:
        raise InvalidValue("no letters in name")
    return normalized


def first_initial(value: object) -> str:
    """Meta `FI`: the first letter of the first name, lowercase."""
    return person_name(value, style="meta")[0]


def city(value: object) -> str:
    """Meta `CT`: a-z only, accents folded, no spaces or punctuation (`Menlo Park`: `menlopark`)."""
    folded = _fold_accents(_text(value)).lower()
    normalized = "".join(ch for ch in folded if "a" <= ch <= "z")
    if not normalized:
        raise InvalidValue("no letters a-z in city")
    return normalized


def state(value: object, *, country_code: str | None = None) -> str:
    """Meta `ST`: US states as 2-letter codes (`California` → `ca`), others a-z0-9 lowercase."""
    folded = _fold_accents(_text(value)).lower()
    compact = "".join(ch for ch in folded if ch.isascii() and ch.isalnum())
    if not compact:
        raise InvalidValue("no letters or digits in state")
    if country_code is None or country_code.upper() == "US":
        if compact in US_STATE_CODES:
            return compact
        if compact in US_STATES:
            return US_STATES[compact]
        if country_code is not None:
            raise InvalidValue(f"'{value}' is not a US state or its 2-letter code")
    return compact


def postal_code_meta(value: object, *, country_code: str | None = None) -> str:
    """Meta `ZIP`: lowercase, no spaces; US first 5 digits; UK area+district+sector."""
    compact = _WHITESPACE.sub("", _text(value)).upper()
    code = (country_code or "").upper()
    if code == "US" or (not code and _US_ZIP.fullmatch(compact)):
        match = _US_ZIP.fullmatch(compact)
        if not match:
            raise InvalidValue("US ZIP code must be 5 digits (optionally -4 more)")
        return match.group(1)
    if code == "GB":
        match = _UK_POSTCODE.fullmatch(compact)
        if not match:
            raise InvalidValue("not a UK postcode")
        return (match.group(1) + (match.group(2) or "")).lower()
    return compact.lower()


def postal_code_google(value: object, *, country_code: str | None = None) -> str:
    """Google postal code (sent unhashed): US 5 digits, others trimmed without extension."""
    text = _WHITESPACE.sub(" ", _text(value))
    code = (country_code or "").upper()
    compact = text.replace(" ", "")
    if code == "US" or (not code and _US_ZIP.fullmatch(compact)):
        match = _US_ZIP.fullmatch(compact)
        if not match:
            raise InvalidValue("US ZIP code must be 5 digits (optionally -4 more)")
        return match.group(1)
    return text.upper()


def country(value: object) -> str:
    """ISO 3166-1 alpha-2, uppercase (`uk` → `GB`, `United States` → `US`)."""
    text = _text(value)
    compact = "".join(ch for ch in _fold_accents(text).lower() if ch.isalpha())
    upper = compact.upper()
    if len(upper) == 2 and upper in COUNTRY_CODES:
        return upper
    if compact in COUNTRY_ALIASES:
        return COUNTRY_ALIASES[compact]
    raise InvalidValue(f"'{text}' is not an ISO 3166-1 alpha-2 country code")


def gender(value: object) -> str:
    """Meta `GEN`: `m` or `f`."""
    text = _text(value).lower()
    if text not in _GENDERS:
        raise InvalidValue("gender must be m/male or f/female")
    return _GENDERS[text]


def birth_date(value: object) -> date:
    """A date of birth from a date, datetime or ISO `YYYY-MM-DD` text, 1900 to today."""
    if isinstance(value, datetime):
        day = value.date()
    elif isinstance(value, date):
        day = value
    else:
        try:
            day = date.fromisoformat(_text(value)[:10])
        except ValueError:
            raise InvalidValue("date of birth must be YYYY-MM-DD") from None
    if not date(1900, 1, 1) <= day <= date.today():
        raise InvalidValue("date of birth must be between 1900 and today")
    return day


def mobile_id(value: object) -> str:
    """IDFA/GAID: lowercase UUID with hyphens (sent unhashed)."""
    text = _text(value).lower()
    if not _UUID.fullmatch(text):
        raise InvalidValue("mobile advertiser id must be a UUID (8-4-4-4-12 hex)")
    return text


def external_id(value: object) -> str:
    """A first-party id sent as-is (never hashed): trimmed, case kept."""
    return _text(value)
