"""Names of the identity models in the warehouse, as quoted sqlglot tables in the target schema."""

from __future__ import annotations

from sqlglot import exp

from cdpkit.errors import WarehouseError
from cdpkit.warehouse import Warehouse

MARTS = ("customer_identifiers", "customers", "identity_blocked_links", "customer_id_aliases")


def model(wh: Warehouse, name: str) -> exp.Table:
    """The table of dbt model `name` in the target schema."""
    return exp.table_(name, db=wh.schema, quoted=True)


def require(wh: Warehouse, *names: str) -> None:
    """Fail with a clear message when the identity models were not built on this target."""
    missing = [n for n in names if wh.table_columns(n, wh.schema) is None]
    if missing:
        raise WarehouseError(
            f"{', '.join(missing)} not found in schema '{wh.schema}' of target "
            f"'{wh.target.name}'; run 'cdpkit build' first"
        )


def col(table: str, name: str) -> exp.Column:
    return exp.column(name, table=table, quoted=True)


def lit(value: object) -> exp.Expression:
    return exp.convert(value)
