"""The Google Ads API part of the Google fake: customer lists and OfflineUserDataJobs (§4).

Headers: bearer token, `developer-token`, and `login-customer-id` for customers reachable only
through a manager. Endpoints: `userLists:mutate`, `googleAds:search` (a small GAQL subset),
`offlineUserDataJobs:create`, `{job}:addOperations` (≤ 20 identifiers per operation and
100,000 per request, 64-hex hashes, one identifier kind per UserIdentifier, `removeAll`
first only, partial failure by operation index), `{job}:run` (PENDING → RUNNING → SUCCESS
after a delay; operations apply at SUCCESS in order). Jobs run at the same time on one list
are counted in `concurrent_runs` (Google allows it; cdpkit must never do it). The allowlist
switch answers `CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE`; an operations budget answers
429 `RESOURCE_EXHAUSTED` with `quotaErrorDetails.retryDelay`.
"""

from __future__ import annotations

import itertools
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cdpkit.sandbox.fake import Request, Response
from cdpkit.sandbox.fakes_google import Customer, GoogleError, UserList
from cdpkit.sandbox.fakes_support import FixedWindow, snake

if TYPE_CHECKING:
    from cdpkit.sandbox.fakes_google import GoogleFake

ADS_VERSION = "v23"
FAILURE_TYPE = f"type.googleapis.com/google.ads.googleads.{ADS_VERSION}.errors.GoogleAdsFailure"
MAX_IDENTIFIERS_PER_OPERATION = 20
MAX_IDENTIFIERS_PER_REQUEST = 100_000
JOB_TTL_S = 5 * 86_400
_SHA256 = re.compile(r"[0-9a-f]{64}")
_ROUTE = re.compile(r"/v\d+/customers/(\d+)/(.+)")
HASHED_FIELDS = {"hashedEmail": "emailAddress", "hashedPhoneNumber": "phoneNumber"}
KEY_TYPES = {
    "CONTACT_INFO": {"hashedEmail", "hashedPhoneNumber", "addressInfo"},
    "CRM_ID": {"thirdPartyUserId"},
    "MOBILE_ADVERTISING_ID": {"mobileId"},
}
# Not every enum value below is confirmed by the sources read (api-contracts §4.7 marks the
# job-state error as unknown); the fake uses these names consistently.
JOB_NOT_PENDING = "INVALID_JOB_STATUS"


def ads_failure(status: int, errors: list[dict[str, Any]], message: str) -> GoogleError:
    detail = {"@type": FAILURE_TYPE, "errors": errors, "requestId": uuid.uuid4().hex[:22]}
    return GoogleError(status, message, [detail])


def ads_error(
    code_kind: str, code: str, message: str, status: int = 400, **extra: Any
) -> GoogleError:
    error = {"errorCode": {code_kind: code}, "message": message, **extra}
    text = "Request contains an invalid argument." if status == 400 else message
    return ads_failure(status, [error], text)


def _path(*elements: tuple[str, int | None]) -> dict[str, Any]:
    return {
        "fieldPathElements": [
            {"fieldName": name, **({"index": index} if index is not None else {})}
            for name, index in elements
        ]
    }


@dataclass
class Job:
    id: str
    customer: str
    user_list: UserList
    consent: dict[str, str]
    created: float
    status: str = "PENDING"
    operations: list[tuple[str, set[tuple[str, Any]]]] = field(default_factory=list)
    finish_at: float | None = None
    failure_reason: str | None = None

    @property
    def resource_name(self) -> str:
        return f"customers/{self.customer}/offlineUserDataJobs/{self.id}"

    def resource(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "resourceName": self.resource_name,
            "id": self.id,
            "type": "CUSTOMER_MATCH_USER_LIST",
            "status": self.status,
            "customerMatchUserListMetadata": {"userList": self.user_list.resource_name},
        }
        if self.failure_reason:
            body["failureReason"] = self.failure_reason
        return body


