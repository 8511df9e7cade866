"""The status page as one self-contained HTML document: inline CSS and SVG, no scripts, no
external references (fonts, images, styles) of any kind, so it opens offline and in mail."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from html import escape

from cdpkit.ops.report import svg
from cdpkit.ops.report.collect import ReportData, RunPoint

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#111827;
background:#f3f4f6}
header{background:#111827;color:#f9fafb;padding:18px 28px}
header h1{margin:0;font-size:20px}header p{margin:4px 0 0;color:#d1d5db}
main{padding:20px 28px;max-width:1400px}
section{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:16px 20px;
margin-bottom:18px}
h2{font-size:17px;margin:0 0 12px}h3{font-size:14px;margin:14px 0 6px;color:#374151}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin-bottom:8px}
.card{border:1px solid #e5e7eb;border-radius:6px;padding:8px 14px;min-width:120px}
.card b{display:block;font-size:20px}.card span{color:#6b7280;font-size:12px}
.grid{display:flex;flex-wrap:wrap;gap:18px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #f3f4f6;vertical-align:top}
th{color:#6b7280;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
.status{padding:1px 7px;border-radius:9px;font-size:12px;background:#e5e7eb}
.s-success{background:#dcfce7;color:#166534}.s-partial{background:#fef9c3;color:#854d0e}
.s-failed,.s-blocked,.s-interrupted{background:#fee2e2;color:#991b1b}
.s-alive{background:#dcfce7;color:#166534}.s-dead{background:#fee2e2;color:#991b1b}
.note{color:#6b7280}.err{color:#991b1b;font-size:12px}
"""


def render_page(data: ReportData) -> str:
    when = data.generated_at.astimezone(dt.UTC)
    body = [
        "<header>",
        f"<h1>cdpkit status — {escape(data.project)}</h1>",
        f"<p>target {escape(data.target)} · generated {when:%Y-%m-%d %H:%M} UTC</p>",
        "</header><main>",
        _overview(data),
        _identity(data),
        _audiences(data),
        _syncs(data),
        "</main>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>cdpkit status — {escape(data.project)}</title>"
        f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>\n"
    )


def _card(value: str, label: str) -> str:
    return f'<div class="card"><b>{escape(value)}</b><span>{escape(label)}</span></div>'


def _overview(data: ReportData) -> str:
    alive = [b for b, life in data.schedulers if life.alive]
    last = data.last_runs()
    failing = [r for r in last if r.status in ("failed", "blocked", "interrupted")]
    cards = [
        _card(f"{data.identity.customers:,}" if data.identity else "—", "customers"),
        _card(str(len(data.audiences)), "audiences measured"),
        _card(str(len(last)), "syncs with runs"),
        _card(str(len(failing)), "syncs failing now"),
        _card("alive" if alive else "not running", "scheduler"),
    ]
    parts = ['<section id="overview"><h2>Overview</h2><div class="cards">', *cards, "</div>"]
    if data.schedulers:
        parts.append("<table><tr><th>scheduler</th><th>state</th><th>detail</th></tr>")
        for beat, life in data.schedulers[:5]:
            badge = "s-alive" if life.alive else "s-dead"
            parts.append(
                f"<tr><td>{escape(beat.host)} pid {beat.pid}</td>"
                f'<td><span class="status {badge}">{"alive" if life.alive else "down"}</span></td>'
                f"<td>{escape(beat.activity or beat.state)} · {escape(life.reason)}</td></tr>"
            )
        parts.append("</table>")
    for note in data.notes:
        parts.append(f'<p class="note">{escape(note)}</p>')
    parts.append("</section>")
    return "".join(parts)


