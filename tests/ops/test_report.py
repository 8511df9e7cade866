"""`cdpkit report`: a self-contained HTML page; charts really render in headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cdpkit.cli.main import app
from cdpkit.ops.report import build_report
from cdpkit.ops.report.svg import PALETTE

from .conftest import OpsProject
from .helpers import duck, set_faults, write_marts
from .png import read_png

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]
FETCHING_ATTRIBUTES = {
    "src",
    "href",
    "srcset",
    "action",
    "formaction",
    "poster",
    "data",
    "background",
    "xlink:href",
    "ping",
    "manifest",
    "codebase",
    "longdesc",
    "usemap",
    "cite",
    "icon",
}
FETCHING_TAGS = {
    "script",
    "link",
    "iframe",
    "frame",
    "object",
    "embed",
    "base",
    "img",
    "audio",
    "video",
    "source",
    "track",
    "image",
    "use",
    "portal",
    "applet",
}


class ReferenceFinder(HTMLParser):
    """Everything in a page that would make a browser fetch something."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in FETCHING_TAGS:
            self.found.append(f"<{tag}>")
        self._in_style = tag == "style"
        for name, value in attrs:
            value = value or ""
            if name in FETCHING_ATTRIBUTES and value and not value.startswith("#"):
                self.found.append(f"{name}={value}")
            if name == "style":
                self._css(value)
            if name == "http-equiv" and value.lower() == "refresh":
                self.found.append("meta refresh")
            if re.search(r"(?i)\b(https?|ftp|wss?):|^//", value):
                self.found.append(f"{name}={value}")

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self._css(data)

    def _css(self, css: str) -> None:
        if re.search(r"(?i)url\s*\(|@import|image-set\s*\(", css):
            self.found.append(f"css: {css[:80]}")


def external_references(html: str) -> list[str]:
    finder = ReferenceFinder()
    finder.feed(html)
    return finder.found


def test_the_reference_finder_catches_what_it_must() -> None:
    for page in [
        '<img src="https://example.com/x.png">',
        '<link rel="stylesheet" href="//cdn.example.com/a.css">',
        "<style>body{background:url(https://x/y.png)}</style>",
        "<style>@import 'https://fonts.example/x.css';</style>",
        '<div style="background-image: url(x.png)"></div>',
        '<svg><image href="https://x/y.svg"/></svg>',
        '<script src="app.js"></script>',
    ]:
        assert external_references(page), page
    assert external_references("<p>see https://example.com for more</p>") == []  # only text


@pytest.fixture
def history(ops: OpsProject, cli: CliRunner) -> OpsProject:
    """Identity marts with several identifier types and blocked links, and three sync runs."""
    args = ["--project-dir", str(ops.root), "run", "--no-build", "--all"]
    for customers, rejects in (
        (60, {}),
        (80, {"user62@example.com": "mailbox does not exist"}),
        (70, {}),
    ):
        write_marts(ops.warehouse, customers, big_every=2)
        set_faults(ops.sandbox, reject=rejects)
        assert cli.invoke(app, [*args, "--allow-large-removals"]).exit_code in (0, 3)
    con = duck(ops.warehouse)
    try:
        con.execute(
            "insert into customer_identifiers select customer_id, 'phone',"
            " '+3361234' || customer_id, first_seen_at, last_seen_at from customers"
            " where customer_id < 'c00040'"
        )
        con.execute(
            "insert into customer_identifiers select customer_id, 'device_id',"
            " 'dev-' || customer_id || '-' || k, first_seen_at, last_seen_at"
            " from customers, range(3) t(k)"
            " where customer_id < 'c00012'"
        )
        con.execute(
            "create table identity_blocked_links as select * from (values"
            " ('identifier', 'junk_value', 3), ('link', 'overlinked_identifier', 12),"
            " ('link', 'per_customer_limit', 2)) t(block_type, reason, n), range(20) r(i)"
            " where r.i < t.n"
        )
    finally:
        con.close()
    return ops


def test_report_sections_show_identity_audiences_and_syncs(
    cli: CliRunner, history: OpsProject, tmp_path: Path
) -> None:
    out = tmp_path / "site" / "status.html"
    result = cli.invoke(app, ["--project-dir", str(history.root), "report", "--out", str(out)])
    assert result.exit_code == 0
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert external_references(html) == []
    assert "<script" not in html.lower()
    text = re.sub(r"<[^>]+>", " ", html)
    assert re.search(r"\b70\s+customers\b", text)
    for label in ("email", "phone", "device_id", "junk_value", "overlinked_identifier"):
        assert label in html
    assert "big_spenders" in html and history.sync_id in html
    assert "mailbox does not exist" in html  # top rejection reasons
    assert html.count('class="mark"') > 20  # bars, points and lines were drawn


def test_untrusted_text_is_escaped(ops: OpsProject, cli: CliRunner) -> None:
    assert cli.invoke(app, ["--project-dir", str(ops.root), "run", "--no-build"]).exit_code == 0
    con = duck(ops.warehouse)
    try:
        con.execute(
            "update cdpkit.sync_runs set error = '<img src=x onerror=alert(1)> https://evil.example/'"
        )
    finally:
        con.close()
    html = build_report(ops.project)
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img" not in html
    assert external_references(html) == []


def test_report_on_an_empty_project_says_so(ops: OpsProject) -> None:
    ops.warehouse.unlink()
    html = build_report(ops.project)
    assert "Not built yet" in html and "No sync has run yet" in html
    assert external_references(html) == []


def screenshot(html: Path, png: Path, profile: Path) -> None:
    chromium = (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    assert chromium, "chromium is not installed (apt-get install -y chromium)"
    subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--window-size=1400,2600",
            f"--screenshot={png}",
            html.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


@pytest.mark.slow
def test_charts_render_in_headless_chromium(history: OpsProject, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(build_report(history.project))
    screenshot(page, tmp_path / "report.png", tmp_path / "profile")
    image = read_png(tmp_path / "report.png")
    assert (image.width, image.height) == (1400, 2600)

    def rgb(hex_colour: str) -> tuple[int, int, int]:
        return tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]

    counts = {c: image.count(rgb(c)) for c in PALETTE[:5]}
    # identifiers per type (blue) + first audience line; cluster sizes (purple); blocked (red);
    # the sync's throughput/rejection series (green is the 2nd series colour if any); reasons.
    assert counts[PALETTE[0]] > 3000, counts
    assert counts[PALETTE[3]] > 3000, counts
    assert counts[PALETTE[2]] > 1000, counts
    assert counts[PALETTE[4]] > 1000, counts
    # The same page without its charts has none of those pixels: they come from the SVG.
    bare = tmp_path / "bare.html"
    bare.write_text(re.sub(r"<svg.*?</svg>", "", page.read_text(), flags=re.S))
    screenshot(bare, tmp_path / "bare.png", tmp_path / "profile2")
    plain = read_png(tmp_path / "bare.png")
    assert all(plain.count(rgb(c)) == 0 for c in PALETTE[:5])
