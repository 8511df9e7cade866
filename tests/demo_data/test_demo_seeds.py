"""The committed seeds are exactly what `make seeds` regenerates, and stay small."""

from __future__ import annotations

from pathlib import Path

from cdpkit.demo_data import SEED_EVENTS_SCALE, TABLES, generate

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
FILES = [f"{name}.csv" for name in TABLES] + ["truth.csv"]


def test_committed_seeds_match_the_generator(tmp_path: Path) -> None:
    generate(2000, 42, tmp_path, events_scale=SEED_EVENTS_SCALE)
    stale = [n for n in FILES if (SEEDS / n).read_bytes() != (tmp_path / n).read_bytes()]
    assert not stale, f"run `make seeds` to regenerate {stale}"


def test_seed_files_stay_under_4_mb() -> None:
    for name in FILES:
        assert (SEEDS / name).stat().st_size < 4_000_000, name
