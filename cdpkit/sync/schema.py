"""JSON Schema of `destinations/*.yml` for editors: one branch per registered connector type."""

from __future__ import annotations

from typing import Any

from cdpkit.destinations import registry

SCHEMA_ID = "https://cdpkit.dev/schemas/destination.json"


def destination_json_schema() -> dict[str, Any]:
    """JSON Schema (2020-12): a destination file is one of the connectors' config models."""
    defs: dict[str, Any] = {}
    branches: list[dict[str, Any]] = []
    for type_name in registry.types():
        model = registry.get(type_name).config_model
        schema = model.model_json_schema(ref_template="#/$defs/{model}")
        defs.update(schema.pop("$defs", {}))
        defs[model.__name__] = schema
        branches.append(
            {
                "if": {"properties": {"type": {"const": type_name}}},
                "then": {"$ref": f"#/$defs/{model.__name__}"},
            }
        )
    for definition in defs.values():
        _shorthands(definition)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "cdpkit destination",
        "type": "object",
        "required": ["type", "syncs"],
        "properties": {"type": {"enum": registry.types()}},
        "allOf": branches,
        "$defs": defs,
    }


def _shorthands(definition: dict[str, Any]) -> None:
    """What the before-validators accept: `schedule: "0 * * * *"`, `mapping: [email, ...]`."""
    props = definition.get("properties", {})
    if "schedule" in props and "mapping" in props:
        props["schedule"] = {
            "anyOf": [
                {"type": "string", "description": "A cron expression (UTC)."},
                props["schedule"],
            ]
        }
        props["mapping"] = {
            "anyOf": [
                props["mapping"],
                {"type": "array", "items": {"type": "string"}, "description": "Same names."},
            ]
        }
