"""A faithful fake of Salesforce's OAuth, REST (sObject Collections, SOQL) and Bulk API 2.0.

Served by `cdpkit sandbox` under `/salesforce`: the My Domain / login URL is
`http://127.0.0.1:PORT/salesforce`, and the token response's `instance_url` points back there.
Enforces api-contracts §2.6: client-credentials token endpoint (400 `invalid_client_id` /
`invalid_client` / `unsupported_grant_type`); bearer sessions on `/services/data/**` with
expiry (401 `INVALID_SESSION_ID` array body); `vNN.N` versions (collections upsert needs
v46.0+); collections ≤ 200 records with `attributes.type` matching the URI, unknown fields and
JSON type mismatches refusing the request, per-record errors (REQUIRED_FIELD_MISSING,
INVALID_EMAIL_ADDRESS, DUPLICATE_EXTERNAL_ID for a key repeated in one request,
MISSING_ARGUMENT, DUPLICATE_VALUE "Already a campaign member.") in request order with
`created`, and `allOrNone` rollback (ALL_OR_NONE_OPERATION_ROLLED_BACK); a daily API counter
(`Sforce-Limit-Info: api-usage=N/LIMIT` on every response, 403 REQUEST_LIMIT_EXCEEDED
"TotalRequests Limit exceeded." when used up); SOQL with `nextRecordsUrl` paging; and the Bulk
API 2.0 ingest state machine (cdpkit.sandbox.fakes_salesforce_bulk).

Control (`/_sandbox/salesforce/...`): `POST settings` {daily_limit, session_seconds,
query_batch_size, processing_delay_s, multiple_uploads, shuffle, client_id, client_secret,
min_version}, `POST fields` {"object", "name", "type", "external_id"}, `POST records`
{"object", "records": [{...}]}, `POST expire_sessions`, `POST reset_daily`, `GET records?object=`,
`GET campaigns`, `GET stats`, `POST faults`, `POST reset`.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from collections import Counter
from typing import Any
from urllib.parse import parse_qsl, unquote

from cdpkit.sandbox import credentials
from cdpkit.sandbox import fakes_salesforce_soql as soql
from cdpkit.sandbox.fake import Fake, Request, Response, scripted_response
from cdpkit.sandbox.fakes_salesforce_bulk import BulkIngest
from cdpkit.sandbox.fakes_salesforce_data import (
    FieldDef,
    Org,
    RecordError,
    RequestError,
    Session,
)

CLIENT_ID_ENV = credentials.SALESFORCE_CLIENT_ID
CLIENT_SECRET_ENV = credentials.SALESFORCE_CLIENT_SECRET
DEFAULT_CLIENT_ID = "sandbox-salesforce-client"  # an identifier, not a secret
MAX_COLLECTION = 200


def sandbox_client_secret() -> str:
    """The client secret the fake accepts: `$CDPKIT_SANDBOX_SALESFORCE_CLIENT_SECRET` or one made
    up for this process."""
    return credentials.credential(CLIENT_SECRET_ENV)


LATEST = 62.0
_VERSION = re.compile(r"^v(\d{2})\.(\d)$")


class SalesforceFake(Fake):
    name = "salesforce"
    description = "Salesforce: OAuth client credentials, sObject Collections, SOQL, Bulk API 2.0"

    def __init__(self) -> None:
        super().__init__()
        self._defaults()

    def _defaults(self) -> None:
        self.org = Org()
        self.bulk = BulkIngest(self.org)
        self.client_id = os.environ.get(CLIENT_ID_ENV) or DEFAULT_CLIENT_ID
        self.client_secret = sandbox_client_secret()
        self.sessions: dict[str, Session] = {}
        self.session_seconds = 7200.0
        self.daily_limit = 100_000  # Enterprise edition base allocation
        self.used_today = 0
        self.query_batch_size = 2000
        self.min_version = 31.0
        self.cursors: dict[str, tuple[list[dict[str, Any]], int]] = {}
        self.stats: Counter[str] = Counter()
        self.max_records_seen = 0

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self._defaults()

    # -- HTTP ----------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        entry = self.faults.next_scripted()
        if entry is not None:
            scripted = scripted_response(entry)
            if scripted is not None:
                return self._with_usage(scripted)
        if self.faults.latency_s:
            time.sleep(self.faults.latency_s)
        try:
            if request.path == "/services/oauth2/token":
                with self.org.lock:
                    return self._token(request)
            if request.path.rstrip("/") == "/services/data":
                return Response(
                    200,
                    [
                        {
                            "version": f"{LATEST:.1f}",
                            "label": "Winter '25",
                            "url": f"/services/data/v{LATEST:.1f}",
                        }
                    ],
                )
            if not request.path.startswith("/services/data/"):
                raise RequestError("NOT_FOUND", "The requested resource does not exist", 404)
            with self.org.lock:  # one request at a time: counters and data stay consistent
                self._authenticate(request)
                if self.used_today >= self.daily_limit:
                    self.stats["limit_exceeded"] += 1
                    raise RequestError(
                        "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", 403
                    )
                self.used_today += 1
                return self._with_usage(self._data(request))
        except RequestError as exc:
            return self._with_usage(Response(exc.status, exc.body()))

    def _with_usage(self, response: Response) -> Response:
        response.headers["Sforce-Limit-Info"] = f"api-usage={self.used_today}/{self.daily_limit}"
        return response

    def _token(self, request: Request) -> Response:
        if request.method != "POST":
            raise RequestError("NOT_FOUND", "The requested resource does not exist", 404)
        form = dict(parse_qsl(request.body.decode("utf-8"), keep_blank_values=True))
        self.stats["token"] += 1
        if form.get("grant_type") != "client_credentials":
            return Response(
                400,
                {
                    "error": "unsupported_grant_type",
                    "error_description": "grant type not supported",
                },
            )
        if form.get("client_id") != self.client_id:
            return Response(
                400,
                {"error": "invalid_client_id", "error_description": "client identifier invalid"},
            )
        if not secrets.compare_digest(form.get("client_secret", ""), self.client_secret):
            return Response(
                400, {"error": "invalid_client", "error_description": "invalid client credentials"}
            )
        token = "00DDn0000000001!" + secrets.token_urlsafe(24)
        self.sessions[token] = Session(token, time.time() + self.session_seconds, self.client_id)
        host = request.headers.get("host", "127.0.0.1")
        instance = f"http://{host}/{self.name}"
        issued = str(int(time.time() * 1000))
        return Response(
            200,
            {
                "access_token": token,
                "signature": secrets.token_urlsafe(16),
                "token_format": "opaque",
                "scope": "api",
                "instance_url": instance,
                "id": f"{instance}/id/00DDn0000000001/005Dn000000000001",
                "token_type": "Bearer",
                "issued_at": issued,
            },
        )

    def _authenticate(self, request: Request) -> None:
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        session = self.sessions.get(token)
        if session is None or session.expires < time.time() or self.faults.fail_auth:
            self.stats["invalid_session"] += 1
            raise RequestError("INVALID_SESSION_ID", "Session expired or invalid", 401)

    def _data(self, request: Request) -> Response:
        parts = [unquote(p) for p in request.path.split("/") if p][2:]  # after services/data
        match = _VERSION.match(parts[0]) if parts else None
        if not match:
            raise RequestError("NOT_FOUND", "The requested resource does not exist", 404)
        version = float(f"{match.group(1)}.{match.group(2)}")
        if not self.min_version <= version <= LATEST:
            raise RequestError("NOT_FOUND", f"API version {version:.1f} is not supported", 404)
        rest, method = parts[1:], request.method
        body = _json_body(request) if method in ("POST", "PATCH") else None  # PUT: CSV
        key = f"{method} {'/'.join(rest[:2])}"
        self.stats[key] += 1
        if rest == ["limits"] and method == "GET":
            return Response(200, self._limits())
        if rest and rest[0] == "query" and method == "GET":
            return self._query(request, rest, f"v{version:.1f}")
        if rest[:2] == ["composite", "sobjects"]:
            return self._collections(request, rest, body, version)
        if rest and rest[0] == "sobjects":
            return self._sobject(method, rest, body)
        if rest[:2] == ["jobs", "ingest"]:
            return self._ingest(request, rest, body, f"{version:.1f}")
        raise RequestError("NOT_FOUND", "The requested resource does not exist", 404)

    def _limits(self) -> dict[str, Any]:
        return {
            "DailyApiRequests": {
                "Max": self.daily_limit,
                "Remaining": self.daily_limit - self.used_today,
            },
            "DailyBulkV2QueryJobs": {"Max": 10_000, "Remaining": 10_000},
        }

    # -- SOQL ----------------------------------------------------------------------------------
    def _query(self, request: Request, rest: list[str], version: str) -> Response:
        if len(rest) == 2:
            cursor, _, offset = rest[1].rpartition("-")
            stored = self.cursors.get(cursor)
            if stored is None or not offset.isdigit():
                raise RequestError("INVALID_QUERY_LOCATOR", "invalid query locator")
            rows, _ = stored
            return self._page(cursor, rows, int(offset), version)
        text = request.query.get("q")
        if not text:
            raise RequestError("MALFORMED_QUERY", "q parameter is required")
        _, rows = soql.run(soql.parse(text), self.org.schema, self.org.records)
        cursor = f"01gDn{secrets.token_hex(6)}"
        self.cursors[cursor] = (rows, len(rows))
        return self._page(cursor, rows, 0, version)

    def _page(self, cursor: str, rows: list[dict[str, Any]], offset: int, version: str) -> Response:
        size = self.query_batch_size
        page = rows[offset : offset + size]
        body: dict[str, Any] = {
            "totalSize": len(rows),
            "done": offset + size >= len(rows),
            "records": page,
        }
        if not body["done"]:
            body["nextRecordsUrl"] = f"/services/data/{version}/query/{cursor}-{offset + size}"
        else:
            self.cursors.pop(cursor, None)
        return Response(200, body)

    # -- sObjects ------------------------------------------------------------------------------
    def _sobject(self, method: str, rest: list[str], body: Any) -> Response:
        if len(rest) < 2:
            raise RequestError("NOT_FOUND", "The requested resource does not exist", 404)
        obj = rest[1]
        fields = self.org.object(obj)
        if len(rest) == 3 and rest[2] == "describe" and method == "GET":
            return Response(
                200,
                {
                    "name": obj,
                    "label": obj,
                    "createable": True,
                    "updateable": True,
                    "fields": [f.describe() for f in fields.values()],
                },
            )
        if len(rest) == 2 and method == "POST":
            values = self._values(obj, body)
            try:
                rid = self.org.create(obj, values)
            except RecordError as error:
                return Response(
                    400,
                    [{"message": error.message, "errorCode": error.code, "fields": error.fields}],
                )
            return Response(201, {"id": rid, "success": True, "errors": []})
        if len(rest) == 3 and method in ("GET", "PATCH", "DELETE"):
            record = self.org.records[obj].get(rest[2])
            if record is None:
                raise RequestError("NOT_FOUND", "The requested resource does not exist", 404)
            if method == "GET":
                return Response(200, {"attributes": {"type": obj}, **record})
            if method == "DELETE":
                self.org.delete(rest[2])
                return Response(204)
            try:
                self.org.update(obj, rest[2], self._values(obj, body))
            except RecordError as error:
                return Response(
                    400,
                    [{"message": error.message, "errorCode": error.code, "fields": error.fields}],
                )
            return Response(204)
        raise RequestError("METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed", 405)

    def _values(self, obj: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise RequestError("JSON_PARSER_ERROR", "expected a JSON object")
        values = {k: v for k, v in body.items() if k != "attributes"}
        self.org.check_columns(obj, list(values))
        return self.org.coerce(obj, values)

    # -- sObject Collections -------------------------------------------------------------------
    def _collections(
        self, request: Request, rest: list[str], body: Any, version: float
    ) -> Response:
        method = request.method
        if method == "DELETE" and len(rest) == 2:
            ids = [i for i in (request.query.get("ids") or "").split(",") if i]
            if not ids:
                raise RequestError("MISSING_ARGUMENT", "ids parameter is required")
            if len(ids) > MAX_COLLECTION:
                raise RequestError(
                    "EXCEEDED_ID_LIMIT",
                    "record limit reached. cannot submit more than 200 records into this call",
                )
            return Response(200, [self._delete_one(i) for i in ids])
        if method == "PATCH" and len(rest) == 4:
            if version < 46.0:
                raise RequestError("NOT_FOUND", "The requested resource does not exist", 404)
            return self._upsert(rest[2], rest[3], body)
        if method == "POST" and len(rest) == 2:
            return self._create_many(body)
        if method == "PATCH" and len(rest) == 2:
            return self._update_many(body)
        raise RequestError("METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed", 405)

    def _delete_one(self, rid: str) -> dict[str, Any]:
        try:
            self.org.delete(rid)
        except RecordError:
            return {
                "id": rid,
                "success": False,
                "errors": [
                    {
                        "statusCode": "ENTITY_IS_DELETED",
                        "message": "entity is deleted",
                        "fields": [],
                    }
                ],
            }
        return {"id": rid, "success": True, "errors": []}

    def _records(self, body: Any, obj: str | None) -> tuple[list[dict[str, Any]], bool]:
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            raise RequestError("JSON_PARSER_ERROR", 'expected {"allOrNone": ..., "records": [...]}')
        records = body["records"]
        self.max_records_seen = max(self.max_records_seen, len(records))
        if len(records) > MAX_COLLECTION:
            raise RequestError(
                "EXCEEDED_ID_LIMIT",
                "record limit reached. cannot submit more than 200 records into this call",
            )
        for record in records:
            kind = (
                (record.get("attributes") or {}).get("type") if isinstance(record, dict) else None
            )
            if not kind:
                raise RequestError("INVALID_TYPE", "Must send a concrete entity type.")
            if obj is not None and kind != obj:
                raise RequestError(
                    "INVALID_TYPE", f"Record type {kind} does not match the URI type {obj}"
                )
            self.org.object(kind)
            self.org.check_columns(kind, [k for k in record if k != "attributes"])
        return records, bool(body.get("allOrNone", False))

    def _upsert(self, obj: str, ext_field: str, body: Any) -> Response:
        self.org.object(obj)
        self.org.external_field(obj, ext_field)
        records, all_or_none = self._records(body, obj)
        self.stats["records_upserted"] += len(records)
        coerced = [
            self.org.coerce(obj, {k: v for k, v in r.items() if k != "attributes"}) for r in records
        ]
        keys = [str(v.get(ext_field) or "").strip().lower() for v in coerced]
        repeated = {k for k in keys if k and keys.count(k) > 1}

        def apply(values: dict[str, Any], key: str) -> dict[str, Any]:
            if key in repeated:
                raise RecordError(
                    "DUPLICATE_EXTERNAL_ID",
                    f"Duplicate external id specified: {values.get(ext_field)}",
                    [ext_field],
                )
            rid, created = self.org.upsert(obj, ext_field, values)
            return {"id": rid, "success": True, "errors": [], "created": created}

        return Response(
            200, self._transaction(list(zip(coerced, keys, strict=True)), apply, all_or_none)
        )

    def _create_many(self, body: Any) -> Response:
        records, all_or_none = self._records(body, None)
        for record in records:
            if "Id" in record:
                raise RequestError("INVALID_FIELD", "Id is not allowed on create")
        items = [
            (
                self.org.coerce(
                    r["attributes"]["type"], {k: v for k, v in r.items() if k != "attributes"}
                ),
                r["attributes"]["type"],
            )
            for r in records
        ]

        def apply(values: dict[str, Any], obj: str) -> dict[str, Any]:
            return {"id": self.org.create(obj, values), "success": True, "errors": []}

        return Response(200, self._transaction(items, apply, all_or_none))

    def _update_many(self, body: Any) -> Response:
        records, all_or_none = self._records(body, None)
        items = []
        for r in records:
            kind = r["attributes"]["type"]
            if not r.get("Id"):
                raise RequestError("MISSING_ARGUMENT", "Id not specified in an update call")
            values = {k: v for k, v in r.items() if k not in ("attributes", "Id")}
            items.append(((kind, str(r["Id"])), self.org.coerce(kind, values)))

        def apply(target: tuple[str, str], values: dict[str, Any]) -> dict[str, Any]:
            kind, rid = target
            if rid not in self.org.records[kind]:
                raise RecordError("ENTITY_IS_DELETED", "entity is deleted", [])
            self.org.update(kind, rid, values)
            return {"id": rid, "success": True, "errors": []}

        return Response(200, self._transaction(items, apply, all_or_none))

    def _transaction(
        self, items: list[tuple[Any, Any]], apply: Any, all_or_none: bool
    ) -> list[dict[str, Any]]:
        """Per-record results in request order; with allOrNone, any failure rolls all back."""
        saved = _copy(self.org.records) if all_or_none else None
        results: list[dict[str, Any]] = []
        failed = False
        for values, extra in items:
            try:
                results.append(apply(values, extra))
            except RecordError as error:
                failed = True
                results.append({"success": False, "errors": [error.item()]})
        if failed and saved is not None:
            self.org.records = saved
            self.org.reindex()
            rolled = {
                "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                "message": "Record rolled back because not all records were valid and the "
                "request was using AllOrNone header",
                "fields": [],
            }
            results = [
                r if not r["success"] else {"success": False, "errors": [rolled]} for r in results
            ]
        return results

    # -- Bulk API 2.0 --------------------------------------------------------------------------
    def _ingest(self, request: Request, rest: list[str], body: Any, version: str) -> Response:
        method = request.method
        if len(rest) == 2 and method == "POST":
            return Response(200, self.bulk.create(body, version).info())
        if len(rest) < 3:
            raise RequestError("NOT_FOUND", "The requested resource does not exist", 404)
        job_id = rest[2]
        if len(rest) == 3:
            if method == "GET":
                return Response(200, self.bulk.job(job_id).info())
            if method == "PATCH":
                return Response(200, self.bulk.set_state(job_id, body).info())
            if method == "DELETE":
                self.bulk.job(job_id)
                del self.bulk.jobs[job_id]
                return Response(204)
        if len(rest) == 4 and rest[3] == "batches" and method == "PUT":
            self.bulk.upload(job_id, request.headers.get("content-type", ""), request.body)
            return Response(201)
        if (
            len(rest) == 4
            and method == "GET"
            and rest[3] in ("successfulResults", "failedResults", "unprocessedrecords")
        ):
            text = self.bulk.results(job_id, rest[3])
            return Response(200, text, {"Content-Type": "text/csv"})
        raise RequestError("NOT_FOUND", "The requested resource does not exist", 404)

    # -- control -------------------------------------------------------------------------------
    def control(self, request: Request) -> Response:
        action = request.path.strip("/")
        body = request.json() if request.body else {}
        with self.org.lock:
            if request.method == "POST" and action == "settings":
                self.configure(body or {})
                return Response(200, {"ok": True})
            if request.method == "POST" and action == "expire_sessions":
                self.sessions.clear()
                return Response(200, {"ok": True})
            if request.method == "POST" and action == "reset_daily":
                self.used_today = 0
                return Response(200, {"ok": True})
            if request.method == "POST" and action == "fields":
                self.add_field(
                    body["object"],
                    FieldDef(
                        body["name"],
                        body.get("type", "string"),
                        int(body.get("length", 255)),
                        external_id=bool(body.get("external_id")),
                        unique=bool(body.get("external_id")),
                    ),
                )
                return Response(200, {"ok": True})
            if request.method == "POST" and action == "records":
                try:
                    ids = [
                        self.org.create(body["object"], dict(r)) for r in body.get("records", [])
                    ]
                except RecordError as error:
                    return Response(400, {"error": error.message})
                return Response(200, {"ids": ids})
        return super().control(request)

    def configure(self, settings: dict[str, Any]) -> None:
        for key in ("daily_limit", "query_batch_size"):
            if key in settings:
                setattr(self, key, int(settings[key]))
        for key in ("session_seconds", "min_version"):
            if key in settings:
                setattr(self, key, float(settings[key]))
        for key in ("client_id", "client_secret"):
            if key in settings:
                setattr(self, key, str(settings[key]))
        if "reject" in settings:
            self.org.reject = {k.strip().lower(): str(v) for k, v in settings["reject"].items()}
        if "processing_delay_s" in settings:
            self.bulk.processing_delay_s = float(settings["processing_delay_s"])
        for key in ("multiple_uploads", "shuffle"):
            if key in settings:
                setattr(self.bulk, key, bool(settings[key]))

    def add_field(self, obj: str, definition: FieldDef) -> None:
        self.org.schema[obj][definition.name] = definition
        self.org.reindex()

    def inspect(self, action: str, request: Request) -> Response:
        with self.org.lock:
            if action == "records":
                obj = request.query.get("object", "Contact")
                return Response(200, {"records": list(self.org.records.get(obj, {}).values())})
            if action == "campaigns":
                return Response(200, self.org.snapshot()["campaigns"])
            if action == "stats":
                return Response(
                    200,
                    {
                        "requests": dict(self.stats),
                        "api_usage": self.used_today,
                        "max_records_seen": self.max_records_seen,
                        "jobs": len(self.bulk.jobs),
                    },
                )
        return super().inspect(action, request)

    # -- helpers for tests -----------------------------------------------------------------
    def by_key(self, obj: str = "Contact", key: str = "Cdpkit_Key__c") -> dict[str, dict[str, Any]]:
        with self.org.lock:
            return {
                str(r.get(key)).lower(): dict(r)
                for r in self.org.records[obj].values()
                if r.get(key)
            }

    def campaign_keys(self, name: str, key: str = "Cdpkit_Key__c") -> set[str]:
        with self.org.lock:
            camp = next(
                (c for c in self.org.records["Campaign"].values() if c["Name"] == name), None
            )
            if camp is None:
                return set()
            out = set()
            for m in self.org.records["CampaignMember"].values():
                if m["CampaignId"] == camp["Id"]:
                    who = m.get("ContactId") or m.get("LeadId")
                    person = self.org.records["Contact"].get(who) or self.org.records["Lead"].get(
                        who
                    )
                    if person:
                        out.add(str(person.get(key)).lower())
            return out


def _json_body(request: Request) -> Any:
    if not request.body:
        return None
    try:
        return request.json()
    except ValueError as exc:
        raise RequestError("JSON_PARSER_ERROR", f"Unexpected character: {exc}") from None


def _copy(records: dict[str, dict[str, dict[str, Any]]]) -> dict[str, dict[str, dict[str, Any]]]:
    return {o: {i: dict(r) for i, r in recs.items()} for o, recs in records.items()}
