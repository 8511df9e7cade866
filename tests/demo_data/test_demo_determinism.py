"""Same arguments, same bytes: across runs, formats, worker counts; people are independent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cdpkit.demo_data import generate
from cdpkit.demo_data.runner import CHUNK_PEOPLE


def _bytes(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(root.iterdir())}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_two_runs_are_byte_identical(tmp_path: Path, fmt: str) -> None:
    first = generate(400, 11, tmp_path / "a", fmt)  # type: ignore[arg-type]
    second = generate(400, 11, tmp_path / "b", fmt)  # type: ignore[arg-type]
    assert first.rows == second.rows
    assert _bytes(tmp_path / "a") == _bytes(tmp_path / "b")
    assert len(_bytes(tmp_path / "a")) == 7


def test_another_seed_gives_other_data(tmp_path: Path) -> None:
    generate(300, 1, tmp_path / "a")
    generate(300, 2, tmp_path / "b")
    a, b = _bytes(tmp_path / "a"), _bytes(tmp_path / "b")
    assert all(a[name] != b[name] for name in a)


def test_worker_processes_do_not_change_a_byte(tmp_path: Path) -> None:
    people = 2 * CHUNK_PEOPLE + 37
    generate(people, 5, tmp_path / "one", workers=1)
    generate(people, 5, tmp_path / "two", workers=2)
    assert _bytes(tmp_path / "one") == _bytes(tmp_path / "two")


def test_workers_start_from_a_script_without_main_guard(tmp_path: Path) -> None:
    """Workers must not re-run the caller's script (a spawn-started pool would, and hang)."""
    out = tmp_path / "out"
    script = tmp_path / "unguarded.py"
    script.write_text(
        "from pathlib import Path\n"
        "from cdpkit.demo_data import generate\n"
        f"generate({CHUNK_PEOPLE + 50}, 5, Path({str(out)!r}), workers=2)\n"
    )
    subprocess.run([sys.executable, str(script)], check=True, timeout=300)
    generate(CHUNK_PEOPLE + 50, 5, tmp_path / "ref", workers=1)
    assert _bytes(out) == _bytes(tmp_path / "ref")


def test_a_person_does_not_depend_on_how_many_are_generated(tmp_path: Path) -> None:
    generate(CHUNK_PEOPLE, 9, tmp_path / "small")
    generate(CHUNK_PEOPLE + 120, 9, tmp_path / "large")
    for name in ("events.csv", "truth.csv"):
        small = (tmp_path / "small" / name).read_bytes()
        assert (tmp_path / "large" / name).read_bytes().startswith(small)


def test_progress_reports_people_written_so_far(tmp_path: Path) -> None:
    seen: list[int] = []
    people = CHUNK_PEOPLE + 10
    generate(people, 1, tmp_path, progress=seen.append)
    assert seen == [CHUNK_PEOPLE, people]


def test_events_scale_thins_sessions_only(tmp_path: Path) -> None:
    full = generate(300, 4, tmp_path / "full")
    light = generate(300, 4, tmp_path / "light", events_scale=0.1)
    assert light.rows["events"] < 0.75 * full.rows["events"]
    assert light.rows["crm_contacts"] == full.rows["crm_contacts"]
    assert 20 <= full.rows["events"] / 300 <= 40  # ~30M events for 1M people
