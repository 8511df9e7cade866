"""The subset of SOQL the Salesforce fake answers, parsed strictly (MALFORMED_QUERY otherwise).

    SELECT field, Rel.Field, ... FROM Object
      [WHERE cond [AND cond ...]]     cond: field (= != < <= > >=) literal | field IN (literal, ...)
      [ORDER BY field [ASC|DESC] [, ...]] [LIMIT n]

Literals: 'quoted strings' with backslash escapes, numbers, true/false/null, and unquoted
datetimes (2024-01-31T00:00:00Z or +0000 offsets). Field names are case-insensitive, as in SOQL.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from cdpkit.sandbox.fakes_salesforce_data import FieldDef, RequestError, parse_time

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*')"
    r"|(?P<dt>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))"
    r"|(?P<num>-?\d+(?:\.\d+)?)"
    r"|(?P<op><=|>=|!=|=|<|>|\(|\)|,)"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))"
)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "'": "'", '"': '"', "\\": "\\"}


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: Any  # a literal, or a tuple of literals for IN


@dataclass(frozen=True)
class Query:
    fields: tuple[str, ...]
    object: str
    where: tuple[Condition, ...]
    order: tuple[tuple[str, bool], ...]  # (field, descending)
    limit: int | None


def malformed(message: str) -> RequestError:
    return RequestError("MALFORMED_QUERY", message)


def tokenize(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise malformed(f"unexpected token at position {pos}: {text[pos : pos + 20]!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def parse(text: str) -> Query:
    tokens = tokenize(text)
    i = 0

    def peek(word: str) -> bool:
        return i < len(tokens) and tokens[i][0] == "word" and tokens[i][1].upper() == word

    def expect_word(word: str) -> None:
        nonlocal i
        if not peek(word):
            raise malformed(f"expecting {word} at token {i + 1}")
        i += 1

    def name() -> str:
        nonlocal i
        if i >= len(tokens) or tokens[i][0] != "word":
            raise malformed(f"expecting a field name at token {i + 1}")
        i += 1
        return tokens[i - 1][1]

    def literal() -> Any:
        nonlocal i
        if i >= len(tokens):
            raise malformed("expecting a value")
        kind, value = tokens[i]
        i += 1
        if kind == "str":
            body = value[1:-1]
            return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\x00"), body)
        if kind == "num":
            return float(value) if "." in value else int(value)
        if kind == "dt":
            return parse_time(value)
        if kind == "word" and value.lower() in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[value.lower()]
        raise malformed(f"unexpected {value!r}: expecting a value")

    expect_word("SELECT")
    fields = [name()]
    while i < len(tokens) and tokens[i] == ("op", ","):
        i += 1
        fields.append(name())
    expect_word("FROM")
    obj = name()
    where: list[Condition] = []
    if peek("WHERE"):
        i += 1
        while True:
            field_name = name()
            if peek("IN"):
                i += 1
                if i >= len(tokens) or tokens[i] != ("op", "("):
                    raise malformed("expecting ( after IN")
                i += 1
                values = [literal()]
                while i < len(tokens) and tokens[i] == ("op", ","):
                    i += 1
                    values.append(literal())
                if i >= len(tokens) or tokens[i] != ("op", ")"):
                    raise malformed("expecting ) to close IN")
                i += 1
                where.append(Condition(field_name, "IN", tuple(values)))
            else:
                if i >= len(tokens) or tokens[i][0] != "op" or tokens[i][1] in "(),":
                    raise malformed(f"expecting a comparison operator after {field_name}")
                op = tokens[i][1]
                i += 1
                where.append(Condition(field_name, op, literal()))
            if peek("AND"):
                i += 1
                continue
            break
    order: list[tuple[str, bool]] = []
    if peek("ORDER"):
        i += 1
        expect_word("BY")
        while True:
            field_name = name()
            descending = False
            if peek("ASC") or peek("DESC"):
                descending = tokens[i][1].upper() == "DESC"
                i += 1
            order.append((field_name, descending))
            if i < len(tokens) and tokens[i] == ("op", ","):
                i += 1
                continue
            break
    limit = None
    if peek("LIMIT"):
        i += 1
        if i >= len(tokens) or tokens[i][0] != "num":
            raise malformed("expecting a number after LIMIT")
        limit = int(tokens[i][1])
        i += 1
    if i != len(tokens):
        raise malformed(f"unexpected token: {tokens[i][1]!r}")
    return Query(tuple(fields), obj, tuple(where), tuple(order), limit)


def run(
    query: Query,
    schema: dict[str, dict[str, FieldDef]],
    records: dict[str, dict[str, dict[str, Any]]],
) -> tuple[str, list[dict[str, Any]]]:
    """(object name as spelled in the schema, matching rows with the selected fields)."""
    obj = _object(query.object, schema)
    fields = schema[obj]
    selected = [_resolve(f, obj, schema) for f in query.fields]
    conditions = [(_resolve(c.field, obj, schema), c) for c in query.where]
    rows = [
        rec
        for rec in records[obj].values()
        if all(_matches(_value(rec, path, records), c, fields, path) for path, c in conditions)
    ]
    for path, descending in reversed([(_resolve(f, obj, schema), d) for f, d in query.order]):
        rows.sort(key=lambda r, p=path: _sort_key(_value(r, p, records)), reverse=descending)
    if query.limit is not None:
        rows = rows[: query.limit]
    return obj, [_project(r, obj, selected, records) for r in rows]


def _object(name: str, schema: dict[str, dict[str, FieldDef]]) -> str:
    for obj in schema:
        if obj.lower() == name.lower():
            return obj
    raise RequestError(
        "INVALID_TYPE",
        f"sObject type '{name}' is not supported. If you are attempting to use a custom object, "
        "be sure to append the '__c' after the entity name.",
    )


def _resolve(path: str, obj: str, schema: dict[str, dict[str, FieldDef]]) -> tuple[str, ...]:
    """Field path with the schema's spelling: ('Email',) or ('Account', 'Name')."""
    parts = path.split(".")
    current = obj
    out: list[str] = []
    for index, part in enumerate(parts):
        fields = schema[current]
        if index < len(parts) - 1:
            ref = next(
                (
                    f
                    for f in fields.values()
                    if f.type == "reference" and f.name.lower() == f"{part.lower()}id"
                ),
                None,
            )
            if ref is None or ref.reference_to is None:
                raise RequestError(
                    "INVALID_FIELD", f"Didn't understand relationship '{part}' in field path."
                )
            out.append(ref.name.removesuffix("Id"))
            current = ref.reference_to
            continue
        match = next((f for f in fields if f.lower() == part.lower()), None)
        if match is None:
            raise RequestError("INVALID_FIELD", f"No such column '{part}' on entity '{current}'.")
        out.append(match)
    return tuple(out)


