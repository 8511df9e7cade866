"""`cdpkit schedule crontab`: the same schedules as crontab lines, for users of system cron.

Each line runs `cdpkit run --sync <id>` (build first when the sync says `build_before`), under
`flock -n -E 0` so a run still going makes the next one skip quietly instead of overlapping,
with stdout and stderr appended to `logs/cdpkit-<sync>.log` in the project.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from cdpkit.ops.schedules import SyncEntry

HEADER = """\
# cdpkit schedules for {root} (target {target}), from `cdpkit schedule crontab`.
# Install next to your existing entries:  (crontab -l; cdpkit schedule crontab) | crontab -
# Each job holds a lock (flock -n): while a run is still going, the next one is skipped.
# Output is appended to logs/cdpkit-<sync>.log (rotate it with logrotate).
# cron starts jobs with an almost empty environment: put the secrets your destinations
# reference (${{...}}) in an env file and pass --env-file, or set them above the jobs.
# CRON_TZ is honoured by cronie and busybox crond; Debian/Ubuntu cron ignores it and uses
# the system time zone, so there a non-UTC schedule needs `cdpkit schedule run` instead.
SHELL=/bin/sh
"""


def cdpkit_executable() -> str:
    """The `cdpkit` next to this Python (a venv's bin), else the one on PATH."""
    beside = Path(sys.executable).with_name("cdpkit")
    if beside.exists():
        return str(beside)
    return shutil.which("cdpkit") or "cdpkit"


def render_crontab(
    entries: Sequence[SyncEntry],
    *,
    root: Path,
    target: str,
    executable: str | None = None,
    env_file: Path | None = None,
) -> str:
    """Crontab text: one line per scheduled sync, grouped by time zone (disabled: commented)."""
    exe = executable or cdpkit_executable()
    lines = [HEADER.format(root=root, target=target)]
    by_zone: dict[str, list[SyncEntry]] = {}
    for entry in entries:
        if entry.schedule is not None:
            by_zone.setdefault(entry.schedule.timezone, []).append(entry)
    if not by_zone:
        lines.append("# (no sync has a schedule; add `schedule:` to a sync in destinations/*.yml)")
    for zone in sorted(by_zone, key=lambda z: (z != "UTC", z)):
        lines.append(f"CRON_TZ={zone}")
        for entry in by_zone[zone]:
            line = cron_line(entry, root=root, target=target, executable=exe, env_file=env_file)
            lines.append(line if entry.enabled else f"# disabled: {line}")
    return "\n".join(lines) + "\n"


def cron_line(
    entry: SyncEntry,
    *,
    root: Path,
    target: str,
    executable: str,
    env_file: Path | None = None,
) -> str:
    assert entry.schedule is not None
    name = entry.sync_id
    lock = f"logs/cdpkit-{name}.lock"
    logfile = f"logs/cdpkit-{name}.log"
    command = [executable, "--project-dir", str(root), "--target", target, "run", "--sync", name]
    if not entry.build_before:
        command.append("--no-build")
    job = shlex.join(["flock", "-n", "-E", "0", lock, *command])
    prefix = f"cd {shlex.quote(str(root))} && mkdir -p logs && "
    if env_file is not None:
        prefix += f"set -a && . {shlex.quote(str(env_file))} && set +a && "
    # cron treats an unescaped % as a newline
    text = f"{entry.schedule.cron} {prefix}{job} >> {shlex.quote(logfile)} 2>&1"
    return text.replace("%", "\\%")
