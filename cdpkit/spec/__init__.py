"""User-written YAML specs: load with positions, validate into pydantic models, report located
diagnostics. Generic parts (used by audiences and destinations alike):

- `yamlpos.load_yaml(path) -> YamlDoc` (data + positions of every key/value by path tuple)
- `diagnostics.Diagnostic`, `SpecError`, `render`, `to_json`, `closest`, `did_you_mean`
- `validation.load_models(paths, Model, "D") -> LoadResult`, `from_validation_error`, `spec_error`
"""

from __future__ import annotations

from cdpkit.spec.diagnostics import (
    Diagnostic,
    SpecError,
    closest,
    did_you_mean,
    render,
    to_json,
)
from cdpkit.spec.validation import (
    Loaded,
    LoadResult,
    from_validation_error,
    load_models,
    spec_error,
    spec_files,
    validate_doc,
)
from cdpkit.spec.yamlpos import Pos, YamlDoc, display_path, load_yaml, parse_yaml

__all__ = [
    "Diagnostic",
    "LoadResult",
    "Loaded",
    "Pos",
    "SpecError",
    "YamlDoc",
    "closest",
    "did_you_mean",
    "display_path",
    "from_validation_error",
    "load_models",
    "load_yaml",
    "parse_yaml",
    "render",
    "spec_error",
    "spec_files",
    "to_json",
    "validate_doc",
]