def _identity(data: ReportData) -> str:
    stats = data.identity
    parts = ['<section id="identity"><h2>Identity</h2>']
    if stats is None:
        parts.append('<p class="note">Not built yet.</p></section>')
        return "".join(parts)
    total_ids = sum(n for _, n in stats.identifiers)
    blocked_total = sum(n for _, n in stats.blocked) if stats.blocked is not None else None
    parts += [
        '<div class="cards">',
        _card(f"{stats.customers:,}", "customers"),
        _card(f"{stats.anonymous:,}", "anonymous"),
        _card(f"{total_ids:,}", "identifiers"),
        _card(
            f"{blocked_total:,}" if blocked_total is not None else "—", "blocked links and values"
        ),
        '</div><div class="grid"><div>',
        "<h3>Identifiers per type</h3>",
        svg.hbar_chart(stats.identifiers, label="Identifiers per type", color=svg.PALETTE[0]),
        "</div><div><h3>Customers by number of identifiers (cluster size)</h3>",
        svg.column_chart(
            stats.cluster_sizes, label="Cluster size distribution", color=svg.PALETTE[3]
        ),
        "</div><div><h3>Blocked identifiers and links</h3>",
        svg.hbar_chart(
            stats.blocked or [],
            label="Blocked by reason",
            color=svg.PALETTE[2],
            empty_message="Nothing blocked"
            if stats.blocked is not None
            else "Audit model not built",
        ),
        "</div></div></section>",
    ]
    return "".join(parts)


def _audiences(data: ReportData) -> str:
    series = [(a.name, [(t, float(v)) for t, v in a.points]) for a in data.audiences]
    parts = [
        '<section id="audiences"><h2>Audiences</h2>',
        "<h3>Size over time (measured at each sync run)</h3>",
        svg.line_chart(
            series, label="Audience size over time", width=900, empty_message="No sync has run yet"
        ),
    ]
    if data.audiences:
        parts.append('<table><tr><th>audience</th><th class="num">latest size</th>')
        parts.append('<th class="num">change since first</th><th>measured</th></tr>')
        for a in data.audiences:
            first, last = a.points[0], a.points[-1]
            delta = last[1] - first[1]
            parts.append(
                f'<tr><td>{escape(a.name)}</td><td class="num">{last[1]:,}</td>'
                f'<td class="num">{delta:+,}</td><td>{last[0]:%Y-%m-%d %H:%M} UTC</td></tr>'
            )
        parts.append("</table>")
    parts.append("</section>")
    return "".join(parts)


def _syncs(data: ReportData) -> str:
    parts = ['<section id="syncs"><h2>Syncs</h2>']
    last = data.last_runs()
    if last:
        parts.append(
            "<table><tr><th>sync</th><th>last run</th><th>status</th>"
            '<th class="num">confirmed</th><th class="num">rejected</th>'
            '<th class="num">records/s</th><th>run</th></tr>'
        )
        for run in last:
            parts.append(_run_row(run))
        parts.append("</table>")
    else:
        parts.append('<p class="note">No sync has run yet.</p>')
    throughput = _series(data.runs, lambda r: r.records_per_s)
    rejected = _series(data.runs, lambda r: float(r.rejected))
    parts += [
        '<div class="grid"><div><h3>Throughput per run (records/s)</h3>',
        svg.line_chart(
            throughput, label="Throughput per run", markers_only=True, empty_message="No runs yet"
        ),
        "</div><div><h3>Rejected records per run</h3>",
        svg.line_chart(rejected, label="Rejections per run", empty_message="No runs yet"),
        "</div></div><h3>Top rejection reasons</h3>",
        svg.hbar_chart(
            data.rejection_reasons,
            label="Top rejection reasons",
            color=svg.PALETTE[4],
            width=900,
            empty_message="No rejected records",
        ),
        "</section>",
    ]
    return "".join(parts)


def _run_row(run: RunPoint) -> str:
    rate = run.records_per_s
    error = f'<div class="err">{escape(run.error.splitlines()[0][:300])}</div>' if run.error else ""
    return (
        f"<tr><td>{escape(run.sync_id)}{error}</td><td>{run.started_at:%Y-%m-%d %H:%M} UTC</td>"
        f'<td><span class="status s-{escape(run.status)}">{escape(run.status)}</span></td>'
        f'<td class="num">{run.confirmed:,}</td><td class="num">{run.rejected:,}</td>'
        f'<td class="num">{f"{rate:,.0f}" if rate is not None else "—"}</td>'
        f"<td>{escape(run.run_id)}</td></tr>"
    )


def _series(
    runs: Sequence[RunPoint], value: Callable[[RunPoint], float | None]
) -> list[tuple[str, list[tuple[dt.datetime, float]]]]:
    by_sync: dict[str, list[tuple[dt.datetime, float]]] = {}
    for run in runs:
        v = value(run)
        if v is not None:
            by_sync.setdefault(run.sync_id, []).append((run.started_at, float(v)))
    return sorted(by_sync.items())
