"""Pairwise precision and recall against the demo generator's ground truth (truth.csv)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlglot import exp

from cdpkit.identity import evaluate
from cdpkit.warehouse import connect

from .conftest import build, scratch
from .rawdata import load_csv_dir

pytestmark = pytest.mark.slow

PEOPLE = 2000
PRECISION = 0.995
RECALL = 0.98


def test_precision_and_recall_on_demo_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cdpkit.demo_data import generate

    generate(PEOPLE, 42, tmp_path / "demo", "csv")
    project = scratch(tmp_path, "proj")
    db = project.root / "warehouse.duckdb"
    monkeypatch.setenv("CDPKIT_WAREHOUSE", str(db))
    monkeypatch.delenv("CDPKIT_TARGET", raising=False)
    counts = load_csv_dir(str(db), str(tmp_path / "demo"))
    assert counts["truth"] > PEOPLE
    build(project)
    with connect(project) as wh:
        accuracy = evaluate(wh, exp.table_("truth", db="raw", quoted=True))
    assert accuracy.scored_identifiers > 0.95 * accuracy.identifiers
    assert accuracy.precision >= PRECISION, accuracy
    assert accuracy.recall >= RECALL, accuracy
