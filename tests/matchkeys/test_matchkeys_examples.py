"""Published normalization examples reproduced exactly, and invalid values rejected with reasons."""

from __future__ import annotations

import hashlib

import pytest

from cdpkit.matchkeys import InvalidValue, build_google_keys, build_meta_row, normalize
from cdpkit.matchkeys.google import ads_user_identifiers, data_manager_member
from cdpkit.matchkeys.hashing import hash_once, is_sha256_hex, sha256_hex
from cdpkit.matchkeys.meta import Place, meta_value


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- published examples -------------------------------------------------------------------


def test_meta_phone_example_from_api_contracts() -> None:
    # api-contracts §3.3 (Meta): `+1 (202) 309-5976` → `12023095976` before hashing.
    assert normalize.phone_digits("+1 (202) 309-5976") == "12023095976"
    assert meta_value("PHONE", "+1 (202) 309-5976", place=Place(None)) == sha("12023095976")


def test_google_phone_example_from_data_manager_formatting_guide() -> None:
    # Data Manager "Format user data": US (800)555-0100 → +18005550100.
    assert normalize.phone_e164("(800)555-0100", region="US") == "+18005550100"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # Data Manager "Format user data": gmail dots and +tag removed, other domains kept.
        ("cloudy.sanfrancisco+shopping@gmail.com", "cloudysanfrancisco@gmail.com"),
        ("user.name+NYC@Example.com", "user.name+nyc@example.com"),
        # Data Manager quickstart sample file: whitespace trimmed, lowercased.
        (" AlexJ@cymbalgroup.com", "alexj@cymbalgroup.com"),
        ("baklavainthebalkans@gmail.com  ", "baklavainthebalkans@gmail.com"),
        ("cloudySanFrancisco@GMAIL.com", "cloudysanfrancisco@gmail.com"),
        ("quinn@CYMBALGROUP.com", "quinn@cymbalgroup.com"),
    ],
)
def test_google_email_examples(raw: str, expected: str) -> None:
    assert normalize.email(raw, gmail_canonical=True) == expected


def test_meta_email_is_trim_and_lowercase_only() -> None:
    # Meta §3.3: trim, lowercase; no gmail rewriting.
    assert normalize.email("  Jane.Doe+ads@GMAIL.com ") == "jane.doe+ads@gmail.com"


def test_published_sha256_vector() -> None:
    # X Ads API "Custom Audiences user data": sha256("adsapi") in lowercase hex.
    assert (
        sha256_hex("adsapi") == "49e0be2aeccfb51a8dee4c945c8a70a9ac500cf6f5cb08112575f74db9b1470d"
    )


@pytest.mark.parametrize(
    ("key", "raw", "country", "normalized"),
    [
        ("FN", "Mary", None, "mary"),
        ("FN", "  Valérie ", None, "valérie"),  # Meta text: special characters in UTF-8
        ("LN", "O'Brien-Smith", None, "obriensmith"),  # no punctuation
        ("FI", "Mary", None, "m"),
        ("CT", "Menlo Park", None, "menlopark"),  # a-z, no spaces
        ("CT", "São Paulo", None, "saopaulo"),
        ("ST", "California", "US", "ca"),  # US: 2-letter ANSI code
        ("ST", "CA", "US", "ca"),
        ("ST", "Île-de-France", "FR", "iledefrance"),  # non-US: no punctuation/spaces
        ("ZIP", "94025-1234", "US", "94025"),  # US: first 5 digits
        ("ZIP", "SW1A 1AA", "GB", "sw1a1"),  # UK: area/district/sector
        ("ZIP", "10115", "DE", "10115"),
        ("COUNTRY", "US", None, "us"),  # ISO alpha-2, lowercase
        ("COUNTRY", "United Kingdom", None, "gb"),
        ("GEN", "Female", None, "f"),
        ("DOBY", "1984-03-07", None, "1984"),
        ("DOBM", "1984-03-07", None, "03"),
        ("DOBD", "1984-03-07", None, "07"),
    ],
)
def test_meta_key_rules(key: str, raw: str, country: str | None, normalized: str) -> None:
    assert meta_value(key, raw, place=Place(country)) == sha(normalized)


