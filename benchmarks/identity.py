"""Benchmark the identity build (staging -> identity -> marts) on DuckDB, with a scipy baseline.

    .venv/bin/python benchmarks/identity.py --customers 100000

1. Generates demo data for N people (cached in $TMPDIR/cdpkit-benchmarks, reused when present).
2. Loads it into the raw schema of a fresh DuckDB file in a scratch cdpkit project.
3. Runs `dbt run` of the whole project (staging, identity, marts) in a child process: wall time,
   per-model times, peak memory (max RSS of the child).
4. Baseline in the same run: scipy.sparse.csgraph.connected_components on the very edge list
   the connected-components model used (int_identity_edges_filtered), checked to give the
   same number of components; the ratio compares the model's time with scipy's.
Targets on the 2-core reference machine: 1M people in < 60 s; components step < 10x scipy.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlglot import exp  # noqa: E402

from cdpkit.scaffold import init_project  # noqa: E402

TABLES = ("events", "orders", "order_items", "crm_contacts", "email_events", "consents", "truth")
CC_MODEL = "int_identity_clusters_linked"
TARGET_SECONDS_1M = 60.0
TARGET_CC_RATIO = 10.0

_CHILD = """
import json, sys, time
from cdpkit.project import find_project
from cdpkit.dbt_runner import run_dbt
project = find_project(__import__('pathlib').Path(sys.argv[1]))
started = time.perf_counter()
result = run_dbt(project, 'run', ['--threads', sys.argv[2]])
wall = time.perf_counter() - started
print(json.dumps({
    'success': result.success, 'error': result.error, 'wall': wall,
    'nodes': [[n.unique_id, n.status, n.seconds, n.message] for n in result.nodes],
}))
"""


def data_dir(customers: int, seed: int, cache: Path) -> Path:
    """Generated demo data (parquet) for this size and seed, generated once and cached."""
    from cdpkit.demo_data import generate

    path = cache / f"demo-{customers}-seed{seed}"
    marker = path / ".complete"
    if marker.exists():
        print(f"data: reusing {path}")
        return path
    if path.exists():
        shutil.rmtree(path)
    started = time.perf_counter()
    summary = generate(customers, seed, path, "parquet")
    marker.write_text(json.dumps(summary.rows), encoding="utf-8")
    print(f"data: generated {customers:,} people in {time.perf_counter() - started:.1f}s -> {path}")
    return path


def load(db_path: Path, source: Path) -> dict[str, int]:
    """Copy every table of the demo directory into raw.<table> of the DuckDB file."""
    import duckdb

    con = duckdb.connect(str(db_path))
    counts: dict[str, int] = {}
    try:
        con.execute(
            exp.Create(this=exp.to_identifier("raw", quoted=True), kind="SCHEMA", exists=True).sql(
                "duckdb"
            )
        )
        for name in TABLES:
            parquet = source / f"{name}.parquet"
            csv = source / f"{name}.csv"
            reader = (
                exp.func("read_parquet", exp.convert(str(parquet)))
                if parquet.exists()
                else exp.func(
                    "read_csv",
                    exp.convert(str(csv)),
                    exp.PropertyEQ(this=exp.to_identifier("all_varchar"), expression=exp.true()),
                )
            )
            table = exp.table_(name, db="raw", quoted=True)
            con.execute(
                exp.Create(this=table, kind="TABLE", expression=exp.select("*").from_(reader)).sql(
                    "duckdb"
                )
            )
            row = con.execute(
                exp.select(exp.func("count", exp.Star())).from_(table).sql("duckdb")
            ).fetchone()
            counts[name] = int(row[0]) if row else 0
    finally:
        con.close()
    return counts


def run_build(project_root: Path, db_path: Path, threads: int) -> tuple[dict[str, object], float]:
    """`dbt run` in a child process; returns its report and the child's peak RSS in MB."""
    env = {**os.environ, "CDPKIT_WAREHOUSE": str(db_path), "CDPKIT_TARGET": "dev"}
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(project_root), str(threads)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_mb = usage.ru_maxrss / 1024
    if proc.returncode != 0:
        raise SystemExit(f"build process failed:\n{proc.stderr[-4000:]}")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    report["cpu"] = usage.ru_utime + usage.ru_stime
    if not report["success"]:
        failed = [n for n in report["nodes"] if n[1] != "success"]
        raise SystemExit(f"dbt run failed: {report['error']} {failed}")
    return report, peak_mb


