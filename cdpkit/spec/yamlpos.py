"""Load YAML into plain Python data plus the 1-based line/column of every key and value.

Positions are addressed by a path tuple into the data, e.g. ("include", "all", 0, "event"):

    doc = load_yaml(Path("audiences/x.yml"))
    doc.data["include"]["all"][0]["event"]      # 'page_viewed'
    doc.value_pos(("include", "all", 0, "event"))   # Pos(line=6, col=14)
    doc.key_pos(("include", "all", 0, "event"))     # Pos(line=6, col=7)

Only the safe loader's types are constructed. Syntax errors, duplicate keys, non-scalar keys
and recursive aliases become located diagnostics (raised together as one `SpecError`).
"""

from __future__ import annotations

import os
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from cdpkit.spec.diagnostics import Diagnostic, SpecError

YamlPath = tuple[str | int, ...]

# Stable codes of the YAML layer.
YAML_SYNTAX = "Y001"
YAML_DUPLICATE_KEY = "Y002"
YAML_BAD_KEY = "Y003"
YAML_RECURSIVE = "Y004"
YAML_UNREADABLE = "Y005"


@dataclass(frozen=True)
class Pos:
    """A 1-based position in a file."""

    line: int
    col: int


@dataclass(frozen=True)
class YamlDoc:
    """One parsed YAML document: its data, where each part came from, and its source text."""

    file: str
    text: str
    data: Any
    values: dict[YamlPath, Pos] = field(repr=False)
    keys: dict[YamlPath, Pos] = field(repr=False)

    def value_pos(self, path: YamlPath) -> Pos:
        """Where the value at `path` starts (the nearest existing ancestor if it is absent)."""
        for i in range(len(path), -1, -1):
            pos = self.values.get(path[:i])
            if pos is not None:
                return pos
        return Pos(1, 1)

    def key_pos(self, path: YamlPath) -> Pos:
        """Where the key of the mapping entry at `path` starts (its value's position otherwise)."""
        return self.keys.get(path) or self.value_pos(path)

    def diagnostic(
        self,
        path: YamlPath,
        code: str,
        message: str,
        *,
        hint: str | None = None,
        on_key: bool = False,
        severity: str = "error",
    ) -> Diagnostic:
        """A diagnostic located on the key (`on_key`) or the value at `path` in this file."""
        pos = self.key_pos(path) if on_key else self.value_pos(path)
        return Diagnostic(
            path=self.file,
            line=pos.line,
            col=pos.col,
            severity=severity,  # type: ignore[arg-type]
            code=code,
            message=message,
            hint=hint,
        )


def display_path(path: Path | str, base: Path | str | None = None) -> str:
    """`path` relative to `base` (default: the current directory) when inside it, else as given."""
    p = Path(path)
    try:
        rel = os.path.relpath(p.resolve(), Path(base).resolve() if base else Path.cwd())
    except ValueError:
        return str(p)
    return str(p) if rel.startswith("..") else rel


