"""The JSON Schema of the audience language, for editors (`cdpkit audiences schema`)."""

from __future__ import annotations

from typing import Any

from cdpkit.spec.audience import AudienceSpec

SCHEMA_ID = "https://cdpkit.dev/schemas/audience.json"


def audience_json_schema() -> dict[str, Any]:
    """JSON Schema (2020-12) of one audience file: an audience or a list of audiences."""
    schema = AudienceSpec.model_json_schema()
    defs: dict[str, Any] = schema.pop("$defs")
    condition_refs: list[dict[str, Any]] | None = None

    def is_condition_union(node: Any) -> bool:
        return (
            isinstance(node, dict)
            and isinstance(node.get("oneOf"), list)
            and any(m.get("$ref") == "#/$defs/TraitCondition" for m in node["oneOf"])
        )

    def walk(node: Any) -> Any:
        nonlocal condition_refs
        if is_condition_union(node):
            condition_refs = condition_refs or [dict(m) for m in node["oneOf"]]
            return {"$ref": "#/$defs/Condition"}
        if isinstance(node, dict):
            if node.get("additionalProperties") == {"$ref": "#/$defs/Operators"}:
                node = {**node, "additionalProperties": {"$ref": "#/$defs/Filter"}}
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    defs = walk(defs)
    audience = walk(schema)
    defs["Condition"] = {
        "description": "A mapping with exactly one kind key; a list means all: [...]",
        "anyOf": [
            {"oneOf": condition_refs or []},
            {"type": "array", "items": {"$ref": "#/$defs/Condition"}, "minItems": 1},
        ],
    }
    defs["Filter"] = {
        "description": "An operator mapping, or a value (eq) or a list of values (in)",
        "anyOf": [
            {"$ref": "#/$defs/Operators"},
            {"type": ["string", "number", "boolean"]},
            {"type": "array", "items": {"type": ["string", "number", "boolean"]}},
        ],
    }
    defs["Audience"] = audience
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "cdpkit audience",
        "anyOf": [
            {"$ref": "#/$defs/Audience"},
            {"type": "array", "items": {"$ref": "#/$defs/Audience"}, "minItems": 1},
        ],
        "$defs": defs,
    }