class AdsJobs:
    """Google Ads API endpoints over the fake's customers and lists."""

    def __init__(self, google: GoogleFake, *, run_delay_s: float) -> None:
        self.google = google
        self.run_delay_s = run_delay_s
        self.jobs: dict[str, Job] = {}
        self.concurrent_runs = 0
        self.fail_next_run = False
        self.operations_budget = FixedWindow(None, 60.0)
        self._ids = itertools.count(700_001)

    # -- routing --------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        match = _ROUTE.fullmatch(request.path)
        if request.method != "POST" or not match:
            raise GoogleError(404, f"Method not found: {request.method} {request.path}")
        customer = self._authorize(request, match.group(1))
        tail = match.group(2)
        try:
            body = request.json() if request.body else {}
        except ValueError:
            raise ads_error("requestError", "INVALID_INPUT", "Invalid JSON payload") from None
        with self.google.lock:
            self._settle()
            if tail == "userLists:mutate":
                return self._mutate_lists(customer, body)
            if tail == "googleAds:search":
                return self._search(customer, body)
            if tail == "offlineUserDataJobs:create":
                return self._create(customer, body)
            job_match = re.fullmatch(r"offlineUserDataJobs/(\d+):(addOperations|run)", tail)
            if job_match:
                job = self.jobs.get(job_match.group(1))
                if job is None or job.customer != customer.id:
                    raise ads_error("mutateError", "RESOURCE_NOT_FOUND", "Resource was not found.")
                if job_match.group(2) == "run":
                    return self._run(job)
                return self._add_operations(job, body)
        raise GoogleError(404, f"Method not found: {request.path}")

    def _authorize(self, request: Request, customer_id: str) -> Customer:
        try:
            self.google.bearer(request)
        except GoogleError:
            raise ads_error(
                "authenticationError",
                "OAUTH_TOKEN_INVALID",
                "Oauth token in the header is not valid.",
                status=401,
            ) from None
        developer_token = request.headers.get("developer-token")
        if not developer_token:
            raise ads_error(
                "authenticationError",
                "DEVELOPER_TOKEN_PARAMETER_MISSING",
                "Developer token parameter is missing from the request header.",
                status=401,
            )
        if developer_token not in self.google.developer_tokens:
            raise ads_error(
                "authorizationError",
                "DEVELOPER_TOKEN_NOT_APPROVED",
                "The developer token is not approved.",
                status=403,
            )
        customer = self.google.customers.get(customer_id)
        login = (request.headers.get("login-customer-id") or "").replace("-", "")
        if customer is None or (customer.manager and login != customer.manager):
            raise ads_error(
                "authorizationError",
                "USER_PERMISSION_DENIED",
                "User doesn't have permission to access customer. Note: If you're accessing a "
                "client customer, the manager's customer id must be set in the "
                "'login-customer-id' header.",
                status=403,
            )
        return customer

    # -- lists and search -----------------------------------------------------------------------
    def _mutate_lists(self, customer: Customer, body: dict[str, Any]) -> Response:
        results = []
        for i, operation in enumerate(body.get("operations") or []):
            create = (operation or {}).get("create")
            if not create or not create.get("name"):
                raise ads_error("fieldError", "REQUIRED", "The required field was not present.")
            crm = create.get("crmBasedUserList")
            if not isinstance(crm, dict):
                raise ads_error("userListError", "INVALID_USER_LIST_TYPE", "Only CRM-based lists.")
            key_type = crm.get("uploadKeyType", "CONTACT_INFO")
            if key_type not in KEY_TYPES:
                raise ads_error("userListError", "INVALID_UPLOAD_KEY_TYPE", "Bad upload key type.")
            try:
                user_list = self.google.create_list(customer.id, create["name"], key_type)
            except ValueError:
                raise ads_error(
                    "userListError",
                    "NAME_ALREADY_USED",
                    "Name is already being used for another user list for the account.",
                    location=_path(("operations", i), ("create", None), ("name", None)),
                ) from None
            results.append({"resourceName": user_list.resource_name})
        return Response(200, {"results": results})

    def _search(self, customer: Customer, body: dict[str, Any]) -> Response:
        query = str(body.get("query") or "")
        match = re.fullmatch(
            r"\s*SELECT\s+(.+?)\s+FROM\s+(\w+)(?:\s+WHERE\s+(.+?))?(?:\s+LIMIT\s+(\d+))?\s*",
            query,
            re.IGNORECASE | re.DOTALL,
        )
        if not match:
            raise ads_error("queryError", "UNEXPECTED_INPUT", "Error in query: unexpected input.")
        resource, where, limit = match.group(2), match.group(3), match.group(4)
        conditions = _conditions(where or "")
        rows: list[dict[str, Any]] = []
        if resource == "user_list":
            for ul in self.google.lists.values():
                fields = {
                    "user_list.resource_name": ul.resource_name,
                    "user_list.id": ul.id,
                    "user_list.name": ul.name,
                }
                if ul.customer == customer.id and _matches(fields, conditions):
                    rows.append(
                        {
                            "userList": {
                                "resourceName": ul.resource_name,
                                "id": ul.id,
                                "name": ul.name,
                                "crmBasedUserList": {"uploadKeyType": ul.upload_key_type},
                                "sizeForDisplay": str(len(ul.members)),
                                "sizeForSearch": str(len(ul.members)),
                            }
                        }
                    )
        elif resource == "offline_user_data_job":
            for job in self.jobs.values():
                prefix = "offline_user_data_job."
                fields = {
                    prefix + "resource_name": job.resource_name,
                    prefix + "id": job.id,
                    prefix + "status": job.status,
                    prefix + "type": "CUSTOMER_MATCH_USER_LIST",
                    prefix
                    + "customer_match_user_list_metadata.user_list": job.user_list.resource_name,
                }
                if job.customer == customer.id and _matches(fields, conditions):
                    rows.append({"offlineUserDataJob": job.resource()})
        else:
            raise ads_error(
                "queryError", "INVALID_RESOURCE_NAME", f"Unsupported resource {resource}"
            )
        if limit:
            rows = rows[: int(limit)]
        return Response(200, {"results": rows, "fieldMask": match.group(1).replace(" ", "")})

    # -- jobs -------------------------------------------------------------------------------------
    def _create(self, customer: Customer, body: dict[str, Any]) -> Response:
        if not customer.allowlisted:
            raise ads_error(
                "notAllowlistedError",
                "CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE",
                "Customer is not allowlisted for accessing this feature.",
                status=403,
            )
        job_spec = body.get("job") or {}
        if job_spec.get("type") != "CUSTOMER_MATCH_USER_LIST":
            raise ads_error("offlineUserDataJobError", "INVALID_JOB_TYPE", "Unsupported job type.")
        metadata = job_spec.get("customerMatchUserListMetadata") or {}
        user_list = next(
            (
                ul
                for ul in self.google.lists.values()
                if ul.resource_name == metadata.get("userList")
            ),
            None,
        )
        if user_list is None or user_list.customer != customer.id:
            raise ads_error(
                "offlineUserDataJobError", "INVALID_USER_LIST_ID", "The user list ID is not valid."
            )
        consent = metadata.get("consent") or {}
        if consent.get("adUserData") == "DENIED":
            raise ads_error(
                "offlineUserDataJobError",
                "CUSTOMER_NOT_ACCEPTED_CUSTOMER_DATA_TERMS",
                "Customer has not accepted the customer data terms.",
            )
        job = Job(str(next(self._ids)), customer.id, user_list, consent, time.time())
        if not body.get("validateOnly"):
            self.jobs[job.id] = job
        return Response(200, {"resourceName": job.resource_name})

    def _pending(self, job: Job) -> None:
        if job.status != "PENDING" or time.time() - job.created > JOB_TTL_S:
            raise ads_error(
                "offlineUserDataJobError",
                JOB_NOT_PENDING,
                f"The job is {job.status}; operations can only be added to and run on a PENDING "
                "job created less than 5 days ago.",
            )

    def _add_operations(self, job: Job, body: dict[str, Any]) -> Response:
        self._pending(job)
        operations = body.get("operations")
        if not isinstance(operations, list) or not operations:
            raise ads_error("fieldError", "REQUIRED", "The required field was not present.")
        total = sum(
            len(
                ((op or {}).get("create") or (op or {}).get("remove") or {}).get("userIdentifiers")
                or []
            )
            for op in operations
        )
        if total > MAX_IDENTIFIERS_PER_REQUEST:
            raise ads_error(
                "userDataError",
                "TOO_MANY_USER_IDENTIFIERS",
                "Maximum number of user identifiers allowed per request is 100,000 and per "
                "operation is 20.",
            )
        if not self.operations_budget.take():
            delay = max(1, round(self.operations_budget.reset_in()))
            raise ads_failure(
                429,
                [
                    {
                        "errorCode": {"quotaError": "RESOURCE_EXHAUSTED"},
                        "message": f"Too many requests. Retry in {delay} seconds.",
                        "details": {
                            "quotaErrorDetails": {
                                "rateScope": "DEVELOPER",
                                "rateName": "Number of operations for basic access",
                                "retryDelay": f"{delay}s",
                            }
                        },
                    }
                ],
                "Resource has been exhausted (e.g. check quota).",
            )
        accepted: list[tuple[str, set[tuple[str, Any]]]] = []
        errors: list[dict[str, Any]] = []
        for i, operation in enumerate(operations):
            problem, parsed = self._operation(job, i, operation)
            if problem:
                errors.append(problem)
            elif parsed:
                accepted.append(parsed)
        if errors and not body.get("enablePartialFailure"):
            raise ads_failure(400, errors, "Request contains an invalid argument.")
        if not body.get("validateOnly"):
            job.operations.extend(accepted)
        if errors:
            failure = {
                "code": 3,
                "message": f"Multiple errors in 'details'. First error: {errors[0]['message']}",
                "details": [
                    {"@type": FAILURE_TYPE, "errors": errors, "requestId": uuid.uuid4().hex[:22]}
                ],
            }
            return Response(200, {"partialFailureError": failure})
        return Response(200, {})

    def _operation(
        self, job: Job, i: int, operation: Any
    ) -> tuple[dict[str, Any] | None, tuple[str, set[tuple[str, Any]]] | None]:
        operation = operation if isinstance(operation, dict) else {}
        kinds = [k for k in ("create", "remove", "removeAll") if k in operation]
        if len(kinds) != 1:
            return _op_error(
                i, "fieldError", "REQUIRED", "Exactly one of create/remove/removeAll."
            ), None
        kind = kinds[0]
        if kind == "removeAll":
            if i != 0 or job.operations:
                return (
                    _op_error(
                        i,
                        "offlineUserDataJobError",
                        "REMOVE_ALL_MUST_BE_FIRST_OPERATION",
                        "removeAll must be the first operation of the job.",
                    ),
                    None,
                )
            return None, ("removeAll", set())
        identifiers = (operation[kind] or {}).get("userIdentifiers") or []
        if not identifiers:
            return _op_error(
                i, "fieldError", "REQUIRED", "userIdentifiers is required.", kind
            ), None
        if len(identifiers) > MAX_IDENTIFIERS_PER_OPERATION:
            return (
                _op_error(
                    i,
                    "userDataError",
                    "TOO_MANY_USER_IDENTIFIERS",
                    "Maximum number of user identifiers allowed per request is 100,000 and per "
                    "operation is 20.",
                    kind,
                ),
                None,
            )
        allowed = KEY_TYPES[job.user_list.upload_key_type]
        pairs: set[tuple[str, Any]] = set()
        for j, identifier in enumerate(identifiers):
            identifier = identifier if isinstance(identifier, dict) else {}
            keys = [k for k in identifier if k != "userIdentifierSource"]
            if len(keys) != 1:
                return _op_error(
                    i, "fieldError", "INVALID_ONEOF", "Set one identifier.", kind, j
                ), None
            key = keys[0]
            value = identifier[key]
            if key not in allowed:
                return (
                    _op_error(
                        i,
                        "offlineUserDataJobError",
                        "INCOMPATIBLE_UPLOAD_KEY_TYPE",
                        f"{key} does not match the list's upload key type "
                        f"{job.user_list.upload_key_type}.",
                        kind,
                        j,
                    ),
                    None,
                )
            if key in HASHED_FIELDS:
                if not isinstance(value, str) or not _SHA256.fullmatch(value):
                    return _sha_error(i, kind, j, snake(key)), None
                pairs.add((HASHED_FIELDS[key], value))
            elif key == "addressInfo":
                address = value if isinstance(value, dict) else {}
                for part in ("hashedFirstName", "hashedLastName"):
                    if not _SHA256.fullmatch(str(address.get(part, ""))):
                        return _sha_error(i, kind, j, "address_info", snake(part)), None
                if not re.fullmatch(
                    r"[A-Z]{2}", str(address.get("countryCode", ""))
                ) or not address.get("postalCode"):
                    return (
                        _op_error(
                            i,
                            "offlineUserDataJobError",
                            "INVALID_ADDRESS",
                            "Address needs countryCode and postalCode.",
                            kind,
                            j,
                        ),
                        None,
                    )
                parts = ("hashedFirstName", "hashedLastName", "countryCode", "postalCode")
                pairs.add(("address", tuple(address[p] for p in parts)))
            else:
                if not isinstance(value, str) or not value.strip():
                    return _op_error(i, "fieldError", "REQUIRED", f"{key} is empty.", kind, j), None
                pairs.add((key, value.lower() if key == "mobileId" else value))
        return None, (kind, pairs)

    def _run(self, job: Job) -> Response:
        self._pending(job)
        now = time.time()
        if any(
            other.status == "RUNNING" and other.user_list is job.user_list and other is not job
            for other in self.jobs.values()
        ):
            self.concurrent_runs += 1
        job.status = "RUNNING"
        job.finish_at = now + self.run_delay_s
        return Response(200, {"name": f"customers/{job.customer}/operations/{job.id}"})

    def _settle(self) -> None:
        """Finish running jobs whose time has come, in the order they were started."""
        now = time.time()
        due = sorted(
            (j for j in self.jobs.values() if j.status == "RUNNING" and (j.finish_at or 0) <= now),
            key=lambda j: j.finish_at or 0,
        )
        for job in due:
            if self.fail_next_run:
                self.fail_next_run = False
                job.status, job.failure_reason = "FAILED", "UNKNOWN"
                continue
            members = job.user_list.members
            for kind, pairs in job.operations:
                if kind == "removeAll":
                    members.clear()
                elif kind == "create":
                    members.add(pairs)
                else:
                    members.remove(pairs)
            job.status = "SUCCESS"

    def settle(self) -> None:
        with self.google.lock:
            self._settle()