def load_yaml(path: Path | str, *, display: str | None = None) -> YamlDoc:
    """Parse the YAML file at `path`; raises `SpecError` with located diagnostics."""
    name = display or display_path(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SpecError(
            [Diagnostic(name, 1, 1, "error", YAML_UNREADABLE, f"cannot read file: {reason}")]
        ) from None
    return parse_yaml(text, name)


def parse_yaml(text: str, file: str = "<string>") -> YamlDoc:
    """Parse YAML text (one document); raises `SpecError` with located diagnostics."""
    try:
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as exc:
        raise SpecError([_reader_diagnostic(exc, text, file)], {file: text}) from None
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            raise SpecError([_syntax_diagnostic(exc, file)], {file: text}) from None
        except yaml.YAMLError as exc:
            raise SpecError(
                [Diagnostic(file, 1, 1, "error", YAML_SYNTAX, f"invalid YAML: {exc}")],
                {file: text},
            ) from None
        builder = _Builder(loader, file)
        data = builder.build(node, ()) if node is not None else None
    except RecursionError:
        raise SpecError(
            [Diagnostic(file, 1, 1, "error", YAML_SYNTAX, "invalid YAML: nested too deeply")],
            {file: text},
        ) from None
    finally:
        loader.dispose()
    if builder.diagnostics:
        raise SpecError(builder.diagnostics, {file: text})
    return YamlDoc(file=file, text=text, data=data, values=builder.values, keys=builder.keys)


def _reader_diagnostic(exc: yaml.reader.ReaderError, text: str, file: str) -> Diagnostic:
    before = text[: max(0, exc.position)]
    line = before.count("\n") + 1
    col = len(before) - (before.rfind("\n") + 1) + 1
    return Diagnostic(
        file,
        line,
        col,
        "error",
        YAML_SYNTAX,
        f"invalid YAML: control character #x{exc.character:04x} is not allowed",
        "remove it or write it as an escape inside a double-quoted string",
    )


def _syntax_diagnostic(exc: yaml.MarkedYAMLError, file: str) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem = exc.problem or "invalid YAML"
    message = f"invalid YAML: {problem}"
    if exc.context:
        message += f" ({exc.context}"
        if exc.context_mark is not None and exc.context_mark is not mark:
            message += f" at line {exc.context_mark.line + 1}"
        message += ")"
    hint = None
    if "'\\t'" in problem or "\t" in problem:
        hint = "indent with spaces, not tabs"
    elif "mapping values are not allowed" in problem:
        hint = "quote values that contain ': ', or add a space after the key's colon"
    return Diagnostic(file, line, col, "error", YAML_SYNTAX, message, hint)


class _Builder:
    """Walks composed nodes, constructing plain data and recording positions."""

    def __init__(self, loader: yaml.SafeLoader, file: str) -> None:
        self.loader = loader
        self.file = file
        self.values: dict[YamlPath, Pos] = {}
        self.keys: dict[YamlPath, Pos] = {}
        self.diagnostics: list[Diagnostic] = []
        self._active: set[int] = set()

    def _pos(self, node: Node) -> Pos:
        return Pos(node.start_mark.line + 1, node.start_mark.column + 1)

    def _error(self, node: Node, code: str, message: str, hint: str | None = None) -> None:
        pos = self._pos(node)
        self.diagnostics.append(
            Diagnostic(self.file, pos.line, pos.col, "error", code, message, hint)
        )

    def build(self, node: Node, path: YamlPath) -> Any:
        self.values.setdefault(path, self._pos(node))
        if id(node) in self._active:
            self._error(node, YAML_RECURSIVE, "recursive alias: a node cannot contain itself")
            return None
        self._active.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
            if isinstance(node, SequenceNode):
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            return self._scalar(node)
        finally:
            self._active.discard(id(node))

    def _scalar(self, node: Node) -> Any:
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            problem = exc.problem or "cannot construct this value"
            self._error(node, YAML_SYNTAX, f"invalid YAML value: {problem}")
            return None

    def _mapping(self, node: MappingNode, path: YamlPath) -> dict[Any, Any]:
        try:
            self.loader.flatten_mapping(node)  # resolves `<<:` merge keys
        except yaml.constructor.ConstructorError as exc:
            self._error(node, YAML_SYNTAX, f"invalid YAML merge: {exc.problem}")
            return {}
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self._error(
                    key_node, YAML_BAD_KEY, "a key must be a plain value, not a list or mapping"
                )
                continue
            key = self._scalar(key_node)
            if not isinstance(key, Hashable) or isinstance(key, list | dict):
                self._error(key_node, YAML_BAD_KEY, "a key must be a plain value")
                continue
            if key in result:
                first = self.keys.get((*path, key))
                where = f" (first defined at line {first.line})" if first else ""
                self._error(
                    key_node,
                    YAML_DUPLICATE_KEY,
                    f"duplicate key '{key}'{where}",
                    "remove one of them; YAML would silently keep only the last",
                )
                continue
            child = (*path, key)
            self.keys[child] = self._pos(key_node)
            result[key] = self.build(value_node, child)
        return result