def scipy_baseline(db_path: Path) -> dict[str, float]:
    """scipy connected_components on the edge list the components model used."""
    import duckdb
    import numpy as np
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    con = duckdb.connect(str(db_path), read_only=True)
    try:
        started = time.perf_counter()
        edges = con.execute(
            exp.select("node_a", "node_b")
            .from_(exp.table_("int_identity_edges_filtered", db="main", quoted=True))
            .sql("duckdb")
        ).fetchnumpy()
        nodes = con.execute(
            exp.select("node_id").from_(exp.table_(CC_MODEL, db="main", quoted=True)).sql("duckdb")
        ).fetchnumpy()["node_id"]
        expected = con.execute(
            exp.select(exp.func("count", exp.Distinct(expressions=[exp.column("component_id")])))
            .from_(exp.table_(CC_MODEL, db="main", quoted=True))
            .sql("duckdb")
        ).fetchone()
        fetch_s = time.perf_counter() - started
    finally:
        con.close()
    started = time.perf_counter()
    # Integer ids 0..n-1 over the linkable nodes, as scipy needs (the warehouse ids have gaps).
    order = np.sort(nodes)
    a = np.searchsorted(order, edges["node_a"])
    b = np.searchsorted(order, edges["node_b"])
    n = len(order)
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n)).tocsr()
    encode_s = time.perf_counter() - started
    started = time.perf_counter()
    count, _ = connected_components(graph, directed=False)
    cc_s = time.perf_counter() - started
    if expected is None or int(expected[0]) != int(count):
        raise SystemExit(f"component counts differ: warehouse {expected}, scipy {count}")
    return {
        "fetch_s": fetch_s,
        "encode_s": encode_s,
        "cc_s": cc_s,
        "components": float(count),
        "edges": float(len(a)),
        "nodes": float(n),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "cdpkit-benchmarks"
    )
    parser.add_argument("--data-dir", type=Path, default=None, help="use this demo-data directory")
    parser.add_argument(
        "--work-dir", type=Path, default=None, help="scratch project (default: cache)"
    )
    parser.add_argument(
        "--threads", type=int, default=2, help="dbt threads (models run in parallel)"
    )
    args = parser.parse_args(argv)

    source = args.data_dir or data_dir(args.customers, args.seed, args.cache)
    work = args.work_dir or (args.cache / f"project-{args.customers}")
    if work.exists():
        shutil.rmtree(work)
    init_project(work)
    db_path = work / "warehouse.duckdb"
    started = time.perf_counter()
    counts = load(db_path, source)
    print(
        f"load: {time.perf_counter() - started:.1f}s  "
        + ", ".join(f"{k} {v:,}" for k, v in counts.items())
    )

    load_before = os.getloadavg()[0]
    report, peak_mb = run_build(work, db_path, args.threads)
    nodes = report["nodes"]
    assert isinstance(nodes, list)
    wall = float(report["wall"])  # type: ignore[arg-type]
    cpu = float(report["cpu"])  # type: ignore[arg-type]
    print(
        f"\nidentity build (dbt run, {len(nodes)} models): {wall:.1f}s wall, "
        f"{cpu:.1f}s CPU, peak RSS {peak_mb:,.0f} MB (load average before/after: "
        f"{load_before:.1f}/{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    for unique_id, _status, seconds, _message in sorted(nodes, key=lambda n: -n[2])[:12]:
        print(f"  {seconds:7.2f}s  {unique_id.split('.')[-1]}")
    cc_s = next(n[2] for n in nodes if n[0].endswith("." + CC_MODEL))

    base = scipy_baseline(db_path)
    ratio = cc_s / base["cc_s"] if base["cc_s"] else float("inf")
    print(
        f"\nconnected components on {int(base['edges']):,} edges / {int(base['nodes']):,} nodes "
        f"({int(base['components']):,} components, identical count in both):"
    )
    print(f"  warehouse model {CC_MODEL}: {cc_s:.2f}s (incl. per-customer limit splits)")
    print(
        f"  scipy connected_components: {base['cc_s']:.3f}s "
        f"(+ {base['encode_s']:.2f}s to encode ids, + {base['fetch_s']:.2f}s to fetch edges)"
    )
    with_io = base["cc_s"] + base["encode_s"] + base["fetch_s"]
    print(
        f"  ratio warehouse / scipy: {ratio:.1f}x (target < {TARGET_CC_RATIO:.0f}x); "
        f"vs scipy incl. fetch + encode: {cc_s / with_io:.1f}x"
    )
    per_million = wall / args.customers * 1_000_000
    print(
        f"\nscaled to 1M people: {per_million:.1f}s wall "
        f"(target < {TARGET_SECONDS_1M:.0f}s; a linear estimate unless N = 1M)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
