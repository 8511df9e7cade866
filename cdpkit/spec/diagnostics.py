"""Located diagnostics for user-written YAML: collect them all, sort, cap and render.

    audiences/x.yml:6:7: error[A001]: unknown key 'evnt'
      hint: did you mean 'event'?
       |
     6 |     - evnt: page_viewed
       |       ^

`render()` gives that text, `to_json()` the same for machines (`--format json`),
`SpecError` carries every diagnostic of a failed load (its str() is the rendered text).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from cdpkit.errors import CdpkitError

Severity = Literal["error", "warning"]
DEFAULT_CAP = 50


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One located finding: `path:line:col: severity[code]: message` plus an optional hint."""

    path: str
    line: int
    col: int
    severity: Severity
    code: str
    message: str
    hint: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def headline(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.severity}[{self.code}]: {self.message}"


class SpecError(CdpkitError):
    """A project file is invalid; carries every diagnostic found (str() renders them all)."""

    def __init__(
        self, diagnostics: Iterable[Diagnostic], sources: Mapping[str, str] | None = None
    ) -> None:
        self.diagnostics: list[Diagnostic] = sort(diagnostics)
        self.sources: dict[str, str] = dict(sources or {})
        super().__init__(render(self.diagnostics, self.sources))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]


def sort(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """By file, line, column, then code; duplicates removed."""
    unique = dict.fromkeys(diagnostics)
    return sorted(unique, key=lambda d: (d.path, d.line, d.col, d.code, d.message))


def closest(name: object, candidates: Iterable[str], n: int = 1) -> list[str]:
    """The candidates most similar to `name` (difflib), best first; [] when none is close."""
    text = str(name)
    pool = sorted({c for c in candidates if isinstance(c, str)})
    found = difflib.get_close_matches(text, pool, n=n, cutoff=0.6)
    if not found:
        lowered = {c.lower(): c for c in pool}
        found = [lowered[m] for m in difflib.get_close_matches(text.lower(), lowered, n=n)]
    return found


def did_you_mean(name: object, candidates: Iterable[str], n: int = 1) -> str | None:
    """`did you mean 'x'?` (or 'x' or 'y') for the closest candidates, None when none is close."""
    found = closest(name, candidates, n)
    if not found:
        return None
    return "did you mean " + " or ".join(f"'{c}'" for c in found) + "?"


def render(
    diagnostics: Iterable[Diagnostic],
    sources: Mapping[str, str] | None = None,
    *,
    cap: int = DEFAULT_CAP,
    frame: bool = True,
) -> str:
    """The diagnostics as text: headline, hint and a code frame each; at most `cap` of them."""
    items = sort(diagnostics)
    lines_of = _SourceCache(sources or {})
    chunks: list[str] = []
    for d in items[:cap]:
        chunk = [d.headline()]
        if d.hint:
            chunk.append(f"  hint: {d.hint}")
        if frame:
            chunk.extend(_frame(lines_of.get(d.path), d.line, d.col))
        chunks.append("\n".join(chunk))
    if len(items) > cap:
        chunks.append(f"... and {len(items) - cap} more")
    errors = sum(1 for d in items if d.is_error)
    warnings = len(items) - errors
    if items:
        chunks.append(_summary(errors, warnings))
    return "\n".join(chunks)


def to_json(diagnostics: Iterable[Diagnostic], *, cap: int | None = None) -> str:
    """The diagnostics as a JSON array (path, line, col, severity, code, message, hint)."""
    items = sort(diagnostics)
    return json.dumps([asdict(d) for d in (items[:cap] if cap else items)], indent=2)


def _summary(errors: int, warnings: int) -> str:
    parts = []
    if errors:
        parts.append(f"{errors} error{'s' if errors != 1 else ''}")
    if warnings:
        parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
    return ", ".join(parts)


def _frame(lines: Sequence[str] | None, line: int, col: int) -> list[str]:
    if not lines or not 1 <= line <= len(lines):
        return []
    text = lines[line - 1].rstrip("\r\n").replace("\t", " ")
    width = len(str(line))
    gutter = " " * width
    caret_at = max(1, min(col, len(text) + 1))
    return [
        f" {gutter} |",
        f" {line} | {text}",
        f" {gutter} | {' ' * (caret_at - 1)}^",
    ]


class _SourceCache:
    """Source lines per file: from the given texts, else read from disk once."""

    def __init__(self, sources: Mapping[str, str]) -> None:
        self._texts = dict(sources)
        self._lines: dict[str, list[str] | None] = {}

    def get(self, path: str) -> list[str] | None:
        if path not in self._lines:
            text = self._texts.get(path)
            if text is None:
                try:
                    text = Path(path).read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError):
                    text = None
            self._lines[path] = text.splitlines() if text is not None else None
        return self._lines[path]
