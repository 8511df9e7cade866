"""Request parsing and row validation for the Meta fake: params, payload, session, hashes.

Graph accepts parameters in the query string, as form fields (`payload=<JSON text>`) or in a
JSON body; all three are read. Errors are Graph errors (`GraphError`), code 100 for bad input.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from cdpkit.sandbox.fake import Request, Response
from cdpkit.sandbox.fakes_support import form

MAX_ROWS = 10_000
MULTI_KEYS = frozenset(
    [
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
    ]
)
SINGLE_KEYS = {"EMAIL_SHA256": "EMAIL", "PHONE_SHA256": "PHONE", "MOBILE_ADVERTISER_ID": "MADID"}
_SHA256 = re.compile(r"[0-9a-f]{64}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class GraphError(Exception):
    """An error the fake answers with, in Graph's envelope."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        subcode: int | None = None,
        kind: str = "OAuthException",
        title: str | None = None,
        transient: bool | None = None,
        status: int = 400,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.subcode, self.kind = code, message, subcode, kind
        self.title, self.transient, self.status = title, transient, status
        self.headers = headers or {}

    def response(self) -> Response:
        error: dict[str, Any] = {"message": self.message, "type": self.kind, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.title:
            error["error_user_title"] = self.title
            error["error_user_msg"] = self.message
        if self.transient is not None:
            error["is_transient"] = self.transient
        error["fbtrace_id"] = secrets.token_urlsafe(8)
        return Response(self.status, {"error": error}, dict(self.headers))


def bad_input(message: str) -> GraphError:
    return GraphError(100, f"(#100) {message}", kind="OAuthException")


def params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip()
    if request.body:
        if content_type == "application/json":
            try:
                body = request.json()
            except ValueError:
                raise bad_input("Request body is not valid JSON") from None
            if not isinstance(body, dict):
                raise bad_input("Request body must be a JSON object")
            params.update(body)
        else:
            params.update(form(request))
    return params


def json_param(value: Any, name: str) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise bad_input(f"Param {name} must be a JSON object") from None
    return value


def payload(params: dict[str, Any], allow_empty: bool = False) -> tuple[list[str], list[Any]]:
    if "payload" not in params:
        raise bad_input("The parameter payload is required")
    payload = json_param(params["payload"], "payload")
    if not isinstance(payload, dict):
        raise bad_input("Param payload must be a JSON object")
    schema = payload.get("schema")
    if isinstance(schema, str):
        if schema not in SINGLE_KEYS:
            raise bad_input(f"Invalid schema '{schema}'")
        keys = [SINGLE_KEYS[schema]]
        single = True
    elif isinstance(schema, list) and schema and all(isinstance(k, str) for k in schema):
        unknown = [k for k in schema if k not in MULTI_KEYS]
        if unknown or len(set(schema)) != len(schema):
            raise bad_input(f"Invalid schema: {unknown or 'duplicate keys'}")
        keys = list(schema)
        single = False
    else:
        raise bad_input("Param payload[schema] must be a key or a list of keys")
    data = payload.get("data")
    if not isinstance(data, list) or (not data and not allow_empty):
        raise bad_input("Data is missing or does not match schema")
    if len(data) > MAX_ROWS:
        raise bad_input(f"Too many entries: at most {MAX_ROWS} rows per request")
    if single:
        data = [[v] for v in data]
    for row in data:
        if not isinstance(row, list) or len(row) != len(keys):
            raise bad_input("Data is missing or does not match schema")
    return keys, data


def session(raw: Any, *, required: bool) -> dict[str, Any] | None:
    if raw is None:
        if required:
            raise bad_input("The parameter session is required")
        return None
    session = json_param(raw, "session")
    if not isinstance(session, dict):
        raise bad_input("Param session must be a JSON object")
    try:
        sid = int(session["session_id"])
        seq = int(session.get("batch_seq", 1))
    except (KeyError, TypeError, ValueError):
        raise bad_input(
            "Param session[session_id] and session[batch_seq] must be integers"
        ) from None
    if seq < 1:
        raise bad_input("Param session[batch_seq] must be at least 1")
    flag = session.get("last_batch_flag", False)
    if not isinstance(flag, bool):
        raise bad_input("Param session[last_batch_flag] must be a boolean")
    return {**session, "session_id": sid, "batch_seq": seq, "last_batch_flag": flag}


def validate_rows(
    keys: list[str], data: list[list[Any]], poison: dict[str, str] | None = None
) -> tuple[list[set[tuple[str, str]]], int, dict[str, str]]:
    rows: list[set[tuple[str, str]]] = []
    invalid = 0
    samples: dict[str, str] = {}
    for row in data:
        pairs: set[tuple[str, str]] = set()
        problem = None
        for key, value in zip(keys, row, strict=True):
            text = "" if value is None else str(value)
            if not text:
                continue
            if key == "EXTERN_ID":
                ok = True
            elif key == "MADID":
                ok = bool(_UUID.fullmatch(text) or _SHA256.fullmatch(text))
            else:
                ok = bool(_SHA256.fullmatch(text))
            if not ok:
                problem = problem or (text, f"{key} is not a valid SHA-256 hash")
                continue
            if poison and text in poison:
                problem = problem or (text, poison[text])
                continue
            pairs.add((key, text))
        if problem is None and not pairs:
            problem = ("", "row has no values")
        if problem is not None:
            invalid += 1
            if len(samples) < 10:
                samples[problem[0][:64]] = problem[1]
            continue
        rows.append(pairs)
    return rows, invalid, samples


def result(
    audience_id: str, session_id: int, received: int, invalid: int, samples: dict[str, str]
) -> dict[str, Any]:
    return {
        "audience_id": audience_id,
        "session_id": str(session_id),
        "num_received": received,
        "num_invalid_entries": invalid,
        "invalid_entry_samples": samples,
    }
