"""Checks of validated audiences against the catalog and each other, all located in the YAML.

Codes: A020 unknown column, A021 operator does not apply to the column's type, A022 value of
the wrong type, A023 duplicate field, A024 customer_id listed in fields (warning), A030 unknown
event name (warning), A040 unknown audience, A041 duplicate audience name, A042 reference
cycle, A018 bad property key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from cdpkit.spec.audience import (
    BAD_PROPERTY,
    PROPERTY_KEY,
    AllCondition,
    AnyCondition,
    AudienceRef,
    AudienceSpec,
    Condition,
    EventCondition,
    NotCondition,
    Operators,
    OrderCondition,
    PercentileCondition,
    TraitCondition,
    Windowed,
)
from cdpkit.spec.catalog import Catalog, ColType
from cdpkit.spec.diagnostics import Diagnostic, closest, did_you_mean
from cdpkit.spec.validation import Loaded, data_at
from cdpkit.spec.yamlpos import YamlDoc, YamlPath

_CONDITION: TypeAdapter[Any] = TypeAdapter(Condition)

UNKNOWN_COLUMN = "A020"
BAD_OPERATOR = "A021"
BAD_VALUE_TYPE = "A022"
DUPLICATE_FIELD = "A023"
ID_IN_FIELDS = "A024"
UNKNOWN_EVENT = "A030"
UNKNOWN_AUDIENCE = "A040"
DUPLICATE_NAME = "A041"
CYCLE = "A042"

PROPERTY_PREFIX = "properties."
ANY_EVENT = "any"

_ORDERING = ("gt", "gte", "lt", "lte", "between")
_TEXT = ("contains", "starts_with", "ends_with")
_TIME = ("within", "older_than")
_ALWAYS = ("eq", "ne", "in", "not_in", "is_null")
ALLOWED: dict[str, tuple[str, ...]] = {
    "string": _ALWAYS + _ORDERING + _TEXT,
    "number": _ALWAYS + _ORDERING,
    "timestamp": _ALWAYS + _ORDERING + _TIME,
    "date": _ALWAYS + _ORDERING + _TIME,
    "boolean": ("eq", "ne", "in", "not_in", "is_null"),
    "json": ("is_null",),
    "property": _ALWAYS + _ORDERING + _TEXT,
    "unknown": _ALWAYS + _ORDERING + _TEXT + _TIME,
}
_NOUN = {
    "string": "text",
    "number": "a number",
    "timestamp": "a timestamp",
    "date": "a date",
    "boolean": "true/false",
    "json": "JSON",
    "property": "an event property",
    "unknown": "a value",
}


def check_audiences(items: Iterable[Loaded[AudienceSpec]], catalog: Catalog) -> list[Diagnostic]:
    """Every catalog, type, name and reference problem of these audiences."""
    loaded = list(items)
    diagnostics: list[Diagnostic] = []
    first: dict[str, Loaded[AudienceSpec]] = {}
    for item in loaded:
        name = item.value.name
        if name in first:
            other = first[name]
            pos = other.doc.value_pos((*other.path, "name"))
            diagnostics.append(
                item.doc.diagnostic(
                    (*item.path, "name"),
                    DUPLICATE_NAME,
                    f"audience '{name}' is defined twice "
                    f"(also at {other.doc.file}:{pos.line}:{pos.col})",
                    hint="audience names are unique across audiences/",
                )
            )
        else:
            first[name] = item
    for item in loaded:
        walker = _Walker(item.doc, catalog, set(first))
        walker.audience(item.value, item.path)
        diagnostics.extend(walker.diagnostics)
    diagnostics.extend(_cycles(list(first.values())))
    return diagnostics


class _Walker:
    def __init__(self, doc: YamlDoc, catalog: Catalog, audience_names: set[str]) -> None:
        self.doc = doc
        self.catalog = catalog
        self.names = audience_names
        self.diagnostics: list[Diagnostic] = []

    def error(self, path: YamlPath, code: str, message: str, **kw: Any) -> None:
        self.diagnostics.append(self.doc.diagnostic(path, code, message, **kw))

    def audience(self, spec: AudienceSpec, base: YamlPath) -> None:
        self.condition(spec.include, (*base, "include"))
        if spec.exclude is not None:
            self.condition(spec.exclude, (*base, "exclude"))
        seen: set[str] = set()
        customers = self.catalog.columns("customers")
        for i, name in enumerate(spec.fields):
            path = (*base, "fields", i)
            if name == "customer_id":
                self.error(
                    path,
                    ID_IN_FIELDS,
                    "customer_id is always returned; no need to list it",
                    severity="warning",
                )
            elif name not in customers:
                self.unknown_column(path, name, "customers")
            if name in seen:
                self.error(path, DUPLICATE_FIELD, f"field '{name}' is listed twice")
            seen.add(name)

    # -- conditions -----------------------------------------------------------------------
    def condition(self, cond: Any, path: YamlPath) -> None:
        if isinstance(cond, TraitCondition):
            col_type = self.column(path, "trait", cond.trait, "customers")
            if col_type:
                self.operators(cond, path, cond.trait, col_type)
        elif isinstance(cond, EventCondition):
            self.event_name(cond.event, (*path, "event"))
            self.windowed(cond, path, "customer_events")
            for key in ("followed_by", "not_followed_by"):
                follow = getattr(cond, key)
                if follow is None:
                    continue
                fpath = (*path, key)
                if follow.event is not None:
                    self.event_name(follow.event, (*fpath, "event"))
                    self.where(follow.where, (*fpath, "where"), "customer_events")
                elif follow.order is not None:
                    self.where(follow.order.where, (*fpath, "order", "where"), "customer_orders")
        elif isinstance(cond, OrderCondition):
            self.windowed(cond.order, (*path, "order"), "customer_orders")
        elif isinstance(cond, PercentileCondition):
            ppath = (*path, "percentile")
            self.where(cond.percentile.where, (*ppath, "where"), "customers")
            col_type = self.column(ppath, "trait", cond.percentile.trait, "customers")
            if col_type and col_type not in ("number", "timestamp", "date", "unknown"):
                self.error(
                    (*ppath, "trait"),
                    BAD_OPERATOR,
                    f"percentile needs a number or timestamp trait; "
                    f"'{cond.percentile.trait}' is {_NOUN[col_type]}",
                )
        elif isinstance(cond, AudienceRef):
            if cond.audience not in self.names:
                self.error(
                    (*path, "audience"),
                    UNKNOWN_AUDIENCE,
                    f"unknown audience '{cond.audience}'",
                    hint=did_you_mean(cond.audience, self.names),
                )
        elif isinstance(cond, AllCondition | AnyCondition):
            key = "all" if isinstance(cond, AllCondition) else "any"
            items = cond.all if isinstance(cond, AllCondition) else cond.any
            shorthand = isinstance(_data_at(self.doc, path), list)
            for i, child in enumerate(items):
                self.condition(child, (*path, i) if shorthand else (*path, key, i))
        elif isinstance(cond, NotCondition):
            self.condition(cond.not_, (*path, "not"))

    def windowed(self, cond: Windowed, path: YamlPath, table: str) -> None:
        self.where(cond.where, (*path, "where"), table)
        agg = cond.aggregate
        if agg is None:
            return
        apath = (*path, "aggregate")
        col_type = self.column(apath, agg.function, agg.column, table, allow_property=True)
        if col_type is None:
            return
        fn = agg.function
        fits = ("number", "property", "unknown")
        if fn in ("min", "max"):
            fits = (*fits, "timestamp", "date")
        if col_type not in fits:
            self.error(
                (*apath, fn),
                BAD_OPERATOR,
                f"{fn} does not apply to '{agg.column}' ({_NOUN[col_type]})",
            )
            return
        value_type: ColType = "number" if col_type == "property" else col_type
        values = agg.operand if agg.operator == "between" else [agg.operand]
        for i, value in enumerate(values):
            vpath = (
                (*apath, agg.operator, i) if agg.operator == "between" else (*apath, agg.operator)
            )
            self.value(vpath, agg.operator, f"{fn}({agg.column})", value_type, value)

    def where(self, where: Mapping[str, Operators] | None, path: YamlPath, table: str) -> None:
        for column, ops in (where or {}).items():
            cpath = (*path, column)
            col_type = self.column(path, column, column, table, allow_property=True, on_key=True)
            if col_type:
                self.operators(ops, cpath, column, col_type)

    def operators(self, ops: Operators, path: YamlPath, column: str, col_type: ColType) -> None:
        op = ops.operator
        opath = (*path, op) if isinstance(_data_at(self.doc, path), dict) else path
        allowed = ALLOWED.get(col_type, ALLOWED["unknown"])
        if op not in allowed:
            self.error(
                opath,
                BAD_OPERATOR,
                f"'{op}' does not apply to '{column}' ({_NOUN[col_type]})",
                hint=f"use one of: {', '.join(allowed)}",
                on_key=True,
            )
            return
        operand = ops.operand
        if op in ("in", "not_in", "between"):
            for i, value in enumerate(operand):
                self.value((*opath, i), op, column, col_type, value)
        elif op not in ("is_null", "within", "older_than", *_TEXT):
            self.value(opath, op, column, col_type, operand)

    def value(self, path: YamlPath, op: str, column: str, col_type: ColType, value: Any) -> None:
        expected = _value_fits(col_type, value)
        if expected is None:
            return
        hint = None
        if col_type == "string" and isinstance(value, int | float) and not isinstance(value, bool):
            hint = f"quote it to compare as text: '{value}'"
        self.error(
            path,
            BAD_VALUE_TYPE,
            f"'{op}' on '{column}' ({_NOUN[col_type]}) needs {expected}, got {_show(value)}",
            hint=hint,
        )

    # -- names ----------------------------------------------------------------------------
    def column(
        self,
        path: YamlPath,
        key: str,
        name: str,
        table: str,
        *,
        allow_property: bool = False,
        on_key: bool = False,
    ) -> ColType | None:
        columns = self.catalog.columns(table)
        cpath = (*path, key)
        if allow_property and name.startswith(PROPERTY_PREFIX) and "properties" in columns:
            parts = name[len(PROPERTY_PREFIX) :].split(".")
            if not all(PROPERTY_KEY.match(p) for p in parts):
                self.error(
                    cpath,
                    BAD_PROPERTY,
                    f"bad property key '{name}': use letters, digits and _ "
                    "(nested keys separated by .)",
                    on_key=on_key,
                )
                return None
            return "property"
        if name in columns:
            return columns[name]
        self.unknown_column(cpath, name, table, on_key=on_key)
        return None

    def unknown_column(self, path: YamlPath, name: str, table: str, on_key: bool = False) -> None:
        columns = self.catalog.columns(table)
        hint = did_you_mean(name, columns)
        if hint is None and "properties" in columns and "." not in name:
            hint = f"event properties are written properties.{name}"
        where = "in the warehouse" if self.catalog.source == "warehouse" else "in the mart contract"
        self.error(
            path, UNKNOWN_COLUMN, f"unknown column '{name}' of {table} ({where})", hint=hint,
            on_key=on_key,
        )  # fmt: skip

    def event_name(self, name: str, path: YamlPath) -> None:
        known = self.catalog.event_names
        if name == ANY_EVENT or known is None or name in known:
            return
        near = closest(name, known, n=3)
        hint = ("did you mean " + " or ".join(f"'{n}'" for n in near) + "?") if near else None
        self.error(
            path,
            UNKNOWN_EVENT,
            f"no '{name}' events in customer_events",
            hint=hint,
            severity="warning",
        )


def check_partial(
    doc: YamlDoc, base: YamlPath, catalog: Catalog, audience_names: set[str]
) -> list[Diagnostic]:
    """Catalog checks on the parts of an invalid audience that are valid on their own.

    So one run reports a bad trait name next to a bad duration elsewhere in the same file.
    """
    data = data_at(doc.data, base)
    if not isinstance(data, dict):
        return []
    walker = _Walker(doc, catalog, audience_names)
    for key in ("include", "exclude"):
        if key in data:
            _partial_condition(walker, data[key], (*base, key))
    fields = data.get("fields")
    if isinstance(fields, list):
        columns = catalog.columns("customers")
        for i, name in enumerate(fields):
            if isinstance(name, str) and name != "customer_id" and name not in columns:
                walker.unknown_column((*base, "fields", i), name, "customers")
    return walker.diagnostics


def _partial_condition(walker: _Walker, value: Any, path: YamlPath) -> None:
    try:
        cond = _CONDITION.validate_python(value)
    except ValidationError:
        pass
    else:
        walker.condition(cond, path)
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _partial_condition(walker, item, (*path, i))
    elif isinstance(value, dict):
        for key in ("all", "any"):
            if isinstance(value.get(key), list):
                for i, item in enumerate(value[key]):
                    _partial_condition(walker, item, (*path, key, i))
        if "not" in value:
            _partial_condition(walker, value["not"], (*path, "not"))
        if isinstance(value.get("trait"), str):
            walker.column(path, "trait", value["trait"], "customers")
        if isinstance(value.get("event"), str):
            walker.event_name(value["event"], (*path, "event"))


def _value_fits(col_type: ColType | str, value: Any) -> str | None:
    """None when `value` suits a column of `col_type`, else what was expected."""
    if col_type == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else "a number"
    if col_type == "string":
        return None if isinstance(value, str) else "text"
    if col_type == "boolean":
        return None if isinstance(value, bool) else "true or false"
    if col_type in ("timestamp", "date"):
        if isinstance(value, date | datetime):
            return None
        if isinstance(value, str):
            try:
                datetime.fromisoformat(value)
                return None
            except ValueError:
                pass
        return "a date or ISO 8601 timestamp"
    return None


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value[:40])
    return str(value)


def _data_at(doc: YamlDoc, path: YamlPath) -> Any:
    return data_at(doc.data, path)


def references(spec: AudienceSpec) -> list[tuple[str, YamlPath]]:
    """The audiences `spec` refers to, with their path relative to the audience."""
    found: list[tuple[str, YamlPath]] = []

    def walk(cond: Any, path: YamlPath) -> None:
        if isinstance(cond, AudienceRef):
            found.append((cond.audience, (*path, "audience")))
        elif isinstance(cond, AllCondition):
            for i, child in enumerate(cond.all):
                walk(child, (*path, "all", i))
        elif isinstance(cond, AnyCondition):
            for i, child in enumerate(cond.any):
                walk(child, (*path, "any", i))
        elif isinstance(cond, NotCondition):
            walk(cond.not_, (*path, "not"))

    walk(spec.include, ("include",))
    if spec.exclude is not None:
        walk(spec.exclude, ("exclude",))
    return found


def _cycles(items: list[Loaded[AudienceSpec]]) -> list[Diagnostic]:
    by_name = {item.value.name: item for item in items}
    graph = {name: [r for r, _ in references(item.value)] for name, item in by_name.items()}
    diagnostics: list[Diagnostic] = []
    reported: set[frozenset[str]] = set()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        stack.append(name)
        for ref in graph.get(name, []):
            if ref not in graph:
                continue
            if state.get(ref) == 1:
                cycle = [*stack[stack.index(ref) :], ref]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    diagnostics.extend(_cycle_diagnostics(cycle, by_name))
            elif ref not in state:
                visit(ref)
        stack.pop()
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)
    return diagnostics


def _cycle_diagnostics(
    cycle: list[str], by_name: Mapping[str, Loaded[AudienceSpec]]
) -> list[Diagnostic]:
    text = " -> ".join(cycle)
    out = []
    for here, there in zip(cycle, cycle[1:], strict=False):
        item = by_name[here]
        for ref, rel in references(item.value):
            if ref == there:
                path = _locate(item.doc, (*item.path, *rel))
                out.append(
                    item.doc.diagnostic(
                        path,
                        CYCLE,
                        f"audience reference cycle: {text}",
                        hint="an audience cannot include itself, directly or through others",
                    )
                )
                break
    return out


def _locate(doc: YamlDoc, path: YamlPath) -> YamlPath:
    """Map a canonical path (with all:) onto the document, which may use the list shorthand."""
    actual: list[str | int] = []
    data = doc.data
    for part in path:
        if part == "all" and isinstance(data, list):
            continue
        actual.append(part)
        data = _data_at(doc, tuple(actual))
    return tuple(actual)
