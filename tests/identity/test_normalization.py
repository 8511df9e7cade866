"""Identifier normalization macros, compiled by dbt and run on DuckDB (and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlglot import exp

from cdpkit.project import Project, find_project
from cdpkit.warehouse import Warehouse, connect

from .conftest import compile_inline, scratch

pytestmark = pytest.mark.slow

NORMALIZE = """
select
    raw_value,
    country_hint,
    case when {{ cdpkit_valid_e164('candidate') }} then candidate end as e164,
    email
from (
    select
        raw_value,
        country_hint,
        {{ cdpkit_normalize_phone(
            cdpkit_trim('raw_value'),
            cdpkit_regexp_replace_all('raw_value', '[^0-9]', ''),
            'country_hint'
        ) }} as candidate,
        {{ cdpkit_normalize_email(cdpkit_trim('raw_value')) }} as email
    from cdpkit_test_inputs
) as prepared
"""

DEMO_FORMATS = [
    ("+1 (415) 555-0100", None, "+14155550100"),
    ("415.555.0100", None, "+14155550100"),
    ("4155550100", None, "+14155550100"),
    ("1-415-555-0100", None, "+14155550100"),
    ("(415) 555-0100", None, "+14155550100"),
    ("00 44 20 7946 0958", None, "+442079460958"),
    ("+44 20 7946 0958", None, "+442079460958"),
    ("020 7946 0958", "GB", "+442079460958"),
    ("020 7946 0958", None, None),  # national GB number read in default country US: unknown
    ("0160/70645828", "DE", "+4916070645828"),
    ("06 12 34 56 78", "FR", "+33612345678"),
    ("415 555 0100", "US", "+14155550100"),
    ("0000000000", None, None),
    ("+1 555 555 5555", None, None),  # one repeated digit
    ("12345", None, None),
    ("", None, None),
    ("call me", None, None),
]


class Normalizer:
    """Runs the compiled normalization SQL over a table of inputs."""

    def __init__(self, wh: Warehouse, sql: str) -> None:
        self.wh = wh
        self.sql = sql
        self.table = exp.table_("cdpkit_test_inputs", quoted=True)

    def __call__(self, values: list[tuple[str, str | None]]) -> list[tuple[Any, ...]]:
        wh = self.wh
        wh.execute(exp.Drop(tables=[self.table], kind="TABLE", exists=True).sql(wh.dialect))
        wh.execute(
            exp.Create(
                this=exp.Schema(
                    this=self.table,
                    expressions=[
                        exp.ColumnDef(
                            this=exp.to_identifier("pos"), kind=exp.DataType.build("int")
                        ),
                        exp.ColumnDef(
                            this=exp.to_identifier("raw_value"), kind=exp.DataType.build("text")
                        ),
                        exp.ColumnDef(
                            this=exp.to_identifier("country_hint"), kind=exp.DataType.build("text")
                        ),
                    ],
                ),
                kind="TABLE",
            ).sql(wh.dialect)
        )
        insert = exp.insert(
            exp.Values(expressions=[exp.Tuple(expressions=[exp.Placeholder()] * 3)]), self.table
        )
        wh.executemany(insert.sql(wh.dialect), [(i, v, c) for i, (v, c) in enumerate(values)])
        sql = self.sql.replace("from cdpkit_test_inputs", "from cdpkit_test_inputs order by pos")
        return wh.fetchall(sql)


def _normalizer(project: Project) -> Iterator[Normalizer]:
    sql = compile_inline(project, NORMALIZE)
    with connect(project) as wh:
        yield Normalizer(wh, sql)


@pytest.fixture(scope="module")
def duckdb_normalizer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Normalizer]:
    project = scratch(tmp_path_factory.mktemp("norm"), "proj")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CDPKIT_WAREHOUSE", str(Path(project.root) / "warehouse.duckdb"))
        mp.delenv("CDPKIT_TARGET", raising=False)
        yield from _normalizer(project)


def _check_formats(normalize: Normalizer) -> None:
    got = normalize([(raw, country) for raw, country, _ in DEMO_FORMATS])
    for (raw, country, expected), row in zip(DEMO_FORMATS, got, strict=True):
        assert row[2] == expected, (raw, country, row)


def test_demo_phone_formats(duckdb_normalizer: Normalizer) -> None:
    _check_formats(duckdb_normalizer)


def test_email_syntax(duckdb_normalizer: Normalizer) -> None:
    cases = {
        "  Bob.Smith+tag@Example.CO.uk ": "bob.smith+tag@example.co.uk",
        "x@y.io": "x@y.io",
        "not-an-email": None,
        "a@b": None,
        "two@@example.com": None,
        "spaces in@example.com": None,
        "trailing.dot.@example.com": None,
    }
    got = duckdb_normalizer([(raw, None) for raw in cases])
    assert {row[0]: row[3] for row in got} == cases


_area = st.integers(200, 999).filter(lambda n: n % 100 != 11 and n // 100 != 9 or n < 900)
_exchange = st.integers(200, 999)
_line = st.integers(0, 9999)
_formats = st.sampled_from(
    [
        "+1 ({a}) {e}-{l}",
        "{a}.{e}.{l}",
        "{a}{e}{l}",
        "1-{a}-{e}-{l}",
        "({a}) {e} {l}",
        "+1{a}{e}{l}",
        "+1 {a} {e} {l}",
        " {a}-{e}-{l}\t",
    ]
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(_area, _exchange, _line, _formats), min_size=1, max_size=20))
def test_us_numbers_match_phonenumbers(
    duckdb_normalizer: Normalizer, numbers: list[tuple[int, int, int, str]]
) -> None:
    """Any common US format gives the E.164 that Google's libphonenumber gives."""
    raws = [f.format(a=a, e=e, l=f"{line:04d}") for a, e, line, f in numbers]
    got = duckdb_normalizer([(raw, None) for raw in raws])
    for raw, row in zip(raws, got, strict=True):
        expected = phonenumbers.format_number(
            phonenumbers.parse(raw, "US"), phonenumbers.PhoneNumberFormat.E164
        )
        if len(set(expected[-7:])) == 1:
            expected = None  # one repeated digit: treated as junk on purpose
        assert row[2] == expected, raw


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.from_regex(r"[a-z0-9]{1,8}(\.[a-z0-9]{1,5})?", fullmatch=True),
            st.sampled_from(["gmail.com", "example.co.uk", "mail.example.org"]),
            st.sampled_from(["", " ", "  \t", "\n"]),
            st.booleans(),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_email_case_and_whitespace_do_not_matter(
    duckdb_normalizer: Normalizer, emails: list[tuple[str, str, str, bool]]
) -> None:
    raws = [
        f"{pad}{(local + '@' + domain).upper() if upper else local + '@' + domain}{pad}"
        for local, domain, pad, upper in emails
    ]
    got = duckdb_normalizer([(raw, None) for raw in raws])
    for (local, domain, _, _), row in zip(emails, got, strict=True):
        assert row[3] == f"{local}@{domain}"


@pytest.mark.postgres
def test_demo_phone_formats_on_postgres(pg_project: Project) -> None:
    project = find_project(pg_project.root, "postgres")
    for normalize in _normalizer(project):
        _check_formats(normalize)
