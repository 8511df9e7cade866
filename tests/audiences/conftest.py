"""A scratch project whose DuckDB warehouse holds the hand-made fixture marts."""

from __future__ import annotations

import pytest
from compiler.marts import create_marts

from cdpkit.project import Project
from cdpkit.warehouse import connect

US_PEOPLE = """name: us_people
description: Everyone in the US
tags: [geo, test]
include: {trait: country, eq: US}
fields: [email, first_name]
"""
BUYERS = """name: buyers
description: Anyone with an order
include: {order: {}}
fields: [email]
split: {holdout_percent: 50}
"""


@pytest.fixture
def project(scratch_project: Project) -> Project:
    with connect(scratch_project) as wh:
        create_marts(wh, wh.schema)
    folder = scratch_project.audiences_dir
    (folder / "us_people.yml").write_text(US_PEOPLE, encoding="utf-8")
    (folder / "buyers.yml").write_text(BUYERS, encoding="utf-8")
    return scratch_project
