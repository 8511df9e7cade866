"""The accuracy metric itself, on the built scenario with a hand-written truth table."""

from __future__ import annotations

import pytest
from sqlglot import exp

from cdpkit.identity import evaluate
from cdpkit.project import Project
from cdpkit.warehouse import connect

from .rawdata import insert_rows
from .scenarios import TABLET

pytestmark = pytest.mark.slow


def _truth() -> list[dict[str, str]]:
    rows: list[tuple[str, str, str]] = []
    for k in range(4):
        person = f"member{k}"
        rows += [
            (person, "user_id", f"fam-user{k}"),
            (person, "anonymous_id", f"fam-phone-anon{k}"),
            (person, "device_id", f"fam-phone{k}"),
            (person, "email", f"member{k}@family.example"),
            (person, "device_id", TABLET),  # shared: not scored
        ]
        if k != 0:
            rows.append((person, "anonymous_id", f"fam-tab-anon{k}"))
    # A wrong claim the resolution cannot know: member 0's tablet install is someone else's.
    rows.append(("someone-else", "anonymous_id", "fam-tab-anon0"))
    # One person with two user accounts, joined only through a shared phone: achievable, but
    # the user_id limit splits it.
    for raw in ("lim-1", "lim-2"):
        rows.append(("two-accounts", "user_id", raw))
    for raw in ("lim1@example.com", "lim2@example.com"):
        rows.append(("two-accounts", "email", raw))
    for raw in ("+1 212 555 0101", "(212) 555-0101"):
        rows.append(("two-accounts", "phone", raw))
    return [
        dict(zip(("person_id", "identifier_type", "identifier_value"), r, strict=True))
        for r in rows
    ]


def test_pair_counts_on_a_known_truth(scenario_project: Project) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CDPKIT_WAREHOUSE", str(scenario_project.root / "warehouse.duckdb"))
        with connect(scenario_project) as wh:
            table = exp.table_("truth", db="truth_test", quoted=True)
            wh.execute("create schema if not exists truth_test")
            wh.execute(exp.Drop(tables=[table], kind="TABLE", exists=True).sql("duckdb"))
            wh.execute(
                exp.Create(
                    this=exp.Schema(
                        this=table,
                        expressions=[
                            exp.ColumnDef(
                                this=exp.to_identifier(c), kind=exp.DataType.build("text")
                            )
                            for c in ("person_id", "identifier_type", "identifier_value")
                        ],
                    ),
                    kind="TABLE",
                ).sql("duckdb")
            )
            columns = [(c, "varchar") for c in ("person_id", "identifier_type", "identifier_value")]
            insert_rows(wh, table, columns, _truth())
            accuracy = evaluate(wh, table)
    # Family: members 0 and 1 are customers of 5 scored identifiers (10 pairs each), members 2
    # and 3 of 4 (6 each; their tablet installs are unreachable without the shared tablet).
    # Member 0's customer holds the wrongly claimed install: 4 of its 10 pairs are false.
    # Two accounts: 5 identifiers of one person, split 3 + 2 by the user_id limit.
    assert accuracy.scored_identifiers == 4 * 5 + 5
    assert accuracy.predicted_pairs == 10 + 10 + 6 + 6 + 3 + 1
    assert accuracy.true_predicted_pairs == 6 + 10 + 6 + 6 + 3 + 1
    assert accuracy.achievable_pairs == 6 + 10 + 6 + 6 + 10
    assert accuracy.found_achievable_pairs == 6 + 10 + 6 + 6 + 3 + 1
    assert accuracy.precision == pytest.approx(32 / 36)
    assert accuracy.recall == pytest.approx(32 / 38)
