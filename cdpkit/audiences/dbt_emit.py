"""`compile --emit-dbt`: each audience as a generated dbt model in models/audiences/.

Models are named `audience_<name>` (so an audience can never shadow a mart), are rendered for
the target's dialect (a guard fails the dbt run on another adapter), read the marts through
`ref()` for lineage, evaluate time windows at run time (the warehouse's now), keep
holdout members flagged in `in_holdout`, and are tested unique + not_null on customer_id.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml
from sqlglot import exp

from cdpkit.compiler import membership_query, render
from cdpkit.spec.audience import AudienceSpec
from cdpkit.spec.catalog import MART_TABLES, Catalog

HEADER = "-- generated — do not edit: cdpkit audiences compile --emit-dbt"
MODEL_PREFIX = "audience_"
MODELS_FILE = "_audiences__models.yml"
_MARKER = "cdpkit_ref_marker_"


@dataclass(frozen=True)
class Emitted:
    written: list[Path]
    removed: list[Path]


def model_name(audience: str) -> str:
    return f"{MODEL_PREFIX}{audience}"


def model_sql(
    audience: AudienceSpec,
    audiences: Mapping[str, AudienceSpec],
    dialect: str,
    catalog: Catalog | None = None,
) -> str:
    """The dbt model text of one audience."""
    tables = {
        t: exp.Table(this=exp.to_identifier(f"{_MARKER}{t}", quoted=False)) for t in MART_TABLES
    }
    query = membership_query(
        audience,
        audiences,
        dialect=dialect,
        schema="",
        as_of=None,
        include_holdout=True,
        catalog=catalog,
        tables=tables,
    )
    sql = render(query, dialect)
    # Literal braces must not reach Jinja: every '{' is emitted through a Jinja expression.
    sql = sql.replace("{", "{{ '{' }}")
    # Jinja (and so dbt) turns a carriage return in template text into a newline, which would
    # change a string literal; emitted as a Jinja expression it reaches the warehouse intact.
    sql = sql.replace("\r", "{{ '\\r' }}")
    for table in MART_TABLES:
        sql = sql.replace(f"{_MARKER}{table}", "{{ ref('" + table + "') }}")
    shown = re.sub(r"[^\w./-]", "_", audience.source) if audience.source else ""
    source = f"\n-- source: {shown}" if shown else ""
    config = "{{ config(materialized='table', tags=['cdpkit_audience']) }}"
    guard = (
        f"{{% if target.type != '{dialect}' %}}{{{{ exceptions.raise_compiler_error("
        f'"this audience model was generated for {dialect}; run: cdpkit audiences compile '
        f'--emit-dbt --target " ~ target.name) }}}}{{% endif %}}'
    )
    return f"{HEADER}{source}\n{config}\n{guard}\n\n{sql}\n"


def emit(
    models_dir: Path,
    chosen: Mapping[str, AudienceSpec],
    audiences: Mapping[str, AudienceSpec],
    dialect: str,
    catalog: Catalog | None = None,
    *,
    prune: bool = False,
) -> Emitted:
    """Write the models of `chosen`; with `prune`, remove generated models of other audiences."""
    models_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, spec in sorted(chosen.items()):
        path = models_dir / f"{model_name(name)}.sql"
        path.write_text(model_sql(spec, audiences, dialect, catalog), encoding="utf-8")
        written.append(path)
    removed: list[Path] = []
    if prune:
        keep = {f"{model_name(n)}.sql" for n in chosen}
        for path in sorted(models_dir.glob(f"{MODEL_PREFIX}*.sql")):
            if path.name not in keep and _generated(path):
                path.unlink()
                removed.append(path)
    _write_schema(models_dir, audiences)
    return Emitted(written, removed)


def _generated(path: Path) -> bool:
    try:
        return path.read_text(encoding="utf-8").startswith(HEADER)
    except OSError:
        return False


def _write_schema(models_dir: Path, audiences: Mapping[str, AudienceSpec]) -> None:
    models = []
    for path in sorted(models_dir.glob(f"{MODEL_PREFIX}*.sql")):
        if not _generated(path):
            continue
        name = path.stem[len(MODEL_PREFIX) :]
        spec = audiences.get(name)
        models.append(
            {
                "name": path.stem,
                "description": (spec.description if spec else "") or f"Members of audience {name}",
                "columns": [
                    {"name": "customer_id", "data_tests": ["unique", "not_null"]},
                    {"name": "in_holdout", "data_tests": ["not_null"]},
                ],
            }
        )
    text = "# generated — do not edit: cdpkit audiences compile --emit-dbt\n" + yaml.safe_dump(
        {"version": 2, "models": models}, sort_keys=False, allow_unicode=True
    )
    (models_dir / MODELS_FILE).write_text(text, encoding="utf-8")
