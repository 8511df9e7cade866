"""Compile audience YAML text and evaluate it against a fixture warehouse."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import yaml

from cdpkit.compiler import membership_query, render
from cdpkit.spec.audience import AudienceSpec
from cdpkit.spec.catalog import contract_catalog
from cdpkit.spec.checks import check_audiences
from cdpkit.spec.diagnostics import render as render_diagnostics
from cdpkit.spec.validation import validate_doc
from cdpkit.spec.yamlpos import parse_yaml
from cdpkit.warehouse import Warehouse
from compiler.marts import AS_OF


def audiences_from(text: str) -> dict[str, AudienceSpec]:
    """Valid audiences from YAML text (one mapping or a list); fails the test on any error."""
    doc = parse_yaml(text, "test.yml")
    items, diagnostics = validate_doc(doc, AudienceSpec, "A")
    diagnostics += check_audiences(items, contract_catalog())
    errors = [d for d in diagnostics if d.is_error]
    assert not errors, render_diagnostics(errors, {"test.yml": text})
    return {item.value.name: item.value for item in items}


def audience(body: dict[str, Any], name: str = "t") -> dict[str, AudienceSpec]:
    return audiences_from(yaml.safe_dump({"name": name, **body}, sort_keys=False))


def members(
    wh: Warehouse,
    audiences: dict[str, AudienceSpec],
    name: str | None = None,
    *,
    as_of: datetime | None = AS_OF,
    include_holdout: bool = False,
) -> list[tuple[Any, ...]]:
    spec = audiences[name] if name else next(iter(audiences.values()))
    query = membership_query(
        spec,
        audiences,
        dialect=wh.dialect,
        schema=wh.schema,
        as_of=as_of,
        include_holdout=include_holdout,
    )
    return sorted(wh.fetchall(render(query, wh.dialect)))


def member_ids(
    wh: Warehouse, audiences: dict[str, AudienceSpec], name: str | None = None
) -> set[str]:
    return {row[0] for row in members(wh, audiences, name)}
