"""The Data Manager API part of the Google fake: `audienceMembers:ingest` and `:remove`.

Checks (api-contracts §4.6 and the reference pages): bearer token, ≤ 10 destinations, ≤ 10,000
members, ≤ 10 identifiers each, one identifier kind per UserIdentifier, hex SHA-256
(`INVALID_HEX_ENCODING`, `INVALID_SHA256_FORMAT`), `encoding` required for UserData, one data
type per request, list type vs data type, consent enum values. Quota: 300 requests/minute and
100,000/day per project → 429 `RESOURCE_EXHAUSTED` with `ErrorInfo.metadata.quota_limit`
and, for the minute window, a `RetryInfo.retryDelay`.

Fast-fail like the real API: any invalid member fails the whole request with 400
`INVALID_ARGUMENT`, an `ErrorInfo` (reason of the first violation) and a `BadRequest` listing
every violation as `audience_members[i]...` (the per-violation `reason` is our assumption).
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cdpkit.sandbox.fake import Request, Response
from cdpkit.sandbox.fakes_google import DM_DOMAIN, GoogleError, UserList, error_info
from cdpkit.sandbox.fakes_support import snake

if TYPE_CHECKING:
    from cdpkit.sandbox.fakes_google import GoogleFake

MAX_MEMBERS = 10_000
MAX_IDENTIFIERS = 10
MAX_DESTINATIONS = 10
CONSENT_VALUES = frozenset({"CONSENT_STATUS_UNSPECIFIED", "CONSENT_GRANTED", "CONSENT_DENIED"})
ACCOUNT_TYPES = frozenset(
    {"GOOGLE_ADS", "DISPLAY_VIDEO_PARTNER", "DISPLAY_VIDEO_ADVERTISER", "DATA_PARTNER"}
)
_HEX = re.compile(r"[0-9a-fA-F]+")
_MOBILE_ID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


@dataclass
class Violation:
    field: str
    reason: str
    description: str


class DataManager:
    """`POST /v1/audienceMembers:{ingest,remove}` over the fake's customers and lists."""

    def __init__(self, google: GoogleFake) -> None:
        self.google = google

    def _quota(self) -> None:
        if not self.google.day.take():
            raise GoogleError(
                429,
                "Quota exceeded for quota metric 'Ingestion requests' and limit 'Ingestion "
                "requests per day' of service 'datamanager.googleapis.com'.",
                [
                    error_info(
                        "RATE_LIMIT_EXCEEDED",
                        "googleapis.com",
                        quota_limit="IngestionRequestsPerDayPerProject",
                        quota_limit_value=str(self.google.day.limit),
                        service=DM_DOMAIN,
                    )
                ],
            )
        if not self.google.minute.take():
            delay = max(1, round(self.google.minute.reset_in()))
            raise GoogleError(
                429,
                "Quota exceeded for quota metric 'Ingestion requests' and limit 'Ingestion "
                "requests per minute' of service 'datamanager.googleapis.com'.",
                [
                    error_info(
                        "RATE_LIMIT_EXCEEDED",
                        "googleapis.com",
                        quota_limit="IngestionRequestsPerMinutePerProject",
                        quota_limit_value=str(self.google.minute.limit),
                        service=DM_DOMAIN,
                    ),
                    {
                        "@type": "type.googleapis.com/google.rpc.RetryInfo",
                        "retryDelay": f"{delay}s",
                    },
                ],
            )

    def handle(self, request: Request, verb: str) -> Response:
        if verb not in ("ingest", "remove"):
            raise GoogleError(404, f"Method not found: audienceMembers:{verb}")
        self.google.bearer(request)
        self._quota()
        try:
            body = request.json()
        except ValueError:
            raise _invalid_argument(
                [Violation("", "INVALID_ARGUMENT", "Invalid JSON payload")]
            ) from None
        if not isinstance(body, dict):
            raise _invalid_argument([Violation("", "INVALID_ARGUMENT", "Expected a JSON object")])
        targets = self._destinations(request, body.get("destinations"))
        members = body.get("audienceMembers")
        if not isinstance(members, list) or not members:
            raise _invalid_argument(
                [Violation("audience_members", "REQUIRED_FIELD_MISSING", "Required field")]
            )
        if len(members) > MAX_MEMBERS:
            raise _invalid_argument(
                [
                    Violation(
                        "audience_members",
                        "TOO_MANY_AUDIENCE_MEMBERS",
                        "Maximum number of audience members allowed per request is 10,000.",
                    )
                ]
            )
        encoding = body.get("encoding")
        violations, parsed = _members(members, encoding, verb == "ingest")
        self.google.members_received += len(members)
        for i, (_, pairs) in enumerate(parsed):
            hit = next((str(v) for _, v in pairs if str(v) in self.google.poison), None)
            if hit is not None:
                violations.append(
                    Violation(
                        f"audience_members[{i}]", "INVALID_AUDIENCE_MEMBER", self.google.poison[hit]
                    )
                )
        if verb == "ingest":
            violations += _consent(body.get("consent"), "consent")
        kinds = {kind for kind, _ in parsed if kind}
        if len(kinds) > 1:
            violations.append(
                Violation(
                    "audience_members",
                    "MULTIPLE_DATA_TYPES_NOT_ALLOWED",
                    "Multiple data types are not allowed in a single request.",
                )
            )
        for user_list in targets:
            wanted = (
                "mobileData" if user_list.upload_key_type == "MOBILE_ADVERTISING_ID" else "userData"
            )
            if kinds and kinds != {wanted}:
                violations.append(
                    Violation(
                        "destinations",
                        "INVALID_USER_LIST_TYPE",
                        "Type of the user list is not applicable for this request.",
                    )
                )
        if violations:
            raise _invalid_argument(violations)
        request_denied = (body.get("consent") or {}).get("adUserData") == "CONSENT_DENIED"
        if not body.get("validateOnly"):
            with self.google.lock:
                for (_, pairs), member in zip(parsed, members, strict=True):
                    for user_list in targets:
                        if verb == "remove":
                            user_list.members.remove(pairs)
                            continue
                        member_denied = (member.get("consent") or {}).get("adUserData")
                        if request_denied or member_denied == "CONSENT_DENIED":
                            self.google.consent_denied += 1
                            continue
                        user_list.members.add(pairs)
        return Response(200, {"requestId": str(uuid.uuid4())})

    def _destinations(self, request: Request, raw: Any) -> list[UserList]:
        if not isinstance(raw, list) or not raw:
            raise _invalid_argument(
                [Violation("destinations", "REQUIRED_FIELD_MISSING", "Required")]
            )
        if len(raw) > MAX_DESTINATIONS:
            raise _invalid_argument(
                [Violation("destinations", "TOO_MANY_DESTINATIONS", "At most 10 destinations.")]
            )
        lists = []
        for i, destination in enumerate(raw):
            where = f"destinations[{i}]"
            operating = (destination or {}).get("operatingAccount") or {}
            kind = operating.get("accountType") or operating.get("product")
            if kind not in ACCOUNT_TYPES:
                raise _invalid_argument(
                    [
                        Violation(
                            f"{where}.operating_account", "INVALID_ENUM_VALUE", "Bad account type"
                        )
                    ]
                )
            customer = self.google.customers.get(
                str(operating.get("accountId", "")).replace("-", "")
            )
            login = ((destination or {}).get("loginAccount") or {}).get("accountId")
            if customer is None or (customer.manager and str(login) != customer.manager):
                raise GoogleError(
                    403,
                    "The caller does not have permission",
                    [error_info("PERMISSION_DENIED")],
                )
            if not customer.terms_accepted:
                raise _invalid_argument(
                    [
                        Violation(
                            where,
                            "TERMS_AND_CONDITIONS_NOT_SIGNED",
                            "Required terms and conditions are not accepted.",
                        )
                    ]
                )
            user_list = self.google.lists.get(str(destination.get("productDestinationId", "")))
            if user_list is None or user_list.customer != customer.id:
                raise _invalid_argument(
                    [
                        Violation(
                            f"{where}.product_destination_id",
                            "INVALID_USER_LIST_ID",
                            "The user list is not valid.",
                        )
                    ]
                )
            lists.append(user_list)
        return lists


