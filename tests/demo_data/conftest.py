"""The data sets the demo-data tests inspect: a full-scale one and the committed seeds' twin."""

from __future__ import annotations

import pytest
from demo_helpers import DemoSet, build

from cdpkit.demo_data import SEED_EVENTS_SCALE


@pytest.fixture(scope="session", params=["full_scale", "seed_profile"])
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> DemoSet:
    """1,500 people at events scale 1, then 2,000 people as `make seeds` writes them."""
    root = tmp_path_factory.mktemp(request.param)
    if request.param == "full_scale":
        return build(root)
    return build(root, people=2000, seed=42, scale=SEED_EVENTS_SCALE)
