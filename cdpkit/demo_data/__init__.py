"""Deterministic demo data with ground truth: the raw tables of ARCHITECTURE §3 plus truth.csv.

>>> from pathlib import Path
>>> from cdpkit.demo_data import generate
>>> summary = generate(2000, 42, Path("seeds"))  # doctest: +SKIP

Same (customers, seed, format, events_scale) give byte-identical files. truth.csv maps every
identifier value written anywhere (raw, as written) to the person who wrote it.
"""

from __future__ import annotations

from cdpkit.demo_data.contact import EMPTY, JUNK_EMAILS, JUNK_IDS, JUNK_PHONES
from cdpkit.demo_data.runner import GenerationSummary, generate
from cdpkit.demo_data.schema import (
    IDENTIFIER_TYPES,
    REFERENCE_TIME,
    TABLES,
    TRUTH_COLUMNS,
    WINDOW_START,
)

SEED_EVENTS_SCALE = 0.1
"""events_scale of the committed seeds: fewer sessions per person keep every file < 4 MB."""

__all__ = [
    "EMPTY",
    "IDENTIFIER_TYPES",
    "JUNK_EMAILS",
    "JUNK_IDS",
    "JUNK_PHONES",
    "REFERENCE_TIME",
    "SEED_EVENTS_SCALE",
    "TABLES",
    "TRUTH_COLUMNS",
    "WINDOW_START",
    "GenerationSummary",
    "generate",
]