def _value(record: dict[str, Any], path: tuple[str, ...], records: dict[str, Any]) -> Any:
    if len(path) == 1:
        return record.get(path[0])
    target_id = record.get(path[0] + "Id")
    for obj_records in records.values():
        if target_id in obj_records:
            return _value(obj_records[target_id], path[1:], records)
    return None


def _matches(
    value: Any, cond: Condition, fields: dict[str, FieldDef], path: tuple[str, ...]
) -> bool:
    is_time = len(path) == 1 and fields[path[0]].type == "datetime"
    left = parse_time(value) if is_time and isinstance(value, str) else value
    if isinstance(left, str):
        left = left.lower()
    wanted = cond.value
    if cond.op == "IN":
        return left in {v.lower() if isinstance(v, str) else v for v in wanted}
    right = wanted.lower() if isinstance(wanted, str) else wanted
    if cond.op == "=":
        return left == right
    if cond.op == "!=":
        return left != right
    if left is None or right is None:
        return False
    try:
        return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[
            cond.op
        ]
    except TypeError:
        raise malformed(f"cannot compare {path[-1]} with {wanted!r}") from None


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, dt.datetime):
        return (1, value.isoformat())
    return (1, value)


def _project(
    record: dict[str, Any], obj: str, selected: list[tuple[str, ...]], records: dict[str, Any]
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "attributes": {"type": obj, "url": f"/services/data/v62.0/sobjects/{obj}/{record['Id']}"}
    }
    for path in selected:
        if len(path) == 1:
            out[path[0]] = record.get(path[0])
            continue
        target_id = record.get(path[0] + "Id")
        target = next((r[target_id] for r in records.values() if target_id in r), None)
        if target is None:
            out[path[0]] = None
        else:
            nested = out.get(path[0]) or {"attributes": {"type": path[0]}}
            nested[path[1]] = target.get(path[1])
            out[path[0]] = nested
    return out
