"""`python -m cdpkit.demo_data`: regenerate the committed demo seeds (`make seeds`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cdpkit.demo_data import SEED_EVENTS_SCALE, generate
from cdpkit.errors import CdpkitError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m cdpkit.demo_data",
        description=(
            "Write the demo raw tables and truth.csv. Defaults reproduce the committed seeds: "
            f"2,000 people, seed 42, events scale {SEED_EVENTS_SCALE} (fewer sessions per "
            "person so each file stays under 4 MB). `cdpkit demo-data` uses scale 1.0."
        ),
    )
    parser.add_argument("--customers", type=int, default=2000, help="people to generate")
    parser.add_argument("--seed", type=int, default=42, help="random seed (same seed, same bytes)")
    parser.add_argument("--out", type=Path, default=Path("seeds"), help="output directory")
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv", dest="fmt")
    parser.add_argument(
        "--events-scale",
        type=float,
        default=SEED_EVENTS_SCALE,
        help=f"sessions per person relative to the full data set (default {SEED_EVENTS_SCALE})",
    )
    parser.add_argument("--workers", type=int, default=None, help="processes (default: auto)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, generate, print one line per file; exit 1 on a user error."""
    args = _parser().parse_args(argv)
    try:
        summary = generate(
            args.customers,
            args.seed,
            args.out,
            args.fmt,
            events_scale=args.events_scale,
            workers=args.workers,
        )
    except CdpkitError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    print(f"Wrote {summary.people:,} people to {args.out} in {summary.seconds:.1f}s")
    for path in summary.files:
        table = path.name.split(".")[0]
        size = path.stat().st_size
        print(f"  {path.name:<22} {summary.rows[table]:>12,} rows {size / 1e6:>9.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
