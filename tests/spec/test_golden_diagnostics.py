"""Golden diagnostics: each invalid file under invalid/ and its exact expected report.

Regenerate after an intended change: CDPKIT_UPDATE_GOLDEN=1 pytest tests/spec
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cdpkit.audiences.loader import validate_files
from cdpkit.spec.catalog import CONTRACT, Catalog
from cdpkit.spec.diagnostics import render

INVALID = Path(__file__).parent / "invalid"
FILES = sorted(INVALID.glob("*.yml"))
CATALOG = Catalog(
    tables=CONTRACT,
    event_names=frozenset({"page_viewed", "product_viewed", "product_added", "order_completed"}),
    source="warehouse",
)
UPDATE = os.environ.get("CDPKIT_UPDATE_GOLDEN") == "1"


def report(path: Path) -> str:
    validation = validate_files([path], CATALOG, base=INVALID)
    return render(validation.diagnostics, validation.sources) + "\n"


def test_there_are_at_least_25_cases() -> None:
    assert len(FILES) >= 25


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_diagnostics(path: Path) -> None:
    expected_file = path.with_suffix(".expected")
    got = report(path)
    if UPDATE:
        expected_file.write_text(got, encoding="utf-8")
    assert got == expected_file.read_text(encoding="utf-8")
    assert "error[" in got or "warning[" in got
