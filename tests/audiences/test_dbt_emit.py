"""Generated dbt models: Jinja sees only our refs; user text reaches SQL unchanged."""

from __future__ import annotations

import jinja2
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cdpkit.audiences.dbt_emit import HEADER, model_sql
from cdpkit.compiler import membership_query, render
from cdpkit.spec.audience import AudienceSpec
from cdpkit.spec.validation import validate_doc
from cdpkit.spec.yamlpos import parse_yaml


def _spec(value: str) -> dict[str, AudienceSpec]:
    import yaml

    text = yaml.safe_dump({"name": "a", "include": {"trait": "country", "eq": value}})
    items, diagnostics = validate_doc(parse_yaml(text, "a.yml"), AudienceSpec, "A")
    assert not diagnostics
    return {"a": items[0].value}


def _render_like_dbt(model: str, target_type: str = "duckdb") -> str:
    class Exceptions:
        @staticmethod
        def raise_compiler_error(message: str) -> None:
            raise RuntimeError(message)

    env = jinja2.Environment(undefined=jinja2.StrictUndefined)  # noqa: S701 - SQL, not HTML
    return env.from_string(model).render(
        ref=lambda name: f'"main"."{name}"',
        config=lambda **_: "",
        target={"type": target_type, "name": "prod"},
        exceptions=Exceptions,
    )


@settings(max_examples=60, deadline=None)
@given(st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=30))
@example(value="\r")  # Jinja normalises a raw carriage return to a newline
@example(value="a\r\nb {% raw %}")
def test_user_text_never_reaches_jinja(value: str) -> None:
    audiences = _spec(value)
    model = model_sql(audiences["a"], audiences, "duckdb")
    assert model.startswith(HEADER)
    rendered = _render_like_dbt(model)
    expected = render(
        membership_query(
            audiences["a"],
            audiences,
            dialect="duckdb",
            schema="main",
            as_of=None,
            include_holdout=True,
        ),
        "duckdb",
    )
    assert rendered.split("\n\n", 1)[1].strip() == expected.strip()


def test_other_adapter_fails_with_a_clear_message() -> None:
    audiences = _spec("US")
    with pytest.raises(RuntimeError, match="generated for duckdb; run: cdpkit audiences compile"):
        _render_like_dbt(model_sql(audiences["a"], audiences, "duckdb"), "snowflake")
