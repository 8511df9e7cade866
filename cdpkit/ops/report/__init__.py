"""`cdpkit report`: a self-contained static HTML status page.

path = write_report(project, Path("cdpkit-report.html"))
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cdpkit.ops.report.collect import ReportData, collect
from cdpkit.ops.report.page import render_page
from cdpkit.project import Project

__all__ = ["ReportData", "build_report", "collect", "render_page", "write_report"]


def build_report(project: Project, now: dt.datetime | None = None) -> str:
    return render_page(collect(project, now))


def write_report(project: Project, out: Path, now: dt.datetime | None = None) -> Path:
    """Write the page atomically (a reader never sees half a file)."""
    html = build_report(project, now)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    partial.write_text(html, encoding="utf-8")
    partial.replace(out)
    return out
