"""Small self-made SVG charts for the status page: no JavaScript, no external files.

Each function returns an `<svg>` element (inline in HTML5, so no namespace URL is needed)
with a `<title>` per mark for hover details. Every label is escaped.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from html import escape

PALETTE = ("#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777")
AXIS = "#6b7280"
GRID = "#e5e7eb"
FONT = 'font-family="system-ui, sans-serif" font-size="11"'


def nice_max(value: float) -> float:
    """The smallest 1/2/5 x 10^k at or above `value` (axis top)."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        top = step * 10**exponent
        if top >= value:
            return float(top)
    return float(10 ** (exponent + 1))


def axis_top(value: float, ticks: int = 4) -> float:
    """An axis maximum that splits into `ticks` round steps (30 -> 40: 0, 10, 20, 30, 40)."""
    return nice_max(value / ticks) * ticks


def fmt_number(value: float) -> str:
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:.1f}M".replace(".0M", "M")
    if abs(value) >= 10_000:
        return f"{value / 1000:.0f}k"
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.1f}"


def empty(message: str, width: int = 640, height: int = 80) -> str:
    return (
        f'<svg class="chart empty" width="{width}" height="{height}" viewBox="0 0 {width} {height}"'
        f' role="img" aria-label="{escape(message)}"><rect x="0.5" y="0.5" width="{width - 1}"'
        f' height="{height - 1}" fill="#f9fafb" stroke="{GRID}"/>'
        + _text(width / 2, height / 2 + 4, message, anchor="middle")
        + "</svg>"
    )


def hbar_chart(
    items: Sequence[tuple[str, float]],
    *,
    label: str,
    color: str = PALETTE[0],
    width: int = 640,
    empty_message: str = "No data yet",
) -> str:
    """Horizontal bars, one per (category, value), largest first as given."""
    if not items:
        return empty(empty_message, width)
    row, left, right, top = 24, 200, 70, 8
    height = top + row * len(items) + 8
    top_value = max(v for _, v in items) or 1.0
    span = width - left - right
    parts = [
        f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}"'
        f' role="img" aria-label="{escape(label)}">'
    ]
    for i, (name, value) in enumerate(items):
        y = top + i * row
        w = max(1.0, span * value / top_value) if value > 0 else 0.0
        parts.append(
            _text(left - 8, y + 15, _clip(name, 30), anchor="end", fill="#111827")
            + f'<rect class="mark" x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 8}"'
            + f' fill="{color}">{_tip(name, value)}</rect>'
            + _text(left + w + 6, y + 15, fmt_number(value))
        )
    parts.append("</svg>")
    return "".join(parts)


def column_chart(
    items: Sequence[tuple[str, float]],
    *,
    label: str,
    color: str = PALETTE[0],
    width: int = 640,
    height: int = 240,
    empty_message: str = "No data yet",
) -> str:
    """Vertical columns over categories (a histogram of buckets)."""
    if not items:
        return empty(empty_message, width)
    left, right, top, bottom = 56, 12, 12, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = axis_top(max(v for _, v in items))
    parts = _frame(width, height, label) + _y_axis(left, top, plot_w, plot_h, top_value)
    slot = plot_w / len(items)
    bar = max(2.0, slot * 0.7)
    for i, (name, value) in enumerate(items):
        h = plot_h * value / top_value
        x = left + i * slot + (slot - bar) / 2
        parts.append(
            f'<rect class="mark" x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}"'
            f' height="{h:.1f}" fill="{color}">{_tip(name, value)}</rect>'
            + _text(x + bar / 2, height - bottom + 16, _clip(name, 8), anchor="middle")
        )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    series: Sequence[tuple[str, Sequence[tuple[dt.datetime, float]]]],
    *,
    label: str,
    width: int = 640,
    height: int = 260,
    markers_only: bool = False,
    empty_message: str = "No data yet",
) -> str:
    """One line (or dots with `markers_only`) per named series over time, with a legend."""
    series = [(name, sorted(points)) for name, points in series if points]
    if not series:
        return empty(empty_message, width)
    legend_rows = math.ceil(len(series) / 3)
    left, right, top, bottom = 56, 16, 12, 34 + 18 * legend_rows
    plot_w, plot_h = width - left - right, height - top - bottom
    times = [t for _, pts in series for t, _ in pts]
    t0, t1 = min(times), max(times)
    if t1 == t0:
        t0, t1 = t0 - dt.timedelta(hours=1), t1 + dt.timedelta(hours=1)
    span = (t1 - t0).total_seconds()
    top_value = axis_top(max(v for _, pts in series for _, v in pts))
    parts = _frame(width, height, label) + _y_axis(left, top, plot_w, plot_h, top_value)
    for i in range(5):  # time ticks
        t = t0 + dt.timedelta(seconds=span * i / 4)
        x = left + plot_w * i / 4
        anchor = "start" if i == 0 else "end" if i == 4 else "middle"
        parts.append(_text(x, top + plot_h + 16, _time_label(t, span), anchor=anchor))

    def xy(t: dt.datetime, v: float) -> tuple[float, float]:
        x = left + plot_w * (t - t0).total_seconds() / span
        return x, top + plot_h - plot_h * v / top_value

    for n, (name, points) in enumerate(series):
        color = PALETTE[n % len(PALETTE)]
        coords = [xy(t, v) for t, v in points]
        if not markers_only and len(coords) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
            parts.append(
                f'<polyline class="mark" points="{path}" fill="none" stroke="{color}"'
                f' stroke-width="2.5" stroke-linejoin="round"/>'
            )
        for (x, y), (t, v) in zip(coords, points, strict=True):
            parts.append(
                f'<circle class="mark" cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{color}">'
                f"<title>{escape(name)} {t:%Y-%m-%d %H:%M} UTC: {fmt_number(v)}</title></circle>"
            )
        lx = left + (n % 3) * (plot_w / 3)
        ly = height - bottom + 34 + 18 * (n // 3)
        parts.append(
            f'<rect x="{lx:.1f}" y="{ly - 9}" width="12" height="12" fill="{color}"/>'
            + _text(lx + 18, ly + 1, _clip(name, 28), fill="#111827")
        )
    parts.append("</svg>")
    return "".join(parts)


def _text(x: float, y: float, content: str, *, anchor: str = "start", fill: str = AXIS) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}" {FONT}>'
        f"{escape(content)}</text>"
    )


def _tip(name: str, value: float) -> str:
    return f"<title>{escape(name)}: {fmt_number(value)}</title>"


def _frame(width: int, height: int, label: str) -> list[str]:
    return [
        f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}"'
        f' role="img" aria-label="{escape(label)}">'
    ]


def _y_axis(left: float, top: float, plot_w: float, plot_h: float, top_value: float) -> list[str]:
    parts = []
    for i in range(5):
        value = top_value * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="{GRID}"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{AXIS}" {FONT}>'
            f"{fmt_number(value)}</text>"
        )
    parts.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}"'
        f' stroke="{AXIS}"/>'
    )
    return parts


def _time_label(t: dt.datetime, span_s: float) -> str:
    if span_s <= 3600:
        return f"{t:%H:%M:%S}"
    if span_s <= 2 * 86400:
        return f"{t:%m-%d %H:%M}"
    return f"{t:%Y-%m-%d}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