def test_meta_extern_id_and_madid_are_never_hashed() -> None:
    assert meta_value("EXTERN_ID", "  CRM-00042 ", place=Place(None)) == "CRM-00042"
    madid = "AECE52E7-03EE-455A-B3C4-E57283966239"
    assert meta_value("MADID", madid, place=Place(None)) == madid.lower()


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("Mrs. Jane", "jane"),
        ("John Jr.", "john"),
        ("Mary  Ann", "mary ann"),
        ("O'Brien", "obrien"),
        ("  ZOË ", "zoë"),
    ],
)
def test_google_names(raw: str, normalized: str) -> None:
    assert normalize.person_name(raw, style="google") == normalized


def test_google_postal_codes() -> None:
    assert normalize.postal_code_google("94043-1351", country_code="US") == "94043"
    assert normalize.postal_code_google(" sw1a  1aa", country_code="GB") == "SW1A 1AA"


def test_meta_row_in_schema_order_with_blanks() -> None:
    schema = ("EMAIL", "PHONE", "FN", "LN", "COUNTRY", "EXTERN_ID")
    row = build_meta_row(
        schema,
        {"EMAIL": "A@B.co", "PHONE": "202-309-5976", "FN": None, "COUNTRY": "us", "EXTERN_ID": 7},
        default_region=None,
    )
    assert row.values == (sha("a@b.co"), sha("12023095976"), "", "", sha("us"), "7")
    assert row.issues == ()
    assert row.key_count == 4
    assert row.rejection("reject") is None


def test_meta_phone_uses_record_country_then_default_region() -> None:
    schema = ("PHONE", "COUNTRY")
    uk = build_meta_row(schema, {"PHONE": "020 7946 0958", "COUNTRY": "GB"}, default_region="US")
    assert uk.values[0] == sha("442079460958")
    us = build_meta_row(schema, {"PHONE": "(202) 309-5976"}, default_region="US")
    assert us.values[0] == sha("12023095976")


def test_google_data_manager_member_shape() -> None:
    keys = build_google_keys(
        {
            "email": "Jane.Doe@gmail.com",
            "phone": "(800)555-0100",
            "first_name": "Mrs. Jane",
            "last_name": "Doe",
            "country": "us",
            "postal_code": "94043-1351",
        },
        default_region=None,
        gmail_canonical=True,
    )
    assert data_manager_member(keys) == {
        "userData": {
            "userIdentifiers": [
                {"emailAddress": sha("janedoe@gmail.com")},
                {"phoneNumber": sha("+18005550100")},
                {
                    "address": {
                        "givenName": sha("jane"),
                        "familyName": sha("doe"),
                        "regionCode": "US",
                        "postalCode": "94043",
                    }
                },
            ]
        }
    }
    assert ads_user_identifiers(keys)[2] == {
        "addressInfo": {
            "hashedFirstName": sha("jane"),
            "hashedLastName": sha("doe"),
            "countryCode": "US",
            "postalCode": "94043",
        }
    }


def test_google_mobile_and_crm_ids_are_sent_raw() -> None:
    keys = build_google_keys(
        {"crm_id": " C-1 ", "mobile_id": "AECE52E7-03EE-455A-B3C4-E57283966239"},
        default_region=None,
        gmail_canonical=False,
    )
    assert ads_user_identifiers(keys) == [
        {"thirdPartyUserId": "C-1"},
        {"mobileId": "aece52e7-03ee-455a-b3c4-e57283966239"},
    ]
    assert data_manager_member(keys) == {
        "mobileData": {"mobileIds": ["aece52e7-03ee-455a-b3c4-e57283966239"]}
    }


# --- already hashed values ----------------------------------------------------------------


