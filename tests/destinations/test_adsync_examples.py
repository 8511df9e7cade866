"""The example destination files load cleanly; config mistakes are located diagnostics."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cdpkit.destinations import registry
from cdpkit.project import Project
from cdpkit.sandbox.registry import FAKES, fake_class
from cdpkit.sync.loader import load_destinations

EXAMPLES = Path(__file__).resolve().parents[2] / "destinations" / "examples"
TYPES = ("meta_custom_audience", "google_customer_match", "klaviyo", "braze")


def test_connectors_and_fakes_are_registered() -> None:
    for name in TYPES:
        assert registry.get(name).type == name
    for name in ("meta", "google", "klaviyo", "braze"):
        assert name in FAKES
        fake_class(name)()  # the sandbox can build it with its defaults


@pytest.mark.parametrize("name", TYPES)
def test_example_loads_without_diagnostics(scratch_project: Project, name: str) -> None:
    target = scratch_project.destinations_dir / f"{name}.yml"
    shutil.copy(EXAMPLES / f"{name}.yml", target)
    loaded = load_destinations(scratch_project, [target])
    assert loaded.diagnostics == []
    destination = loaded.destinations[name]
    assert destination.connector.type == name
    assert destination.connector.default_consent in ("advertising", "marketing")


def test_unknown_meta_key_is_located_with_a_hint(scratch_project: Project) -> None:
    target = scratch_project.destinations_dir / "meta.yml"
    text = (EXAMPLES / "meta_custom_audience.yml").read_text()
    target.write_text(text.replace("      FN: first_name", "      FNAME: first_name"))
    loaded = load_destinations(scratch_project, [target])
    [diagnostic] = loaded.errors
    line = text.splitlines().index("      FN: first_name") + 1
    assert (diagnostic.path, diagnostic.line, diagnostic.col) == ("destinations/meta.yml", line, 7)
    assert diagnostic.code == "D060"
    assert diagnostic.message == "'FNAME' is not a field Meta Custom Audiences accepts"
    assert diagnostic.hint is not None and "FN" in diagnostic.hint
