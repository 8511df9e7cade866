"""Google Customer Match identifiers for the Data Manager API and the Google Ads API.

Email, phone and names are normalized then SHA-256 hashed (hex); country and postal code
are sent in clear; mobile ids and CRM ids are sent as-is (api-contracts §4.5 and the Data
Manager formatting guide).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from cdpkit.matchkeys import normalize
from cdpkit.matchkeys.hashing import hash_once
from cdpkit.matchkeys.values import InvalidPolicy, InvalidValue, KeyIssue, verdict

GOOGLE_FIELDS: Final = (
    "email",
    "phone",
    "first_name",
    "last_name",
    "country",
    "postal_code",
    "crm_id",
    "mobile_id",
)


@dataclass(frozen=True)
class Address:
    """Hashed first and last name with country and postal code in clear."""

    given_name: str
    family_name: str
    region_code: str
    postal_code: str


@dataclass(frozen=True)
class GoogleKeys:
    """Everything Google may receive for one person, and the values left out."""

    email: str | None = None
    phone: str | None = None
    address: Address | None = None
    crm_id: str | None = None
    mobile_id: str | None = None
    issues: tuple[KeyIssue, ...] = ()

    @property
    def key_count(self) -> int:
        keys = (self.email, self.phone, self.address, self.crm_id, self.mobile_id)
        return sum(1 for key in keys if key)

    def rejection(self, policy: InvalidPolicy) -> str | None:
        return verdict(self.issues, self.key_count, policy)


def _present(values: Mapping[str, object], field: str) -> str | None:
    raw = values.get(field)
    if raw is None or not str(raw).strip():
        return None
    return str(raw)


def build_google_keys(
    values: Mapping[str, object],
    *,
    default_region: str | None,
    gmail_canonical: bool,
) -> GoogleKeys:
    """Normalize a record's values (keyed by GOOGLE_FIELDS names) into Google's identifiers."""
    issues: list[KeyIssue] = []

    def attempt(field: str, convert: Callable[[str], str]) -> str | None:
        raw = _present(values, field)
        if raw is None:
            return None
        try:
            return convert(raw)
        except InvalidValue as invalid:
            issues.append(KeyIssue(field, invalid.reason))
            return None

    country = attempt("country", normalize.country)
    region = country or (normalize.country(default_region) if default_region else None)
    email = attempt(
        "email",
        lambda v: hash_once(v, lambda t: normalize.email(t, gmail_canonical=gmail_canonical)),
    )
    phone = attempt(
        "phone", lambda v: hash_once(v, lambda t: normalize.phone_e164(t, region=region))
    )
    given = attempt("first_name", lambda v: hash_once(v, _google_name))
    family = attempt("last_name", lambda v: hash_once(v, _google_name))
    postal = attempt("postal_code", lambda v: normalize.postal_code_google(v, country_code=country))
    address = None
    if given and family and country and postal:
        address = Address(given, family, country, postal)
    return GoogleKeys(
        email=email,
        phone=phone,
        address=address,
        crm_id=attempt("crm_id", normalize.external_id),
        mobile_id=attempt("mobile_id", normalize.mobile_id),
        issues=tuple(issues),
    )


def _google_name(value: str) -> str:
    return normalize.person_name(value, style="google")


def data_manager_member(keys: GoogleKeys) -> dict[str, Any]:
    """An `AudienceMember` for `audienceMembers:ingest`/`:remove` (hex encoding)."""
    if keys.mobile_id:
        return {"mobileData": {"mobileIds": [keys.mobile_id]}}
    identifiers: list[dict[str, Any]] = []
    if keys.email:
        identifiers.append({"emailAddress": keys.email})
    if keys.phone:
        identifiers.append({"phoneNumber": keys.phone})
    if keys.address:
        a = keys.address
        identifiers.append(
            {
                "address": {
                    "givenName": a.given_name,
                    "familyName": a.family_name,
                    "regionCode": a.region_code,
                    "postalCode": a.postal_code,
                }
            }
        )
    return {"userData": {"userIdentifiers": identifiers}}


def ads_user_identifiers(keys: GoogleKeys) -> list[dict[str, Any]]:
    """`UserIdentifier`s of one `UserData` for an OfflineUserDataJob operation."""
    identifiers: list[dict[str, Any]] = []
    if keys.email:
        identifiers.append({"hashedEmail": keys.email})
    if keys.phone:
        identifiers.append({"hashedPhoneNumber": keys.phone})
    if keys.address:
        a = keys.address
        identifiers.append(
            {
                "addressInfo": {
                    "hashedFirstName": a.given_name,
                    "hashedLastName": a.family_name,
                    "countryCode": a.region_code,
                    "postalCode": a.postal_code,
                }
            }
        )
    if keys.crm_id:
        identifiers.append({"thirdPartyUserId": keys.crm_id})
    if keys.mobile_id:
        identifiers.append({"mobileId": keys.mobile_id})
    return identifiers
