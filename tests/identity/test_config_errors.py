"""A wrong identity setting fails the build with a message naming the var and the fix."""

from __future__ import annotations

import copy

import pytest

from cdpkit.dbt_runner import run_dbt
from cdpkit.project import Project

from .conftest import project_vars

pytestmark = pytest.mark.slow


def test_bad_identity_vars_are_located_errors(scratch_project: Project) -> None:
    base = project_vars(scratch_project)
    sources = copy.deepcopy(base["cdpkit_identity_sources"])
    sources["orders"]["identifiers"]["emial"] = "email"
    types = copy.deepcopy(base["cdpkit_identity_types"])
    types["device_id"]["max_links"]["user_idd"] = 1
    result = run_dbt(
        scratch_project,
        "compile",
        ["--select", "int_identity_tuples"],
        dbt_vars={"cdpkit_identity_sources": sources},
    )
    assert not result.success
    messages = " ".join(n.message for n in result.nodes) + result.error
    assert (
        "cdpkit_identity_sources.orders.identifiers: 'emial' is not an identifier type" in messages
    )
    result = run_dbt(
        scratch_project,
        "compile",
        ["--select", "int_identity_overlinked"],
        dbt_vars={"cdpkit_identity_types": types},
    )
    assert not result.success
    messages = " ".join(n.message for n in result.nodes) + result.error
    assert (
        "cdpkit_identity_types.device_id.max_links: 'user_idd' is not an identifier type"
        in messages
    )
