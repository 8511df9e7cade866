"""`python -m cdpkit.sandbox.demo`: sync the project's destinations to an in-process sandbox and
print what arrived (for `make demo`, after `cdpkit build --demo`).

The sandbox listens on a free loopback port; `CDPKIT_SANDBOX_URL` points the demo destination
files at it and the webhook fake's secret is provided, so no setup is needed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import requests

from cdpkit.errors import CdpkitError
from cdpkit.project import find_project
from cdpkit.sandbox.server import Sandbox
from cdpkit.sandbox.webhook import DEFAULT_SECRET, SECRET_ENV


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--project-dir", type=Path, default=None)
    parser.add_argument("--target", default=None)
    args = parser.parse_args(argv)
    from cdpkit.sync.api import run_syncs
    from cdpkit.sync.jobs import exit_code

    os.environ.setdefault(SECRET_ENV, DEFAULT_SECRET)
    with Sandbox(port=0) as sandbox:
        os.environ["CDPKIT_SANDBOX_URL"] = sandbox.base_url
        try:
            outcomes = run_syncs(find_project(args.project_dir, args.target))
        except CdpkitError as exc:
            print(f"Error: {exc}", file=sys.stderr)
            return 1
        for o in outcomes:
            c = o.confirmed
            print(
                f"{o.sync_id:<40} {o.status:<8} +{c['add']} ~{c['update']} -{c['remove']}"
                + (f"  ({o.error})" if o.error else "")
            )
        stats = requests.get(f"{sandbox.control_url('webhook')}/stats", timeout=10).json()
        for hook, counts in sorted(stats["hooks"].items()):
            held = requests.get(
                f"{sandbox.control_url('webhook')}/records", params={"hook": hook}, timeout=10
            ).json()
            print(
                f"webhook fake /{hook}: {counts.get('batches', 0)} batches, "
                f"{counts.get('records_received', 0)} records received, {len(held)} held now"
            )
    print("(the sandbox starts empty each time; what earlier runs confirmed is not sent again)")
    return exit_code(outcomes)


if __name__ == "__main__":
    sys.exit(main())
