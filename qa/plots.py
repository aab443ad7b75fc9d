"""Inline SVG plots drawn from data: the QA report needs no scripts, fonts or CDN and opens from disk.

Each function returns one ``<svg class="plot" data-plot=KIND>`` string; every
mark carries a ``<title>`` with its exact number, so hovering shows it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
)


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _fmt(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.3g}"


def _blue(share: float) -> str:
    """White (0) to dark blue (1)."""
    s = min(max(share, 0.0), 1.0)
    r, g, b = (int(255 + (c - 255) * s) for c in (8, 48, 107))
    return f"rgb({r},{g},{b})"


def heatmap(
    matrix: Sequence[Sequence[float]],
    rows: Sequence[str],
    columns: Sequence[str],
    title: str,
    *,
    row_axis: str = "",
    column_axis: str = "",
    cell: int = 34,
) -> str:
    """A labelled heat map; darker = more; counts written in the cells."""
    n_rows, n_cols = len(rows), len(columns)
    longest = max((len(str(c)[:14]) for c in columns), default=4)
    left, top = 110, 44 + int(longest * 4.5)
    width = max(left + n_cols * cell + int(longest * 5) + 10, 12 + int(len(title) * 8))
    height = top + n_rows * cell + 30
    peak = max((v for row in matrix for v in row), default=0) or 1
    parts = [
        f'<svg class="plot" data-plot="heatmap" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{_e(title)}">',
        f'<text x="4" y="16" font-size="13" font-weight="bold">{_e(title)}</text>',
    ]
    if column_axis:
        parts.append(f'<text x="{left}" y="34" font-size="11" fill="#555">{_e(column_axis)} →</text>')
    if row_axis:
        parts.append(f'<text x="4" y="{top - 6}" font-size="11" fill="#555">{_e(row_axis)} ↓</text>')
    for j, name in enumerate(columns):
        x = left + j * cell + cell / 2
        parts.append(
            f'<text x="{x - 3:.1f}" y="{top - 6}" font-size="10" text-anchor="start" '
            f'transform="rotate(-40 {x:.1f} {top - 6})">{_e(str(name)[:14])}</text>'
        )
    for i, name in enumerate(rows):
        y = top + i * cell + cell / 2 + 4
        parts.append(f'<text x="{left - 6}" y="{y:.1f}" font-size="10" text-anchor="end">{_e(str(name)[:16])}</text>')
        for j, value in enumerate(matrix[i]):
            share = value / peak
            x0, y0 = left + j * cell, top + i * cell
            ink = "#fff" if share > 0.55 else "#222"
            parts.append(
                f'<rect class="cell" data-value="{value:g}" x="{x0}" y="{y0}" width="{cell - 1}" height="{cell - 1}" fill="{_blue(share)}">'
                f"<title>{_e(rows[i])} × {_e(columns[j])}: {_fmt(value)}</title></rect>"
                f'<text x="{x0 + cell / 2:.1f}" y="{y0 + cell / 2 + 4:.1f}" font-size="10" text-anchor="middle" '
                f'fill="{ink}">{_fmt(value)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(labels: Sequence[str], values: Sequence[float], title: str, *, unit: str = "") -> str:
    """Horizontal bars, one per label, value at the end of each bar."""
    bar, gap, left, plot_w = 18, 6, 130, 320
    height = 30 + len(labels) * (bar + gap) + 10
    width = max(left + plot_w + 70, 12 + int(len(title) * 8))
    peak = max(values, default=0) or 1
    parts = [
        f'<svg class="plot" data-plot="bars" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_e(title)}">',
        f'<text x="4" y="16" font-size="13" font-weight="bold">{_e(title)}</text>',
    ]
    for i, (label, value) in enumerate(zip(labels, values)):
        y = 28 + i * (bar + gap)
        w = max(plot_w * value / peak, 0.5 if value else 0)
        parts.append(
            f'<text x="{left - 6}" y="{y + bar - 5}" font-size="11" text-anchor="end">{_e(str(label)[:18])}</text>'
            f'<rect class="bar" data-value="{value:g}" x="{left}" y="{y}" width="{w:.1f}" height="{bar}" fill="{PALETTE[i % len(PALETTE)]}">'
            f"<title>{_e(label)}: {_fmt(value)}{_e(unit)}</title></rect>"
            f'<text x="{left + w + 4:.1f}" y="{y + bar - 5}" font-size="11">{_fmt(value)}{_e(unit)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def stacked_shares(
    groups: Sequence[str], categories: Sequence[str], counts: Sequence[Sequence[float]], title: str
) -> str:
    """One 100% bar per group split by category, with a legend; n per group at the end."""
    bar, gap, left, plot_w = 18, 6, 130, 360
    legend_rows = (len(categories) + 4) // 5
    top = 28 + legend_rows * 16
    height = top + len(groups) * (bar + gap) + 10
    width = left + plot_w + 70
    parts = [
        f'<svg class="plot" data-plot="stacked" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{_e(title)}">',
        f'<text x="4" y="16" font-size="13" font-weight="bold">{_e(title)}</text>',
    ]
    for k, name in enumerate(categories):
        x, y = 4 + (k % 5) * 100, 22 + (k // 5) * 16
        parts.append(
            f'<rect x="{x}" y="{y}" width="10" height="10" fill="{PALETTE[k % len(PALETTE)]}"/>'
            f'<text x="{x + 14}" y="{y + 9}" font-size="10">{_e(str(name)[:14])}</text>'
        )
    for i, group in enumerate(groups):
        y = top + i * (bar + gap)
        total = sum(counts[i]) or 1
        x = float(left)
        parts.append(f'<text x="{left - 6}" y="{y + bar - 5}" font-size="11" text-anchor="end">{_e(str(group)[:18])}</text>')
        for k, value in enumerate(counts[i]):
            w = plot_w * value / total
            if w <= 0:
                continue
            parts.append(
                f'<rect class="bar" data-value="{value:g}" x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar}" '
                f'fill="{PALETTE[k % len(PALETTE)]}"><title>{_e(group)} · {_e(categories[k])}: '
                f"{_fmt(value)} ({100 * value / total:.1f}%)</title></rect>"
            )
            x += w
        parts.append(f'<text x="{left + plot_w + 4}" y="{y + bar - 5}" font-size="11">n={_fmt(total)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def line_chart(series: Mapping[str, Sequence[tuple[float, float]]], title: str, *, x_label: str, y_label: str) -> str:
    """Lines on a 0..1 y axis, one per series, points marked; for agreement over time windows."""
    left, top, plot_w, plot_h = 50, 40, 380, 180
    width, height = left + plot_w + 150, top + plot_h + 40
    xs = [x for points in series.values() for x, _ in points]
    x_min, x_max = (min(xs), max(xs)) if xs else (0, 1)
    x_span = (x_max - x_min) or 1

    def px(x: float) -> float:
        return left + plot_w * (x - x_min) / x_span

    def py(y: float) -> float:
        return top + plot_h * (1 - min(max(y, 0.0), 1.0))

    parts = [
        f'<svg class="plot" data-plot="lines" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_e(title)}">',
        f'<text x="4" y="16" font-size="13" font-weight="bold">{_e(title)}</text>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#999"/>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#999"/>',
        f'<text x="{left + plot_w / 2}" y="{height - 8}" font-size="11" text-anchor="middle">{_e(x_label)}</text>',
        f'<text x="12" y="{top + plot_h / 2}" font-size="11" transform="rotate(-90 12 {top + plot_h / 2})" '
        f'text-anchor="middle">{_e(y_label)}</text>',
    ]
    for tick in (0.0, 0.5, 1.0):
        parts.append(f'<text x="{left - 4}" y="{py(tick) + 4:.1f}" font-size="10" text-anchor="end">{tick:g}</text>')
    for k, (name, points) in enumerate(series.items()):
        colour = PALETTE[k % len(PALETTE)]
        if len(points) > 1:
            path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for x, y in points:
            parts.append(
                f'<circle class="point" data-value="{y:g}" cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5" fill="{colour}">'
                f"<title>{_e(name)} window {_fmt(x)}: {y:.3f}</title></circle>"
            )
        ly = top + 12 + k * 15
        parts.append(
            f'<rect x="{left + plot_w + 12}" y="{ly - 9}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{left + plot_w + 26}" y="{ly}" font-size="10">{_e(str(name)[:18])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
