"""Property tests: normalization is idempotent and hashing is never applied twice."""

from __future__ import annotations

from collections.abc import Callable

import phonenumbers
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cdpkit.matchkeys import InvalidValue, build_google_keys, build_meta_row, normalize
from cdpkit.matchkeys.hashing import hash_once, is_sha256_hex
from cdpkit.matchkeys.meta import META_KEYS, Place, meta_value

REGIONS = ("US", "GB", "CA", "DE", "FR", "AU", "IN", "BR", "JP", "IS", "NL", "IT", "MX", "ZA")
FORMATS = (
    phonenumbers.PhoneNumberFormat.E164,
    phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    phonenumbers.PhoneNumberFormat.NATIONAL,
)

text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=40
)
emailish = st.builds(
    lambda local, domain, tld, pad: f"{pad}{local}@{domain}.{tld}{pad}",
    st.text(alphabet="abcXYZ.+_-019", min_size=1, max_size=12),
    st.sampled_from(["gmail", "GoogleMail", "example", "Ex-ample", "x"]),
    st.sampled_from(["com", "CO", "de", "io"]),
    st.sampled_from(["", " ", "\t"]),
)


@st.composite
def phone_numbers(draw: st.DrawFn) -> tuple[str, str]:
    region = draw(st.sampled_from(REGIONS))
    kind = draw(
        st.sampled_from(
            [phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE]
        )
    )
    example = phonenumbers.example_number_for_type(region, kind)
    assume(example is not None)
    shape = draw(st.sampled_from(FORMATS))
    return phonenumbers.format_number(example, shape), region


def idempotent(function: Callable[[str], str], value: str) -> None:
    try:
        once = function(value)
    except InvalidValue:
        return
    assert function(once) == once


NORMALIZERS: dict[str, Callable[[str], str]] = {
    "email": normalize.email,
    "gmail": lambda v: normalize.email(v, gmail_canonical=True),
    "meta_name": lambda v: normalize.person_name(v, style="meta"),
    "google_name": lambda v: normalize.person_name(v, style="google"),
    "city": normalize.city,
    "state_us": lambda v: normalize.state(v, country_code="US"),
    "state_any": normalize.state,
    "zip_us": lambda v: normalize.postal_code_meta(v, country_code="US"),
    "zip_gb": lambda v: normalize.postal_code_meta(v, country_code="GB"),
    "zip_other": lambda v: normalize.postal_code_meta(v, country_code="DE"),
    "postal_google_us": lambda v: normalize.postal_code_google(v, country_code="US"),
    "postal_google": lambda v: normalize.postal_code_google(v, country_code="GB"),
    "country": normalize.country,
    "gender": normalize.gender,
    "mobile_id": normalize.mobile_id,
    "external_id": normalize.external_id,
}


@pytest.mark.parametrize("name", sorted(NORMALIZERS))
@settings(max_examples=150, deadline=None)
@given(value=st.one_of(text, emailish))
def test_normalization_is_idempotent(name: str, value: str) -> None:
    idempotent(NORMALIZERS[name], value)


@settings(max_examples=300, deadline=None)
@given(sample=phone_numbers(), default=st.sampled_from(REGIONS))
def test_phone_normalization_is_idempotent_in_both_forms(
    sample: tuple[str, str], default: str
) -> None:
    raw, region = sample
    e164 = normalize.phone_e164(raw, region=region)
    assert e164.startswith("+") and e164[1:].isdigit()
    assert normalize.phone_e164(e164, region=default) == e164
    digits = normalize.phone_digits(raw, region=region)
    assert digits == e164[1:] and not digits.startswith("0")
    assert normalize.phone_digits(digits, region=region) == digits


@settings(max_examples=150, deadline=None)
@given(
    key=st.sampled_from(META_KEYS),
    value=st.one_of(text, emailish),
    country=st.sampled_from([None, "US", "GB"]),
)
def test_meta_hashing_is_never_applied_twice(key: str, value: str, country: str | None) -> None:
    place = Place(country)
    try:
        once = meta_value(key, value, place=place)
    except InvalidValue:
        return
    if key in ("EXTERN_ID", "MADID"):
        assert meta_value(key, once, place=place) == once
        return
    assert is_sha256_hex(once) and once == once.lower()
    assert meta_value(key, once, place=place) == once


@settings(max_examples=150, deadline=None)
@given(value=st.one_of(text, emailish))
def test_hash_once_is_a_fixed_point(value: str) -> None:
    try:
        once = hash_once(value, normalize.email)
    except InvalidValue:
        return
    assert hash_once(once, normalize.email) == once


@settings(max_examples=100, deadline=None)
@given(sample=phone_numbers(), email=emailish, name=text)
def test_rows_from_hashed_rows_are_identical(
    sample: tuple[str, str], email: str, name: str
) -> None:
    raw_phone, region = sample
    schema = ("EMAIL", "PHONE", "FN", "COUNTRY")
    values = {"EMAIL": email, "PHONE": raw_phone, "FN": name, "COUNTRY": region}
    row = build_meta_row(schema, values, default_region=None)
    again = build_meta_row(schema, dict(zip(schema, row.values, strict=True)), default_region=None)
    assert again.values == row.values
    keys = build_google_keys(
        {"email": email, "phone": raw_phone, "country": region},
        default_region=None,
        gmail_canonical=True,
    )
    rehashed = build_google_keys(
        {"email": keys.email, "phone": keys.phone, "country": region},
        default_region=None,
        gmail_canonical=True,
    )
    assert (rehashed.email, rehashed.phone) == (keys.email, keys.phone)


@settings(max_examples=100, deadline=None)
@given(value=text)
def test_invalid_values_never_reach_the_row(value: str) -> None:
    row = build_meta_row(("EMAIL", "PHONE"), {"EMAIL": value, "PHONE": value}, default_region="US")
    for key, sent in zip(("EMAIL", "PHONE"), row.values, strict=True):
        if any(issue.key == key for issue in row.issues):
            assert sent == ""
        else:
            assert sent == "" or is_sha256_hex(sent)
