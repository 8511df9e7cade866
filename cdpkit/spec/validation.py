"""Validate YAML files into pydantic models, turning every error into a located diagnostic.

Generic: audiences and destinations use the same machinery.

    result = load_models([Path("destinations")], DestinationConfig, "D")
    result.raise_for_errors()            # SpecError with every mistake of every file
    for item in result.items:            # Loaded(value=DestinationConfig, doc=YamlDoc, path=())
        ...

Codes: `<prefix>000` the document is not a mapping (or list of mappings), `<prefix>001` unknown
key (caret on the key, did-you-mean among the model's keys), `<prefix>002` missing required key
(caret on the mapping), `<prefix>003` invalid value (caret on the value). A validator can raise
`spec_error("A010", "message", key=..., hint=...)` to choose its own code and message; `key`
puts the caret on that key of the mapping being validated.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Discriminator, Tag, ValidationError
from pydantic_core import PydanticCustomError

from cdpkit.spec.diagnostics import Diagnostic, SpecError, did_you_mean, sort
from cdpkit.spec.yamlpos import YAML_UNREADABLE, YamlDoc, YamlPath, display_path, load_yaml

M = TypeVar("M", bound=BaseModel)

SPEC_SUFFIXES = (".yml", ".yaml")
_CODE = re.compile(r"^[A-Z]{1,3}\d{3}$")


def spec_error(
    code: str, message: str, *, key: str | None = None, hint: str | None = None
) -> PydanticCustomError:
    """An error for a pydantic validator with its own stable code (e.g. 'A010') and message."""
    ctx: dict[str, Any] = {"message": message}
    if key is not None:
        ctx["key"] = key
    if hint is not None:
        ctx["hint"] = hint
    return PydanticCustomError(code, "{message}", ctx)


@dataclass(frozen=True)
class Loaded(Generic[M]):
    """One validated item: the model, the document it came from, and its path in that document."""

    value: M
    doc: YamlDoc
    path: YamlPath = ()


@dataclass
class LoadResult(Generic[M]):
    """Every valid item plus every diagnostic of a load."""

    items: list[Loaded[M]] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    # Mappings that failed validation (document, path), for further best-effort checks.
    failed: list[tuple[YamlDoc, YamlPath]] = field(default_factory=list)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    def raise_for_errors(self) -> None:
        """Raise one SpecError carrying all diagnostics (warnings too) when any is an error."""
        if self.errors:
            raise SpecError(self.diagnostics, self.sources)


def spec_files(paths: Iterable[Path | str]) -> list[Path]:
    """The YAML files named by `paths`; a directory means its *.yml/*.yaml files, sorted."""
    found: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found.extend(
                sorted(f for f in p.iterdir() if f.suffix in SPEC_SUFFIXES and f.is_file())
            )
        else:
            found.append(p)
    return list(dict.fromkeys(found))


def load_models(
    paths: Iterable[Path | str],
    model: type[M],
    code_prefix: str,
    *,
    context: dict[str, Any] | None = None,
    allow_list: bool = True,
    base: Path | None = None,
) -> LoadResult[M]:
    """Load and validate every file (one mapping, or a list of mappings when `allow_list`).

    File names in diagnostics are relative to `base` (default: the current directory).
    """
    result: LoadResult[M] = LoadResult()
    for path in spec_files(paths):
        shown = display_path(path, base)
        if not path.exists():
            result.diagnostics.append(
                Diagnostic(shown, 1, 1, "error", YAML_UNREADABLE, "file not found")
            )
            continue
        try:
            doc = load_yaml(path, display=shown)
        except SpecError as exc:
            result.diagnostics.extend(exc.diagnostics)
            result.sources.update(exc.sources)
            continue
        result.sources[doc.file] = doc.text
        items, diagnostics = validate_doc(
            doc, model, code_prefix, context=context, allow_list=allow_list
        )
        result.items.extend(items)
        result.diagnostics.extend(diagnostics)
        valid = {item.path for item in items}
        entries = [()] if isinstance(doc.data, dict) else []
        if isinstance(doc.data, list) and allow_list:
            entries = [(i,) for i, v in enumerate(doc.data) if isinstance(v, dict)]
        result.failed.extend((doc, p) for p in entries if p not in valid)
    result.diagnostics = sort(result.diagnostics)
    return result


def validate_doc(
    doc: YamlDoc,
    model: type[M],
    code_prefix: str,
    *,
    context: dict[str, Any] | None = None,
    allow_list: bool = True,
) -> tuple[list[Loaded[M]], list[Diagnostic]]:
    """Validate one parsed document (a mapping, or a list of mappings)."""
    data = doc.data
    noun = model.__name__
    if isinstance(data, dict):
        entries: list[tuple[YamlPath, Any]] = [((), data)]
    elif isinstance(data, list) and allow_list:
        entries = [((i,), item) for i, item in enumerate(data)]
        if not entries:
            return [], [doc.diagnostic((), f"{code_prefix}000", "the file holds an empty list")]
    else:
        shape = "nothing" if data is None else _show(data)
        expected = "a mapping (or a list of mappings)" if allow_list else "a mapping"
        return [], [doc.diagnostic((), f"{code_prefix}000", f"expected {expected}, got {shape}")]
    items: list[Loaded[M]] = []
    diagnostics: list[Diagnostic] = []
    for path, item in entries:
        if not isinstance(item, dict):
            diagnostics.append(
                doc.diagnostic(path, f"{code_prefix}000", f"expected a mapping, got {_show(item)}")
            )
            continue
        try:
            value = model.model_validate(item, context=context)
        except ValidationError as exc:
            diagnostics.extend(from_validation_error(exc, doc, code_prefix, base=path, model=model))
            continue
        except (ValueError, TypeError, RecursionError) as exc:  # a validator bug or deep nesting
            diagnostics.append(doc.diagnostic(path, f"{code_prefix}003", f"invalid {noun}: {exc}"))
            continue
        items.append(Loaded(value=value, doc=doc, path=path))
    return items, diagnostics


def from_validation_error(
    exc: ValidationError,
    doc: YamlDoc,
    code_prefix: str,
    *,
    base: YamlPath = (),
    model: type[BaseModel] | None = None,
) -> list[Diagnostic]:
    """Located diagnostics for a pydantic ValidationError raised on the data at `base` of `doc`."""
    root = _get(doc.data, base)
    out: list[Diagnostic] = []
    for error in exc.errors(include_url=False):
        loc = tuple(error.get("loc", ()))
        kind = str(error.get("type", ""))
        ctx = error.get("ctx") or {}
        rel = _data_path(root, loc)
        path = (*base, *rel)
        if kind == "extra_forbidden":
            key = loc[-1] if loc else "?"
            fields = _fields_at(model, loc[:-1]) if model else []
            out.append(
                doc.diagnostic(
                    path,
                    f"{code_prefix}001",
                    f"unknown key '{key}'",
                    hint=did_you_mean(key, fields) or _allowed(fields),
                    on_key=True,
                )
            )
        elif kind == "missing":
            key = loc[-1] if loc else "?"
            out.append(doc.diagnostic(path, f"{code_prefix}002", f"missing required key '{key}'"))
        elif _CODE.match(kind):
            key = ctx.get("key")
            on_key = key is not None and isinstance(_get(root, rel), dict)
            out.append(
                doc.diagnostic(
                    (*path, key) if on_key else path,
                    kind,
                    str(ctx.get("message", error.get("msg", ""))),
                    hint=ctx.get("hint"),
                    on_key=on_key,
                )
            )
        else:
            out.append(_value_diagnostic(doc, path, code_prefix, kind, error, ctx))
    return out


def _value_diagnostic(
    doc: YamlDoc,
    path: YamlPath,
    code_prefix: str,
    kind: str,
    error: Any,
    ctx: dict[str, Any],
) -> Diagnostic:
    names = [p for p in path if isinstance(p, str)]
    where = f" for '{names[-1]}'" if names else ""
    value = error.get("input")
    text = _FRIENDLY.get(kind)
    hint = None
    if kind in ("literal_error", "enum"):
        expected = str(ctx.get("expected", ""))
        text = f"expected {expected}"
        hint = did_you_mean(value, re.findall(r"'([^']*)'", expected))
    elif kind == "too_short" and isinstance(value, list | dict | str) and not value:
        return doc.diagnostic(
            path, f"{code_prefix}003", f"'{names[-1] if names else 'value'}' must not be empty"
        )
    elif kind in ("value_error", "assertion_error"):
        text = (
            str(error.get("msg", ""))
            .removeprefix("Value error, ")
            .removeprefix("Assertion failed, ")
        )
    elif text is None:
        msg = str(error.get("msg", "invalid value"))
        text = msg[:1].lower() + msg[1:]
    return doc.diagnostic(
        path, f"{code_prefix}003", f"invalid value{where}: {text}, got {_show(value)}", hint=hint
    )


_FRIENDLY = {
    "int_parsing": "expected an integer",
    "int_type": "expected an integer",
    "int_from_float": "expected an integer",
    "float_parsing": "expected a number",
    "float_type": "expected a number",
    "decimal_parsing": "expected a number",
    "decimal_type": "expected a number",
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "string_type": "expected a string",
    "list_type": "expected a list",
    "tuple_type": "expected a list",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    "datetime_parsing": "expected an ISO 8601 date-time",
    "datetime_type": "expected an ISO 8601 date-time",
    "datetime_from_date_parsing": "expected an ISO 8601 date-time",
    "date_parsing": "expected a date (YYYY-MM-DD)",
    "date_type": "expected a date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "expected a date (YYYY-MM-DD)",
    "string_too_short": "expected a non-empty string",
}


def _allowed(fields: Sequence[str]) -> str | None:
    return f"allowed keys: {', '.join(sorted(fields))}" if fields else None


def _show(value: Any) -> str:
    """A short, safe description of a user value for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return "'" + text.encode("unicode_escape").decode("ascii").replace("'", "\\'") + "'"
    return str(value)


def has_child(data: Any, part: Any) -> bool:
    """Whether `data[part]` exists (a mapping key or a list index)."""
    if isinstance(data, dict):
        return isinstance(part, Hashable) and part in data
    return isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)


def data_at(data: Any, path: YamlPath) -> Any:
    """The value at `path` inside plain data (None when absent)."""
    for part in path:
        if not has_child(data, part):
            return None
        data = data[part]
    return data


_get = data_at


def _data_path(data: Any, loc: tuple[Any, ...]) -> YamlPath:
    """The part of a pydantic `loc` that addresses real data (union tags and the like dropped)."""
    path: list[str | int] = []
    for part in loc:
        if has_child(data, part):
            data = data[part]
            path.append(part)
    return tuple(path)


def _fields_at(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed at `loc` under `model`, following union tags found in the loc."""
    tp: Any = model
    for part in loc:
        tp = _step(tp, part)
        if tp is None:
            return []
    tp = _unwrap(tp, None)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [f.alias or name for name, f in tp.model_fields.items()]
    return []


def _unwrap(tp: Any, part: Any) -> Any:
    """Strip Annotated/Optional wrappers that add nothing to the loc."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            args = typing.get_args(tp)
            if any(isinstance(m, Discriminator) for m in args[1:]):
                return tp
            tp = args[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(members) != 1:
                return tp
            tp = members[0]
        else:
            return tp


def _step(tp: Any, part: Any) -> Any:
    tp = _unwrap(tp, part)
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:  # a discriminated union: `part` is the tag
        for member in typing.get_args(typing.get_args(tp)[0]):
            tags = [m.tag for m in typing.get_args(member)[1:] if isinstance(m, Tag)]
            if part in tags:
                return typing.get_args(member)[0]
        return None
    if origin in (typing.Union, types.UnionType):
        for member in typing.get_args(tp):
            if typing.get_origin(member) is typing.Annotated:
                tags = [m.tag for m in typing.get_args(member)[1:] if isinstance(m, Tag)]
                if part in tags:
                    return typing.get_args(member)[0]
            elif getattr(member, "__name__", None) == part or str(member) == part:
                return member
        return None
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        for name, f in tp.model_fields.items():
            if part in (name, f.alias):
                return f.annotation
        return None
    if origin in (list, tuple, Sequence) and isinstance(part, int):
        args = typing.get_args(tp)
        return args[0] if args else None
    if origin is dict:
        args = typing.get_args(tp)
        return args[1] if len(args) == 2 else None
    return None
