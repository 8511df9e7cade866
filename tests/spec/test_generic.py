"""The audience-agnostic parts: YAML positions, diagnostics rendering, generic model loading."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict

from cdpkit.spec import (
    Diagnostic,
    SpecError,
    closest,
    load_models,
    parse_yaml,
    render,
    to_json,
)

TEXT = """\
name: x            # a comment
include:
  all:
    - event: page_viewed
      count: {gte: 3}
    - &ref {trait: country, eq: US}
    - *ref
tags: [a, b]
"""


def test_positions_of_keys_and_values() -> None:
    doc = parse_yaml(TEXT, "f.yml")
    assert doc.data["include"]["all"][0]["event"] == "page_viewed"
    pos = doc.key_pos(("include", "all", 0, "event"))
    assert (pos.line, pos.col) == (4, 7)
    value = doc.value_pos(("include", "all", 0, "event"))
    assert (value.line, value.col) == (4, 14)
    gte = doc.value_pos(("include", "all", 0, "count", "gte"))
    assert (gte.line, gte.col) == (5, 20)
    assert (doc.value_pos(("tags", 1)).line, doc.value_pos(("tags", 1)).col) == (8, 11)
    # an absent path falls back to its nearest existing ancestor
    assert doc.value_pos(("include", "all", 0, "count", "nope")) == gte.__class__(5, 14)
    # aliases resolve to the anchor's data
    assert doc.data["include"]["all"][2] == {"trait": "country", "eq": "US"}


def test_duplicate_keys_are_errors() -> None:
    with pytest.raises(SpecError) as caught:
        parse_yaml("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n", "d.yml")
    found = [(d.line, d.col, d.code) for d in caught.value.diagnostics]
    assert found == [(4, 3, "Y002"), (5, 1, "Y002")]
    assert "duplicate key 'c' (first defined at line 3)" in str(caught.value)


def test_syntax_error_is_located() -> None:
    with pytest.raises(SpecError) as caught:
        parse_yaml("a: [1, 2\nb: 3\n", "s.yml")
    (d,) = caught.value.diagnostics
    assert (d.path, d.line, d.code, d.severity) == ("s.yml", 2, "Y001", "error")


def test_render_sorts_frames_and_caps() -> None:
    sources = {"a.yml": "one\ntwo\nthree\n"}
    diags = [
        Diagnostic("a.yml", 3, 2, "error", "X001", "third"),
        Diagnostic("a.yml", 1, 1, "warning", "X002", "first", "did you mean 'uno'?"),
    ]
    text = render(diags, sources)
    assert text == (
        "a.yml:1:1: warning[X002]: first\n"
        "  hint: did you mean 'uno'?\n"
        "   |\n"
        " 1 | one\n"
        "   | ^\n"
        "a.yml:3:2: error[X001]: third\n"
        "   |\n"
        " 3 | three\n"
        "   |  ^\n"
        "1 error, 1 warning"
    )
    many = [Diagnostic("a.yml", 1, i, "error", "X001", f"m{i}") for i in range(1, 8)]
    capped = render(many, sources, cap=3, frame=False)
    assert capped.splitlines()[-2:] == ["... and 4 more", "7 errors"]
    assert json.loads(to_json(diags))[0] == {
        "path": "a.yml",
        "line": 1,
        "col": 1,
        "severity": "warning",
        "code": "X002",
        "message": "first",
        "hint": "did you mean 'uno'?",
    }


def test_closest() -> None:
    assert closest("total_revnue", ["total_revenue", "order_count"]) == ["total_revenue"]
    assert closest("EMAIL", ["email", "phone"]) == ["email"]
    assert closest("zzz", ["email"]) == []


class Sync(BaseModel):
    model_config = ConfigDict(extra="forbid")
    audience: str
    mode: Literal["upsert", "mirror", "add_only"] = "upsert"


class Destination(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str
    base_url: str | None = None
    batch_size: int = 100
    syncs: list[Sync] = []


def test_load_models_for_another_config(tmp_path: Path) -> None:
    """The machinery destinations/*.yml reuses: every mistake, located, with hints."""
    (tmp_path / "crm.yml").write_text(
        "type: hubspot\nbase_urll: http://x\nbatch_size: lots\nsyncs:\n"
        "  - audience: a\n    mode: mirorr\n  - mode: upsert\n",
        encoding="utf-8",
    )
    (tmp_path / "ok.yaml").write_text("type: braze\n", encoding="utf-8")
    result = load_models([tmp_path], Destination, "D", base=tmp_path)
    assert [i.value.type for i in result.items] == ["braze"]
    assert [(d.path, d.line, d.col, d.code) for d in result.diagnostics] == [
        ("crm.yml", 2, 1, "D001"),
        ("crm.yml", 3, 13, "D003"),
        ("crm.yml", 6, 11, "D003"),
        ("crm.yml", 7, 5, "D002"),
    ]
    hints = [d.hint for d in result.diagnostics]
    assert hints[0] == "did you mean 'base_url'?" and hints[2] == "did you mean 'mirror'?"
    assert result.diagnostics[1].message == (
        "invalid value for 'batch_size': expected an integer, got 'lots'"
    )
    assert result.diagnostics[3].message == "missing required key 'audience'"
    with pytest.raises(SpecError) as caught:
        result.raise_for_errors()
    assert str(caught.value).startswith("crm.yml:2:1: error[D001]: unknown key 'base_urll'")
