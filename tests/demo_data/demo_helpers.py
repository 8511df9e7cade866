"""Reading a generated demo data set back from its CSV files, with owner look-ups."""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from cdpkit.demo_data import TABLES, GenerationSummary, generate
from cdpkit.demo_data.schema import IDENTIFIER_COLUMNS

PEOPLE = 1500
SEED = 42

Record = dict[str, str | None]


def read_csv(path: Path) -> tuple[list[str], list[Record]]:
    """Header and rows of a generated CSV; an empty field is NULL (None)."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = [
            {k: (v if v != "" else None) for k, v in zip(header, r, strict=True)} for r in reader
        ]
    return header, rows


def identifiers_in(tables: dict[str, list[Record]]) -> list[tuple[str, str]]:
    """Every (identifier_type, raw value) written in any identifier column of any table."""
    found = []
    for table, columns in IDENTIFIER_COLUMNS.items():
        for row in tables[table]:
            for column, kind in columns.items():
                value = row[column]
                if value is not None:
                    found.append((kind, value))
    for row in tables["consents"]:
        assert row["identifier_type"] is not None and row["identifier"] is not None
        found.append((row["identifier_type"], row["identifier"]))
    return found


@dataclass
class DemoSet:
    """A generated data set in memory: tables, truth, and owner lookups."""

    root: Path
    summary: GenerationSummary
    headers: dict[str, list[str]]
    tables: dict[str, list[Record]]
    truth: list[Record]
    owners: dict[tuple[str, str], set[str]] = field(default_factory=dict)

    def owner(self, kind: str, value: str | None) -> str | None:
        """The one person a non-shared identifier value belongs to, else None."""
        if value is None:
            return None
        people = self.owners.get((kind, value), set())
        return next(iter(people)) if len(people) == 1 else None

    def order_owner(self, order: Record) -> str | None:
        """The person behind an order, through any of its unshared identifiers."""
        for column in ("user_id", "email", "phone", "loyalty_id"):
            person = self.owner(column, order[column])
            if person is not None:
                return person
        return None


def load(root: Path, summary: GenerationSummary) -> DemoSet:
    """Read every CSV of a generated set back into memory."""
    headers, tables = {}, {}
    for name in TABLES:
        headers[name], tables[name] = read_csv(root / f"{name}.csv")
    headers["truth"], truth = read_csv(root / "truth.csv")
    owners: dict[tuple[str, str], set[str]] = defaultdict(set)
    for row in truth:
        assert row["identifier_value"] is not None and row["person_id"] is not None
        owners[(str(row["identifier_type"]), row["identifier_value"])].add(row["person_id"])
    return DemoSet(root, summary, headers, tables, truth, dict(owners))


def build(root: Path, people: int = PEOPLE, seed: int = SEED, scale: float = 1.0) -> DemoSet:
    """Generate a CSV set into root and load it."""
    return load(root, generate(people, seed, root, events_scale=scale))