def _invalid_argument(violations: list[Violation]) -> GoogleError:
    return GoogleError(
        400,
        "There was a problem with the request.",
        [
            error_info(violations[0].reason),
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [
                    {"field": v.field, "description": v.description, "reason": v.reason}
                    for v in violations
                ],
            },
        ],
    )


def _hashed(value: Any, encoding: str | None, where: str) -> Violation | None:
    text = value if isinstance(value, str) else ""
    if encoding == "BASE64":
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return Violation(
                where, "INVALID_BASE64_ENCODING", "The base64 encoded value is malformed."
            )
        ok = len(raw) == 32
    else:
        if not _HEX.fullmatch(text):
            return Violation(where, "INVALID_HEX_ENCODING", "The HEX encoded value is malformed.")
        ok = len(text) == 64
    if not ok:
        return Violation(where, "INVALID_SHA256_FORMAT", "The SHA256 encoded value is malformed.")
    return None


def _consent(raw: Any, where: str) -> list[Violation]:
    if raw is None:
        return []
    if not isinstance(raw, dict):
        return [Violation(where, "INVALID_ARGUMENT", "consent must be an object")]
    return [
        Violation(f"{where}.{key}", "INVALID_ENUM_VALUE", "Enum value cannot be used.")
        for key in ("adUserData", "adPersonalization")
        if key in raw and raw[key] not in CONSENT_VALUES
    ]


