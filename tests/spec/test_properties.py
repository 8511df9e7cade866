"""Property tests: validation never crashes; every finding is located inside the file."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdpkit.audiences.loader import validate_files
from cdpkit.spec.catalog import CONTRACT, Catalog
from cdpkit.spec.diagnostics import render, to_json

CATALOG = Catalog(tables=CONTRACT, event_names=frozenset({"page_viewed"}), source="warehouse")
KEYS = [
    "name", "description", "tags", "include", "exclude", "consent", "fields", "split",
    "trait", "event", "order", "percentile", "audience", "all", "any", "not",
    "eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "between", "contains",
    "starts_with", "ends_with", "is_null", "within", "older_than", "where", "count",
    "aggregate", "sum", "avg", "min", "max", "after", "before", "from", "to",
    "followed_by", "not_followed_by", "top_percent", "bottom_percent", "top", "bottom",
    "holdout_percent", "country", "total_revenue", "properties.plan", "page_path", "x",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["30d", "1h", "abc", "US", "page_viewed", "any", "marketing", "a b", ""]),
    st.text(max_size=12),
    st.dates(),
)
DATA = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(KEYS), children, max_size=5),
    ),
    max_leaves=25,
)


def _check(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a.yml"
        path.write_text(text, encoding="utf-8")
        validation = validate_files([path], CATALOG, base=Path(tmp))
    lines = max(1, len(text.splitlines()) + 1)
    for d in validation.diagnostics:
        assert d.path == "a.yml"
        assert 1 <= d.line <= lines and d.col >= 1, d
        assert d.code and d.message
    render(validation.diagnostics, validation.sources)
    to_json(validation.diagnostics)
    if not validation.errors:
        assert len(validation.audiences) >= 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DATA)
def test_any_structure_validates_or_gets_located_errors(data: Any) -> None:
    _check(yaml.safe_dump(data, allow_unicode=True))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(KEYS), DATA, max_size=6))
def test_audience_shaped_documents(data: dict[str, Any]) -> None:
    data = {"name": "a", "include": {"trait": "country", "eq": "US"}, **data}
    _check(yaml.safe_dump(data, allow_unicode=True))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(st.characters(exclude_categories=("Cs",)), max_size=200))
def test_any_text_never_crashes(text: str) -> None:
    _check(text)
