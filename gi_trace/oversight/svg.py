"""Tiny server-side SVG charts (no JavaScript): share bars against a target, shares over the years.

Only presentation attributes are used (fill=, stroke=, font-size=), so the charts pass the
Content-Security-Policy (no style attributes) and print as they are in the annual report.
"""
from __future__ import annotations

from typing import Optional, Sequence

from markupsafe import Markup, escape

from gi_trace.formatting import percent

USER_COLOUR = "#c8102e"
OUTPUT_COLOUR = "#1b6e3a"
TARGET_COLOUR = "#8a5a00"
GRID_COLOUR = "#dadce0"
INK = "#1d1d1f"
FONT = 'font-family="PingFang SC, Noto Sans CJK SC, Microsoft YaHei, sans-serif"'


def _pct(value: Optional[float]) -> str:
    return percent(value)  # truncated, never rounded up to the target


def _opening(width: int, height: int, title: str, *, titled: bool = True) -> list[str]:
    """The chart's <svg> tag, named for screen readers, and (titled) its <title>, the tooltip of the whole."""
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" '
             f'aria-label="{escape(title)}" {FONT} font-size="12" class="chart">']
    if titled and title:
        parts.append(f'<title>{escape(title)}</title>')
    return parts


def _legend(x: float, labels: tuple[str, str, str], target: float) -> list[str]:
    """The share charts' legend from x along the top: user share, output share, the target line."""
    parts = []
    for colour, text in ((USER_COLOUR, labels[0]), (OUTPUT_COLOUR, labels[1])):
        parts.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{x + 16}" y="16" fill="{INK}">{escape(text)}</text>')
        x += 130
    parts.append(f'<line x1="{x}" y1="12" x2="{x + 18}" y2="12" stroke="{TARGET_COLOUR}" stroke-width="2" '
                 f'stroke-dasharray="4 3"/><text x="{x + 22}" y="16" fill="{INK}">{escape(labels[2])} '
                 f'{_pct(target)}</text>')
    return parts


def share_bars(rows: Sequence[tuple[str, Optional[float], Optional[float]]], target: float, *,
               labels: tuple[str, str, str] = ("User share", "Output share", "Target"), title: str = "",
               width: int = 640) -> Markup:
    """Horizontal bars: per row (label, user share, output share), with the target as a dashed line."""
    label_w, right, bar_h, gap, top = 150, 60, 14, 14, 34
    plot_w = width - label_w - right
    height = top + len(rows) * (2 * bar_h + gap) + 24
    scale = max([1.0] + [v for _l, a, b in rows for v in (a, b) if v is not None])

    def x(v: float) -> float:
        return label_w + plot_w * v / scale

    parts = _opening(width, height, title)
    parts += _legend(label_w, labels, target)
    for tick in (0, .25, .5, .75, 1.0):
        if tick <= scale:
            parts.append(f'<line x1="{x(tick):.1f}" y1="{top - 4}" x2="{x(tick):.1f}" y2="{height - 20}" '
                         f'stroke="{GRID_COLOUR}"/><text x="{x(tick):.1f}" y="{height - 6}" text-anchor="middle" '
                         f'fill="#5f6368">{int(tick * 100)}%</text>')
    y = top
    for label, user, output in rows:
        parts.append(f'<text x="{label_w - 8}" y="{y + bar_h + 4}" text-anchor="end" fill="{INK}">'
                     f'{escape(label)}</text>')
        for value, colour in ((user, USER_COLOUR), (output, OUTPUT_COLOUR)):
            w = 0 if value is None else max(0.0, x(value) - label_w)
            parts.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}"/>'
                         f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h - 3}" fill="{INK}">{_pct(value)}</text>')
            y += bar_h
        y += gap
    parts.append(f'<line x1="{x(target):.1f}" y1="{top - 4}" x2="{x(target):.1f}" y2="{y - gap + 4}" '
                 f'stroke="{TARGET_COLOUR}" stroke-width="2" stroke-dasharray="4 3"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def share_lines(years: Sequence[int], user: Sequence[Optional[float]], output: Sequence[Optional[float]],
                target: float, *, labels: tuple[str, str, str] = ("User share", "Output share", "Target"),
                title: str = "", width: int = 640, height: int = 240) -> Markup:
    """Both shares over the years as lines with points, and the target as a dashed line."""
    left, right, top, bottom = 44, 20, 30, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    scale = max([1.0] + [v for v in list(user) + list(output) if v is not None])
    n = max(len(years), 1)

    def px(i: int) -> float:
        return left + (plot_w * (i + 0.5) / n)

    def py(v: float) -> float:
        return top + plot_h * (1 - v / scale)

    parts = _opening(width, height, title)
    for tick in (0, .25, .5, .75, 1.0):
        parts.append(f'<line x1="{left}" y1="{py(tick):.1f}" x2="{width - right}" y2="{py(tick):.1f}" '
                     f'stroke="{GRID_COLOUR}"/><text x="{left - 4}" y="{py(tick) + 4:.1f}" text-anchor="end" '
                     f'fill="#5f6368">{int(tick * 100)}%</text>')
    parts.append(f'<line x1="{left}" y1="{py(target):.1f}" x2="{width - right}" y2="{py(target):.1f}" '
                 f'stroke="{TARGET_COLOUR}" stroke-width="2" stroke-dasharray="4 3"/>')
    for i, year in enumerate(years):
        parts.append(f'<text x="{px(i):.1f}" y="{height - 8}" text-anchor="middle" fill="{INK}">{int(year)}</text>')
    for values, colour in ((user, USER_COLOUR), (output, OUTPUT_COLOUR)):
        points = [(px(i), py(v)) for i, v in enumerate(values) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{a:.1f},{b:.1f}" for a, b in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for (a, b), v in zip(points, [v for v in values if v is not None]):
            parts.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3.5" fill="{colour}"><title>{_pct(v)}</title>'
                         f'</circle>')
    parts += _legend(left, labels, target)
    parts.append("</svg>")
    return Markup("".join(parts))


def simple_bars(rows: Sequence[tuple[str, float]], *, unit: str = "", title: str = "", width: int = 640,
                colour: str = USER_COLOUR) -> Markup:
    """Horizontal bars of plain quantities (e.g. kilograms by stage)."""
    label_w, right, bar_h, gap, top = 110, 110, 16, 8, 8
    plot_w = width - label_w - right
    height = top + len(rows) * (bar_h + gap) + 8
    scale = max([v for _l, v in rows] + [1e-9])
    parts = _opening(width, max(height, 30), title, titled=False)
    y = top
    for label, value in rows:
        w = plot_w * value / scale if scale else 0
        parts.append(f'<text x="{label_w - 8}" y="{y + bar_h - 3}" text-anchor="end" fill="{INK}">{escape(label)}'
                     f'</text><rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}"/>'
                     f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h - 3}" fill="{INK}">{value:,.1f} '
                     f'{escape(unit)}</text>')
        y += bar_h + gap
    parts.append("</svg>")
    return Markup("".join(parts))