def _members(
    members: list[Any], encoding: Any, ingest: bool
) -> tuple[list[Violation], list[tuple[str | None, set[tuple[str, Any]]]]]:
    violations: list[Violation] = []
    parsed: list[tuple[str | None, set[tuple[str, Any]]]] = []
    for i, member in enumerate(members):
        where = f"audience_members[{i}]"
        member = member if isinstance(member, dict) else {}
        kinds = [k for k in ("userData", "pairData", "mobileData") if k in member]
        pairs: set[tuple[str, Any]] = set()
        if len(kinds) != 1:
            violations.append(
                Violation(where, "INVALID_AUDIENCE_MEMBER", "This audience member is not valid.")
            )
            parsed.append((None, pairs))
            continue
        kind = kinds[0]
        if ingest:
            violations += _consent(member.get("consent"), f"{where}.consent")
        if kind == "userData":
            if encoding not in ("HEX", "BASE64"):
                violations.append(
                    Violation(
                        "encoding", "REQUIRED_FIELD_MISSING", "Required for UserData uploads."
                    )
                )
                encoding = "HEX"
            identifiers = (member["userData"] or {}).get("userIdentifiers") or []
            if not identifiers:
                violations.append(
                    Violation(
                        f"{where}.user_data", "REQUIRED_FIELD_MISSING", "Required field is missing."
                    )
                )
            if len(identifiers) > MAX_IDENTIFIERS:
                violations.append(
                    Violation(
                        f"{where}.user_data",
                        "TOO_MANY_USER_IDENTIFIERS",
                        "Maximum number of user identifiers allowed per audience member is 10.",
                    )
                )
            for j, identifier in enumerate(identifiers):
                at = f"{where}.user_data.user_identifiers[{j}]"
                found = [
                    k for k in ("emailAddress", "phoneNumber", "address") if k in (identifier or {})
                ]
                if len(found) != 1:
                    violations.append(
                        Violation(at, "INVALID_FORMAT", "Set exactly one identifier.")
                    )
                    continue
                key = found[0]
                value = identifier[key]
                if key == "address":
                    problem = _address(value, encoding, f"{at}.address")
                    if problem is None:
                        value = tuple(
                            value[k]
                            for k in ("givenName", "familyName", "regionCode", "postalCode")
                        )
                else:
                    problem = _hashed(value, encoding, f"{at}.{snake(key)}")
                    value = str(value).lower()
                if problem:
                    violations.append(problem)
                else:
                    pairs.add((key, value))
        elif kind == "mobileData":
            ids = (member["mobileData"] or {}).get("mobileIds") or []
            if not ids or len(ids) > MAX_IDENTIFIERS:
                violations.append(
                    Violation(
                        f"{where}.mobile_data", "INVALID_MOBILE_ID_FORMAT", "1 to 10 mobile ids."
                    )
                )
            for j, mobile in enumerate(ids):
                if not isinstance(mobile, str) or not _MOBILE_ID.fullmatch(mobile):
                    violations.append(
                        Violation(
                            f"{where}.mobile_data.mobile_ids[{j}]",
                            "INVALID_MOBILE_ID_FORMAT",
                            "The mobile ID is malformed.",
                        )
                    )
                else:
                    pairs.add(("mobileId", mobile.lower()))
        else:
            violations.append(
                Violation(
                    f"{where}.pair_data",
                    "INVALID_AUDIENCE_MEMBER",
                    "PAIR ids are not supported here.",
                )
            )
        parsed.append((kind, pairs))
    return violations, parsed


def _address(value: Any, encoding: str, where: str) -> Violation | None:
    if not isinstance(value, dict):
        return Violation(where, "INVALID_FORMAT", "Format is invalid.")
    for key in ("givenName", "familyName", "regionCode", "postalCode"):
        if not value.get(key):
            return Violation(
                f"{where}.{snake(key)}", "REQUIRED_FIELD_MISSING", "Required field is missing."
            )
    for key in ("givenName", "familyName"):
        problem = _hashed(value[key], encoding, f"{where}.{snake(key)}")
        if problem:
            return problem
    if not re.fullmatch(r"[A-Z]{2}", str(value["regionCode"])):
        return Violation(f"{where}.region_code", "INVALID_FORMAT", "Format is invalid.")
    if not str(value["postalCode"]).strip():
        return Violation(f"{where}.postal_code", "INVALID_POSTAL_CODE", "Postal code is not valid.")
    return None
