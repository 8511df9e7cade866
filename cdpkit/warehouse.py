"""Connections to the project's warehouse (DuckDB file or PostgreSQL), from profiles.yml.

SQL reaching these methods is rendered from sqlglot expressions for `Warehouse.dialect`;
parameters use `exp.Placeholder()`, which renders as `?` for DuckDB and `%s` for PostgreSQL.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cdpkit.errors import ConfigError, WarehouseError
from cdpkit.project import Project, Target

LOCK_TIMEOUT_ENV = "CDPKIT_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT_S = 30.0


class Warehouse:
    """One open connection; the same small surface for every supported engine."""

    def __init__(self, target: Target, connection: Any, location: str) -> None:
        self.target = target
        self.dialect = target.dialect
        self.schema = target.schema
        self.location = location
        self._con = connection

    # -- statements -----------------------------------------------------------------------
    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        """Run one statement, discarding any result."""
        self._run(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one parameterised statement for many rows."""
        if not rows:
            return
        try:
            if self.dialect == "duckdb":
                self._con.executemany(sql, rows)
            else:
                with self._con.cursor() as cur:
                    cur.executemany(sql, rows)
        except Exception as exc:
            raise WarehouseError(_explain(exc, sql)) from exc

    def fetchall(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """All rows of a query (for small results; stream large ones with `batches`)."""
        cur = self._run(sql, params)
        rows = cur.fetchall()
        self._close_cursor(cur)
        if rows and type(rows[0]) is not tuple:
            return [tuple(r) for r in rows]
        return rows  # DuckDB and psycopg already give tuples: no copy of large results

    def fetchone(self, sql: str, params: Sequence[Any] | None = None) -> tuple[Any, ...] | None:
        rows = self.fetchall(sql, params)
        return rows[0] if rows else None

    def query(
        self, sql: str, params: Sequence[Any] | None = None
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Column names and all rows of a query."""
        cur = self._run(sql, params)
        names = [d[0] for d in cur.description or []]
        rows = [tuple(r) for r in cur.fetchall()]
        self._close_cursor(cur)
        return names, rows

    def batches(
        self, sql: str, size: int = 10_000, params: Sequence[Any] | None = None
    ) -> Iterator[tuple[list[str], list[tuple[Any, ...]]]]:
        """Stream a query in batches of at most `size` rows, so memory stays bounded."""
        if self.dialect == "duckdb":
            cur = self._con.cursor()
            try:
                cur.execute(sql, params or [])
            except Exception as exc:
                cur.close()
                raise WarehouseError(_explain(exc, sql)) from exc
            names = [d[0] for d in cur.description or []]
            try:
                while rows := cur.fetchmany(size):
                    yield names, [tuple(r) for r in rows]
            finally:
                cur.close()
            return
        # PostgreSQL: a named (server-side) cursor inside its own transaction.
        with self._con.transaction(), self._con.cursor(name=f"cdpkit_{id(self)}") as cur:
            try:
                cur.execute(sql, params or None)
            except Exception as exc:
                raise WarehouseError(_explain(exc, sql)) from exc
            names: list[str] = []
            while rows := cur.fetchmany(size):
                names = names or [d[0] for d in cur.description or []]
                yield names, [tuple(r) for r in rows]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All statements inside commit together or not at all."""
        if self.dialect == "duckdb":
            self._con.execute("BEGIN TRANSACTION")
            try:
                yield
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            self._con.execute("COMMIT")
        else:
            with self._con.transaction():
                yield

    # -- catalog --------------------------------------------------------------------------
    def table_columns(self, table: str, schema: str | None = None) -> list[str] | None:
        """Column names of `schema.table` in order, or None when it does not exist."""
        rows = self.fetchall(
            "select column_name from information_schema.columns "
            f"where table_schema = {_ph(self.dialect)} and table_name = {_ph(self.dialect)} "
            "order by ordinal_position",
            [schema or self.schema, table],
        )
        return [r[0] for r in rows] or None

    def close(self) -> None:
        # Closing twice or after a failure is harmless.
        with contextlib.suppress(Exception):
            self._con.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ------------------------------------------------------------------------
    def _run(self, sql: str, params: Sequence[Any] | None) -> Any:
        try:
            if self.dialect == "duckdb":
                return self._con.execute(sql, params or [])
            cur = self._con.cursor()
            cur.execute(sql, params or None)
            return cur
        except Exception as exc:
            raise WarehouseError(_explain(exc, sql)) from exc

    def _close_cursor(self, cur: Any) -> None:
        if self.dialect != "duckdb":
            cur.close()


def _ph(dialect: str) -> str:
    return "?" if dialect == "duckdb" else "%s"


def _explain(exc: Exception, sql: str) -> str:
    first = " ".join(sql.split())[:200]
    return f"the warehouse rejected a statement: {str(exc).strip()} (in: {first})"


def duckdb_path(project: Project, target: Target) -> Path:
    """The DuckDB file of a target, relative paths resolved against the project directory."""
    raw = str(target.settings.get("path") or "warehouse.duckdb")
    path = Path(raw)
    return path if path.is_absolute() else project.root / path


def connect(project: Project, *, read_only: bool = False) -> Warehouse:
    """Open the warehouse of the project's selected target."""
    target = project.target()
    if target.type == "duckdb":
        return _connect_duckdb(project, target, read_only=read_only)
    if target.type == "postgres":
        return _connect_postgres(target)
    raise ConfigError(
        f"target '{target.name}' has type '{target.type}'; cdpkit runs queries on duckdb and "
        "postgres targets (other warehouses: compile audiences with --dialect)"
    )


def lock_timeout() -> float:
    """Seconds to wait for another process's DuckDB lock ($CDPKIT_LOCK_TIMEOUT, default 30)."""
    raw = os.environ.get(LOCK_TIMEOUT_ENV)
    try:
        return float(raw) if raw else DEFAULT_LOCK_TIMEOUT_S
    except ValueError:
        raise ConfigError(f"{LOCK_TIMEOUT_ENV} must be a number of seconds, got {raw!r}") from None


def _connect_duckdb(project: Project, target: Target, *, read_only: bool) -> Warehouse:
    import duckdb

    path = duckdb_path(project, target)
    if read_only and not path.exists():
        raise WarehouseError(f"{path} does not exist yet; run 'cdpkit build' first")
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + lock_timeout()
    delay = 0.05
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.ConnectionException:
            # This process already has the file open read-write (e.g. dbt ran in-process):
            # DuckDB shares that instance only with connections of the same configuration.
            if not read_only:
                raise
            con = duckdb.connect(str(path))
            break
        except duckdb.IOException as exc:
            message = str(exc)
            if "lock" not in message.lower():
                raise WarehouseError(f"cannot open {path}: {message}") from exc
            if time.monotonic() >= deadline:
                raise WarehouseError(
                    f"{path} is locked by another process (DuckDB allows one writer): "
                    f"{message.splitlines()[0]}. Wait for it to finish or raise "
                    f"{LOCK_TIMEOUT_ENV} (now {lock_timeout():g}s)."
                ) from exc
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
    return Warehouse(target, con, location=str(path))


def _connect_postgres(target: Target) -> Warehouse:
    try:
        import psycopg
    except ImportError:
        raise ConfigError(
            "the postgres target needs the PostgreSQL extra: pip install 'cdpkit[postgres]'"
        ) from None
    s = target.settings
    dbname = s.get("dbname") or s.get("database")
    location = f"postgresql://{s.get('user')}@{s.get('host')}:{s.get('port', 5432)}/{dbname}"
    try:
        con = psycopg.connect(
            host=s.get("host"),
            port=int(s.get("port", 5432)),
            user=s.get("user"),
            password=s.get("password") or None,
            dbname=dbname,
            autocommit=True,
            connect_timeout=int(s.get("connect_timeout", 10)),
        )
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "unreachable"
        raise WarehouseError(f"cannot connect to {location}: {reason}") from None
    return Warehouse(target, con, location=location)
