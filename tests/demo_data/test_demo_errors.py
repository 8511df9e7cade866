"""Bad arguments raise CdpkitError; a failed run leaves no half-written files behind."""

from __future__ import annotations

from pathlib import Path

import pytest

import cdpkit.demo_data.runner as runner
from cdpkit.demo_data import generate
from cdpkit.demo_data.__main__ import main
from cdpkit.errors import CdpkitError


@pytest.mark.parametrize("customers", [0, -5, True, 2.5, "10", 10_000_001])
def test_bad_customer_counts(tmp_path: Path, customers: object) -> None:
    with pytest.raises(CdpkitError, match="customers"):
        generate(customers, 1, tmp_path)  # type: ignore[arg-type]


def test_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(CdpkitError, match="unknown format 'xlsx'"):
        generate(10, 1, tmp_path, "xlsx")  # type: ignore[arg-type]


@pytest.mark.parametrize("scale", [0.0, -1.0, 11.0, float("nan")])
def test_bad_events_scale(tmp_path: Path, scale: float) -> None:
    with pytest.raises(CdpkitError, match="events_scale"):
        generate(10, 1, tmp_path, events_scale=scale)


def test_output_path_that_is_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "taken"
    blocker.write_text("x")
    with pytest.raises(CdpkitError, match="not a directory"):
        generate(10, 1, blocker)
    with pytest.raises(CdpkitError, match="cannot create output directory"):
        generate(10, 1, blocker / "below")


def test_unwritable_output_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner.os, "access", lambda path, mode: False)
    with pytest.raises(CdpkitError, match="not writable"):
        generate(10, 1, tmp_path)


def test_failure_mid_run_leaves_no_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(task: object) -> object:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(runner, "render_chunk", boom)
    with pytest.raises(RuntimeError):
        generate(10, 1, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_module_entry_point_reports_errors_and_writes_seeds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--customers", "0", "--out", str(tmp_path)]) == 1
    assert capsys.readouterr().err.startswith("Error: customers must be")
    assert main(["--customers", "50", "--out", str(tmp_path)]) == 0
    assert "truth.csv" in capsys.readouterr().out
    assert (tmp_path / "events.csv").exists()
