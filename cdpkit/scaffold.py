"""`cdpkit init`: lay out a new cdpkit project (dbt project, audiences, destinations)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from cdpkit.errors import CdpkitError

TEMPLATE = Path(__file__).parent / "scaffold"
ENTRIES = (
    "dbt_project.yml",
    "profiles.yml",
    "models",
    "macros",
    "seeds",
    "audiences",
    "destinations",
)
GITIGNORE = """\
# cdpkit / dbt local artefacts
*.duckdb
*.duckdb.wal
target/
logs/
dbt_packages/
.venv/
"""


@dataclass(frozen=True)
class Scaffolded:
    """What `init` created."""

    root: Path
    files: int


def init_project(directory: Path) -> Scaffolded:
    """Copy the project template into `directory` (new or empty)."""
    root = directory.resolve()
    if root.exists() and not root.is_dir():
        raise CdpkitError(f"{root} exists and is not a directory")
    if (root / "dbt_project.yml").exists():
        raise CdpkitError(
            f"{root} already contains a dbt project (dbt_project.yml); not touching it"
        )
    clashes = [name for name in ENTRIES if (root / name).exists()]
    if clashes:
        raise CdpkitError(
            f"{root} already has {', '.join(clashes)}; choose a new or empty directory"
        )
    missing = [name for name in ENTRIES if not (TEMPLATE / name).exists()]
    if missing:
        raise CdpkitError(f"the cdpkit installation lacks its project template: {missing}")
    root.mkdir(parents=True, exist_ok=True)
    files = 0
    for name in ENTRIES:
        src = TEMPLATE / name
        if src.is_dir():
            shutil.copytree(src, root / name, ignore=shutil.ignore_patterns("__pycache__"))
            files += sum(1 for p in (root / name).rglob("*") if p.is_file())
        else:
            shutil.copyfile(src, root / name)
            files += 1
    (root / ".gitignore").write_text(GITIGNORE, encoding="utf-8")
    return Scaffolded(root=root, files=files + 1)
