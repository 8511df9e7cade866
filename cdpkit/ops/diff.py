"""`cdpkit audiences diff --base REF`: which audiences a branch changes, in definition and SQL.

The base side's audience files are read with `git show REF:path` into a temporary directory
(nothing in the working tree or the repository changes); both sides are validated against
the same catalog and compiled for the same dialect and `as_of`, so only real changes show:

    result = diff_audiences(project, "origin/main", dialect="snowflake")
    for d in result.changed: print(d.name, d.status, d.sql_diff)

A change to an audience another one references changes the other's SQL but not its
definition: it is listed as `changed (sql)`, which is exactly what a reviewer needs to see.
"""

from __future__ import annotations

import datetime as dt
import difflib
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from cdpkit.errors import CdpkitError
from cdpkit.project import Project
from cdpkit.spec.diagnostics import render as render_diagnostics

SPEC_SUFFIXES = (".yml", ".yaml")


@dataclass(frozen=True)
class AudienceDiff:
    name: str
    status: str  # added | removed | changed | unchanged
    definition_changed: bool = False
    sql_changed: bool = False
    definition_diff: str = ""
    sql_diff: str = ""

    @property
    def what(self) -> str:
        if self.status != "changed":
            return self.status
        parts = [
            p
            for p, on in (("definition", self.definition_changed), ("sql", self.sql_changed))
            if on
        ]
        return f"changed ({' + '.join(parts)})"


@dataclass
class DiffResult:
    base: str
    base_commit: str
    dialect: str
    audiences: list[AudienceDiff] = field(default_factory=list)
    errors: str = ""  # diagnostics of the working tree's audience files (empty when valid)
    base_errors: str = ""  # the same for the base (shown, never fatal)

    @property
    def changed(self) -> list[AudienceDiff]:
        return [a for a in self.audiences if a.status != "unchanged"]


@dataclass
class _Side:
    definitions: dict[str, str] = field(default_factory=dict)  # normalized: what counts
    shown: dict[str, str] = field(default_factory=dict)  # the file's text when it is its own
    sql: dict[str, str] = field(default_factory=dict)
    errors: str = ""


def diff_audiences(
    project: Project,
    base: str,
    *,
    dialect: str | None = None,
    as_of: dt.datetime | None = None,
) -> DiffResult:
    """Compare the working tree's audiences with those at git ref `base`."""
    from cdpkit.audiences.loader import audience_files, load_catalog

    target = project.target()
    dialect = dialect or target.dialect
    as_of = as_of or dt.datetime.now(dt.UTC).replace(microsecond=0)
    catalog = load_catalog(project)
    _git(project.root, "rev-parse", "--show-toplevel")  # a clear error outside a repository
    commit = _git(project.root, "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}").strip()
    current = _side(audience_files(project), project.root, catalog, dialect, target.schema, as_of)
    with tempfile.TemporaryDirectory(prefix="cdpkit-diff-") as tmp:
        root = Path(tmp)
        files = _export(project, commit, root)
        before = _side(files, root, catalog, dialect, target.schema, as_of)
    result = DiffResult(base, commit, dialect, errors=current.errors, base_errors=before.errors)
    for name in sorted(set(current.definitions) | set(before.definitions)):
        result.audiences.append(_compare(name, before, current))
    return result


def _compare(name: str, before: _Side, after: _Side) -> AudienceDiff:
    if name not in before.definitions:
        return AudienceDiff(
            name,
            "added",
            True,
            True,
            _udiff("", after.shown[name], name, "yml"),
            _udiff("", after.sql.get(name, ""), name, "sql"),
        )
    if name not in after.definitions:
        return AudienceDiff(
            name,
            "removed",
            True,
            True,
            _udiff(before.shown[name], "", name, "yml"),
            _udiff(before.sql.get(name, ""), "", name, "sql"),
        )
    definition = before.definitions[name] != after.definitions[name]
    sql = before.sql.get(name) != after.sql.get(name)
    if not (definition or sql):
        return AudienceDiff(name, "unchanged")
    return AudienceDiff(
        name,
        "changed",
        definition,
        sql,
        _udiff(before.shown[name], after.shown[name], name, "yml") if definition else "",
        _udiff(before.sql.get(name, ""), after.sql.get(name, ""), name, "sql") if sql else "",
    )


