"""The exported JSON Schema accepts every valid audience file and rejects shape mistakes."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from cdpkit.spec.schema import audience_json_schema

REPO = Path(__file__).resolve().parents[2]
VALID = sorted((REPO / "audiences").glob("*.yml")) + sorted(
    (REPO / "tests" / "compiler" / "golden").glob("*.yml")
)
VALIDATOR = jsonschema.Draft202012Validator(audience_json_schema())


def test_schema_is_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(audience_json_schema())


@pytest.mark.parametrize("path", VALID, ids=[p.name for p in VALID])
def test_valid_files_pass(path: Path) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    errors = list(VALIDATOR.iter_errors(_jsonable(data)))
    assert errors == []


@pytest.mark.parametrize(
    "text",
    [
        "name: a\ninclude: {trait: country, eq: US}\nfileds: [x]\n",
        "name: a\ninclude: {evnt: page_viewed}\n",
        "name: a\ninclude: {trait: country, eq: US, event: x}\n",
        "name: a\ninclude: {event: x, within: 30x}\n",
        "name: a\ninclude: {trait: country, eq: US}\nconsent: ads\n",
        "include: {trait: country, eq: US}\n",
    ],
)
def test_shape_mistakes_fail(text: str) -> None:
    assert list(VALIDATOR.iter_errors(_jsonable(yaml.safe_load(text))))


def _jsonable(data: object) -> object:
    """YAML dates become ISO strings, as an editor's YAML-to-JSON view shows them."""
    if isinstance(data, dict):
        return {str(k): _jsonable(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_jsonable(v) for v in data]
    if hasattr(data, "isoformat"):
        return data.isoformat()  # type: ignore[union-attr]
    return data