def _op_error(
    i: int,
    kind: str,
    code: str,
    message: str,
    op: str | None = None,
    j: int | None = None,
    *more: str,
) -> dict[str, Any]:
    elements: list[tuple[str, int | None]] = [("operations", i)]
    if op:
        elements.append((op, None))
    if j is not None:
        elements.append(("user_identifiers", j))
    elements += [(name, None) for name in more]
    return {"errorCode": {kind: code}, "message": message, "location": _path(*elements)}


def _sha_error(i: int, op: str, j: int, *names: str) -> dict[str, Any]:
    return _op_error(
        i,
        "offlineUserDataJobError",
        "INVALID_SHA256_FORMAT",
        "The SHA256 encoded value is malformed.",
        op,
        j,
        *names,
    )


def _conditions(where: str) -> list[tuple[str, set[str]]]:
    conditions = []
    for part in re.split(r"\s+AND\s+", where.strip(), flags=re.IGNORECASE) if where.strip() else []:
        equal = re.fullmatch(r"([\w.]+)\s*=\s*'([^']*)'", part.strip())
        member = re.fullmatch(r"([\w.]+)\s+IN\s*\(([^)]*)\)", part.strip(), re.IGNORECASE)
        if equal:
            conditions.append((equal.group(1), {equal.group(2)}))
        elif member:
            values = {v.strip().strip("'") for v in member.group(2).split(",")}
            conditions.append((member.group(1), values))
        else:
            raise ads_error("queryError", "UNEXPECTED_INPUT", f"Error in query near '{part}'.")
    return conditions


def _matches(fields: dict[str, str], conditions: list[tuple[str, set[str]]]) -> bool:
    for name, values in conditions:
        if name not in fields:
            raise ads_error("queryError", "UNRECOGNIZED_FIELD", f"Unrecognized field '{name}'.")
        if fields[name] not in values:
            return False
    return True