def _side(
    files: list[Path], root: Path, catalog: Any, dialect: str, schema: str, as_of: dt.datetime
) -> _Side:
    from cdpkit.audiences.loader import validate_files
    from cdpkit.compiler import membership_query, render

    side = _Side()
    validation = validate_files(files, catalog, base=root)
    if validation.errors:
        side.errors = render_diagnostics(validation.diagnostics, validation.sources)
    per_file: dict[str, int] = {}
    for file in validation.files.values():
        per_file[file] = per_file.get(file, 0) + 1
    for name, spec in validation.audiences.items():
        dumped = spec.model_dump(mode="json", exclude_defaults=True)
        side.definitions[name] = yaml.safe_dump(dumped, sort_keys=False, allow_unicode=True)
        file = validation.files[name]
        own_file = per_file[file] == 1 and file in validation.sources
        side.shown[name] = validation.sources[file] if own_file else side.definitions[name]
        try:
            query = membership_query(
                spec,
                validation.audiences,
                dialect=dialect,
                schema=schema,
                as_of=as_of,
                catalog=catalog,
            )
            side.sql[name] = render(query, dialect) + "\n"
        except CdpkitError as exc:
            side.sql[name] = f"-- does not compile: {exc}\n"
    return side


def _export(project: Project, commit: str, into: Path) -> list[Path]:
    """The base's audiences/*.yml (top level, like the loader) written under `into`."""
    top = Path(_git(project.root, "rev-parse", "--show-toplevel").strip())
    rel = project.audiences_dir.resolve().relative_to(top.resolve())
    folder = PurePosixPath(*rel.parts)
    listing = _git(project.root, "ls-tree", "--name-only", f"{commit}:{folder}", check=False)
    written: list[Path] = []
    for name in sorted(listing.splitlines()):
        if not name.endswith(SPEC_SUFFIXES):
            continue
        text = _git(project.root, "show", f"{commit}:{folder / name}")
        path = into / "audiences" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def _git(cwd: Path, *args: str, check: bool = True) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
        )
    except FileNotFoundError:
        raise CdpkitError("git is not installed (audiences diff reads the base from git)") from None
    if done.returncode != 0 and check:
        if args[:1] == ("rev-parse",) and "--verify" in args:
            raise CdpkitError(f"unknown git ref '{args[-1].removesuffix('^{commit}')}'")
        detail = done.stderr.strip().splitlines()[0] if done.stderr.strip() else "failed"
        raise CdpkitError(f"git {args[0]}: {detail}")
    return done.stdout if done.returncode == 0 else ""


def _udiff(a: str, b: str, name: str, kind: str) -> str:
    lines = difflib.unified_diff(
        a.splitlines(keepends=True),
        b.splitlines(keepends=True),
        fromfile=f"base/{name}.{kind}",
        tofile=f"branch/{name}.{kind}",
    )
    return "".join(lines)


def as_text(result: DiffResult) -> str:
    head = (
        f"Audiences compared with {result.base} ({result.base_commit[:10]}), SQL for "
        f"{result.dialect}: {len(result.changed)} changed of {len(result.audiences)}"
    )
    lines = [head]
    for a in result.audiences:
        lines.append(f"  {a.name:<32} {a.what}")
    for a in result.changed:
        for text in (a.definition_diff, a.sql_diff):
            if text:
                lines.append("")
                lines.append(text.rstrip("\n"))
    return "\n".join(lines) + "\n"


def as_markdown(result: DiffResult) -> str:
    """For a pull-request comment or $GITHUB_STEP_SUMMARY."""
    lines = [
        f"### Audience changes vs `{result.base}` (`{result.base_commit[:10]}`)",
        "",
        f"{len(result.changed)} of {len(result.audiences)} audiences changed "
        f"(SQL compiled for **{result.dialect}**).",
        "",
    ]
    if result.changed:
        lines += ["| audience | change |", "|---|---|"]
        lines += [f"| `{a.name}` | {a.what} |" for a in result.changed]
    for a in result.changed:
        lines += ["", f"<details><summary><code>{a.name}</code>: {a.what}</summary>", ""]
        for text, lang in ((a.definition_diff, "diff"), (a.sql_diff, "diff")):
            if text:
                lines += [f"```{lang}", text.rstrip("\n"), "```", ""]
        lines.append("</details>")
    if result.errors:
        lines += [
            "",
            "**Invalid audience files on this branch:**",
            "",
            "```",
            result.errors.rstrip(),
            "```",
        ]
    return "\n".join(lines) + "\n"


def as_json(result: DiffResult) -> dict[str, Any]:
    return {
        "base": result.base,
        "base_commit": result.base_commit,
        "dialect": result.dialect,
        "changed": len(result.changed),
        "errors": result.errors or None,
        "audiences": [
            {
                "name": a.name,
                "status": a.status,
                "definition_changed": a.definition_changed,
                "sql_changed": a.sql_changed,
                "definition_diff": a.definition_diff,
                "sql_diff": a.sql_diff,
            }
            for a in result.audiences
        ],
    }
