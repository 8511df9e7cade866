"""The file destination: each run's changes as CSV / JSONL / Parquet, written atomically."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlglot import exp
from sync.helpers import duckdb_warehouse, people, write_customers, write_members

from cdpkit.destinations.file import FileConfig, FileDestination
from cdpkit.sync.engine import run_jobs
from cdpkit.sync.jobs import EngineOptions, SyncJob
from cdpkit.sync.membership import fixture_membership


def _rows(path: Path, fmt: str) -> list[dict[str, object]]:
    if fmt == "jsonl":
        return [json.loads(line) for line in path.read_text().splitlines()]
    if fmt == "csv":
        with path.open(newline="") as handle:
            return list(csv.DictReader(handle))
    return pq.read_table(path).to_pylist()


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_each_run_writes_its_changes_as_part_files_and_a_manifest(tmp_path: Path, fmt: str) -> None:
    wh = duckdb_warehouse(tmp_path / "w.duckdb")
    crowd = people(25)
    write_customers(wh, "main", crowd)
    write_members(wh, "main", "members", crowd)
    config = FileConfig.model_validate(
        {
            "type": "file",
            "directory": "out",
            "format": fmt,
            "batch_size": 10,
            "syncs": [
                {
                    "audience": "vip",
                    "mode": "mirror",
                    "identifier": "email",
                    "mapping": {"email": "email", "ltv": "total_revenue"},
                }
            ],
        }
    )
    membership = fixture_membership(
        "vip", "members", ["email", "first_name", "total_revenue"], schema="main"
    )
    job = SyncJob(
        "files",
        config,
        config.syncs[0],
        FileDestination,
        membership,
        customers=exp.table_("customers", db="main"),
    )
    options = EngineOptions(project_root=tmp_path)
    [first] = run_jobs(wh, [job], options)
    assert first.status == "success", first.error
    run_dir = tmp_path / "out" / "vip" / str(first.run_id)
    parts = sorted(run_dir.glob("part-*"))
    assert len(parts) == 3  # 25 records in batches of 10
    rows = [row for part in parts for row in _rows(part, fmt)]
    assert sorted(r["key"] for r in rows) == sorted(p.email for p in crowd)  # type: ignore[type-var]
    assert {r["change"] for r in rows} == {"add"}
    assert list(rows[0]) == ["change", "key", "email", "ltv"]
    manifest = json.loads((run_dir / "_manifest.json").read_text())
    assert manifest["confirmed"] == 25 and manifest["status"] == "success"
    assert manifest["files"] == [p.name for p in parts]
    assert not list(tmp_path.rglob("*.tmp"))
    write_members(wh, "main", "members", [replace(crowd[0], total_revenue=1)] + crowd[1:20])
    [second] = run_jobs(wh, [job], options)
    rows = [
        r
        for part in sorted((tmp_path / "out" / "vip" / str(second.run_id)).glob("part-*"))
        for r in _rows(part, fmt)
    ]
    assert sorted((r["change"], r["key"]) for r in rows) == sorted(
        [("update", crowd[0].email)] + [("remove", p.email) for p in crowd[20:]]  # type: ignore[misc]
    )
    removed = [r for r in rows if r["change"] == "remove"]
    assert removed and all(r["email"] == r["key"] for r in removed)  # values last exported
    wh.close()


def test_an_unwritable_directory_is_a_terminal_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    wh = duckdb_warehouse(tmp_path / "w.duckdb")
    write_customers(wh, "main", people(2))
    write_members(wh, "main", "members", people(2))
    config = FileConfig.model_validate(
        {
            "type": "file",
            "directory": str(blocker / "sub"),
            "syncs": [{"audience": "vip", "identifier": "email", "mapping": ["email"]}],
        }
    )
    membership = fixture_membership(
        "vip", "members", ["email", "first_name", "total_revenue"], schema="main"
    )
    job = SyncJob("files", config, config.syncs[0], FileDestination, membership)
    [out] = run_jobs(wh, [job], EngineOptions(project_root=tmp_path))
    assert out.status == "failed" and "cannot write" in (out.error or "")
    wh.close()