def test_already_hashed_values_pass_through_lowercased() -> None:
    digest = sha("jane@example.com")
    assert hash_once(digest, normalize.email) == digest
    assert hash_once(digest.upper(), normalize.email) == digest
    assert meta_value("EMAIL", f" {digest.upper()} ", place=Place(None)) == digest
    keys = build_google_keys({"email": digest}, default_region=None, gmail_canonical=True)
    assert keys.email == digest
    assert is_sha256_hex(digest) and not is_sha256_hex(digest[:-1])


# --- invalid values: rejected with reasons, never sent -------------------------------------


@pytest.mark.parametrize(
    ("function", "raw", "reason"),
    [
        (normalize.email, "jane.example.com", "needs one '@'"),
        (normalize.email, "jane@", "bad domain"),
        (normalize.email, "jane@localhost", "bad domain"),
        (normalize.email, "jane@example.c", "bad top-level domain"),
        (normalize.email, "a@b@c.com", "needs one '@'"),
        (normalize.email, "   ", "empty"),
        (lambda v: normalize.phone_e164(v, region="US"), "123", "not a valid phone number"),
        (lambda v: normalize.phone_e164(v, region="US"), "call me", "only digits"),
        (lambda v: normalize.phone_e164(v, region="US"), "555-0100", "not a valid phone number"),
        (normalize.phone_e164, "020 7946 0958", "no default region"),
        (normalize.country, "Atlantis", "not an ISO 3166-1 alpha-2"),
        (normalize.city, "東京", "no letters a-z"),
        (lambda v: normalize.person_name(v, style="meta"), "--", "no letters"),
        (lambda v: normalize.postal_code_meta(v, country_code="US"), "9402", "5 digits"),
        (lambda v: normalize.postal_code_meta(v, country_code="GB"), "ZZZ", "UK postcode"),
        (lambda v: normalize.state(v, country_code="US"), "Narnia", "not a US state"),
        (normalize.gender, "x", "m/male or f/female"),
        (normalize.birth_date, "1850-01-01", "between 1900 and today"),
        (normalize.birth_date, "07/03/1984", "YYYY-MM-DD"),
        (normalize.mobile_id, "not-a-uuid", "UUID"),
    ],
)
def test_invalid_values_raise_with_reason(function: object, raw: str, reason: str) -> None:
    with pytest.raises(InvalidValue, match=reason):
        function(raw)  # type: ignore[operator]


def test_invalid_key_rejects_record_by_default_and_is_never_sent() -> None:
    schema = ("EMAIL", "PHONE")
    row = build_meta_row(schema, {"EMAIL": "jane@example.com", "PHONE": "123"}, default_region="US")
    assert row.values == (sha("jane@example.com"), "")  # the bad phone is not in the row
    assert row.rejection("reject") == "PHONE: not a valid phone number for its country"
    assert row.rejection("drop") is None  # policy `drop`: sent with the email only


def test_record_without_any_key_is_rejected_under_either_policy() -> None:
    row = build_meta_row(("EMAIL",), {"EMAIL": "nope"}, default_region=None)
    assert row.rejection("drop") == (
        "no match keys (EMAIL: not an email address (needs one '@' with a name before it))"
    )
    empty = build_google_keys({"email": None}, default_region=None, gmail_canonical=False)
    assert empty.rejection("reject") == "no match keys"


def test_google_incomplete_address_is_left_out_without_an_issue() -> None:
    keys = build_google_keys(
        {"email": "a@b.co", "first_name": "Jane", "last_name": "Doe", "country": "US"},
        default_region=None,
        gmail_canonical=False,
    )
    assert keys.address is None and keys.issues == ()
    assert data_manager_member(keys) == {
        "userData": {"userIdentifiers": [{"emailAddress": sha("a@b.co")}]}
    }


@pytest.mark.parametrize("module", ["hashing", "meta", "normalize"])
def test_docstring_examples(module: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"cdpkit.matchkeys.{module}"))
    assert result.attempted > 0 and result.failed == 0
