"""A small cdpkit project for the operations tests: fixture marts, one audience, a webhook."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from pathlib import Path
from typing import Any

import duckdb
import requests

from cdpkit.sandbox.server import Sandbox

HOOK_SECRET_ENV = "OPS_HOOK_SECRET"
HOOK_SECRET = "ops-test-hook-secret-7f3a9c"
AUDIENCE = """\
name: big_spenders
description: Customers who spent more than 100
include: {trait: total_revenue, gt: 100}
fields: [email, first_name, total_revenue]
"""


def reset_project_files(root: Path) -> None:
    """Replace the scaffolded audiences and destinations with this suite's own."""
    for name in ("audiences", "destinations"):
        shutil.rmtree(root / name, ignore_errors=True)
        (root / name).mkdir()
    (root / "audiences" / "big_spenders.yml").write_text(AUDIENCE, encoding="utf-8")


def write_destination(
    root: Path,
    sandbox_url: str,
    *,
    name: str = "hook",
    hook: str = "ops",
    cron: str | None = "0 * * * *",
    timezone: str | None = None,
    mode: str = "mirror",
    batch_size: int = 10,
    extra_sync: str = "",
    enabled: bool = True,
) -> str:
    """destinations/<name>.yml: a webhook (the sandbox) syncing big_spenders; the sync id."""
    schedule = ""
    if cron is not None:
        schedule = (
            f'    schedule: {{cron: "{cron}"'
            + (f", timezone: {timezone}" if timezone else "")
            + "}\n"
        )
    text = (
        "type: webhook\n"
        f"base_url: {sandbox_url}\n"
        f"path: /webhook/{hook}\n"
        f"signing_secret: ${{{HOOK_SECRET_ENV}}}\n"
        f"batch_size: {batch_size}\n"
        "concurrency: 1\n"
        "rate_limit: {requests_per_second: 1000, burst: 100}\n"
        "retry: {max_attempts: 3, base_delay_s: 0.05, max_delay_s: 0.2}\n"
        "syncs:\n"
        "  - audience: big_spenders\n"
        f"    mode: {mode}\n"
        "    identifier: email\n"
        "    mapping: {email: email, first_name: first_name, ltv: total_revenue}\n"
        f"{schedule}"
        f"    enabled: {'true' if enabled else 'false'}\n"
        f"{extra_sync}"
    )
    (root / "destinations" / f"{name}.yml").write_text(text, encoding="utf-8")
    return f"{name}.big_spenders"


def duck(path: Path, *, read_only: bool = False, timeout: float = 30.0) -> Any:
    """A DuckDB connection, waiting while another process (a scheduler) holds the file."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def write_marts(path: Path, customers: int, *, big_every: int = 1, start: int = 1) -> None:
    """Contract marts with `customers` people; every `big_every`-th one spent more than 100."""
    con = duck(path)
    try:
        con.execute("drop table if exists customers")
        con.execute(
            f"""
            create table customers as
            select 'c' || lpad(i::varchar, 5, '0') as customer_id,
                   'user' || i || '@example.com' as email, null::varchar as phone,
                   'Name' || i as first_name, 'Doe' as last_name, 'Paris' as city,
                   'FR' as country, timestamp '2026-01-01' as first_seen_at,
                   timestamp '2026-01-01' as last_seen_at, false as is_anonymous,
                   'customer' as lifecycle_stage, 1 as order_count,
                   (case when i % {big_every} = 0 then 150 + i else 50 end)::decimal(18,2)
                       as total_revenue,
                   timestamp '2026-01-01' as first_order_at,
                   timestamp '2026-01-01' as last_order_at,
                   true as consent_marketing, true as consent_advertising
            from range({start}, {start + customers}) t(i)
            """
        )
        con.execute("drop table if exists customer_identifiers")
        con.execute(
            "create table customer_identifiers as select customer_id, 'email' as identifier_type,"
            " email as identifier_value, first_seen_at, last_seen_at from customers"
        )
        con.execute(
            "create table if not exists customer_events (event_id varchar, customer_id varchar,"
            " event_type varchar, event_name varchar, occurred_at timestamp, source varchar,"
            " page_path varchar, properties varchar)"
        )
        con.execute(
            "create table if not exists customer_orders (order_id varchar, customer_id varchar,"
            " channel varchar, total_amount decimal(18,2), status varchar, ordered_at timestamp)"
        )
    finally:
        con.close()


def audience_emails(path: Path) -> dict[str, dict[str, Any]]:
    """What the destination must hold for big_spenders: email -> fields (read straight)."""
    con = duck(path, read_only=True)
    try:
        rows = con.execute(
            "select email, first_name, total_revenue from customers where total_revenue > 100"
        ).fetchall()
    finally:
        con.close()
    return {
        r[0]: {
            "email": r[0],
            "first_name": r[1],
            "ltv": int(r[2]) if r[2] == int(r[2]) else float(r[2]),
        }
        for r in rows
    }


def hook_records(sandbox: Sandbox, hook: str = "ops") -> dict[str, dict[str, Any]]:
    url = f"{sandbox.control_url('webhook')}/records"
    response = requests.get(url, params={"hook": hook}, timeout=10)
    response.raise_for_status()
    return response.json()


def hook_stats(sandbox: Sandbox, hook: str = "ops") -> dict[str, int]:
    response = requests.get(f"{sandbox.control_url('webhook')}/stats", timeout=10)
    response.raise_for_status()
    return response.json()["hooks"].get(hook, {})


def set_faults(sandbox: Sandbox, **faults: Any) -> None:
    requests.post(
        f"{sandbox.control_url('webhook')}/faults", json=faults, timeout=10
    ).raise_for_status()


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def copy_marts_to(duck_path: Path, project: Any) -> None:
    """The fixture marts of a DuckDB file, copied into the project's (PostgreSQL) schema."""
    from cdpkit.warehouse import connect

    con = duckdb.connect(str(duck_path), read_only=True)
    try:
        tables = {
            name: (
                [d[0] for d in con.execute(f"select * from {name} limit 0").description],
                con.execute(f"select * from {name}").fetchall(),
            )
            for name in ("customers", "customer_identifiers", "customer_events", "customer_orders")
        }
        types = {
            name: dict(
                con.execute(
                    "select column_name, data_type from information_schema.columns"
                    f" where table_name = '{name}'"
                ).fetchall()
            )
            for name in tables
        }
    finally:
        con.close()
    with connect(project) as wh:
        schema = wh.schema
        wh.execute(f'create schema if not exists "{schema}"')
        for name, (columns, rows) in tables.items():
            wh.execute(f'drop table if exists "{schema}"."{name}"')
            cols = ", ".join(f'"{c}" {_pg_type(types[name][c])}' for c in columns)
            wh.execute(f'create table "{schema}"."{name}" ({cols})')
            marks = ", ".join(["%s"] * len(columns))
            wh.executemany(f'insert into "{schema}"."{name}" values ({marks})', rows)


def _pg_type(duck: str) -> str:
    return {"VARCHAR": "text", "INTEGER": "integer", "BOOLEAN": "boolean"}.get(duck, duck)


class CaptureServer:
    """A local HTTP endpoint that records every POSTed JSON body (an alert webhook)."""

    def __init__(self, status: int = 200) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.bodies: list[Any] = []
        self.status = status
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                capture.bodies.append(json.loads(raw))
                capture.raw.append(raw.decode())
                self.send_response(capture.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.raw: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/services/T000/B000/secretpart"

    def __enter__(self) -> CaptureServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
