"""Charts drawn on the server as SVG: horizontal bars and month lines, each value written beside its mark.

No script and no ``style`` attribute (the CSP forbids inline style): sizes and colours are SVG presentation
attributes, and ``class`` names that ``staff.css`` and ``meeting.css`` may restyle. Every chart is an image with
a title for screen readers; the table beside it holds the same numbers.
"""

from __future__ import annotations

import itertools

from markupsafe import Markup, escape

_ids = itertools.count(1)
BAR_COLOUR = "#1f5f99"
LINE_COLOURS = ("#1f5f99", "#c0392b", "#2e7d32")
FONT = "'Noto Sans CJK SC', 'Source Han Sans SC', 'Microsoft YaHei', sans-serif"


def _text(x: float, y: float, value: str, *, anchor: str = "start", size: int = 13, cls: str = "chart-text",
          weight: str | None = None) -> str:
    bold = f' font-weight="{weight}"' if weight else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" font-family="{FONT}"'
            f'{bold} fill="#1a1a1a" class="{cls}">{escape(value)}</text>')


def ems(text: str) -> float:
    """The width of ``text`` in ems, as the chart's fonts draw it: a CJK character or full-width sign one em,
    anything narrower about 0.6 (an estimate on the safe side: the server cannot measure the browser's font)."""
    return sum(1.0 if ord(ch) >= 0x2E80 else 0.62 for ch in text)


def fit(text: str, room: float, size: float) -> str:
    """``text`` as it fits in ``room`` units at font ``size``: whole, or cut with an ellipsis."""
    if ems(text) * size <= room:
        return text
    cut = text
    while cut and ems(cut + "…") * size > room:
        cut = cut[:-1]
    return cut + "…"


def bar_chart(title: str, rows: list[tuple[str, str, float]], *, label_width: int = 190, width: int = 640,
              bar: int = 22, scale: float = 1.0) -> Markup:
    """``rows`` of (label, the value as shown, the value's length): one bar each, the shown value at its end. A
    label too long for its column is cut with an ellipsis and keeps its full text in a ``<title>`` (a tooltip, and
    what a screen reader reads); the bars leave room for the widest value, so nothing is clipped at any size."""
    chart_id = f"chart-{next(_ids)}"
    if not rows:
        rows = [("无数据", "0", 0.0)]
    font = int(13 * scale)
    bar = max(bar, int(font * 1.5))
    gap = int(bar * 0.45)
    height = len(rows) * (bar + gap) + gap
    longest = max((length for _, _, length in rows), default=0) or 1
    value_room = max(ems(shown) for _, shown, _ in rows) * font + 12
    room = width - label_width - value_room
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-bars" viewBox="0 0 {width} {height}" '
             f'width="100%" role="img" aria-labelledby="{chart_id}"><title id="{chart_id}">{escape(title)}</title>']
    for i, (label, shown, length) in enumerate(rows):
        y = gap + i * (bar + gap)
        w = max(0.0, room * length / longest)
        short = fit(label, label_width - 12, font)
        if short == label:
            parts.append(_text(label_width - 8, y + bar * 0.72, label, anchor="end", size=font))
        else:
            parts.append(f'<g class="chart-label-cut"><title>{escape(label)}</title>'
                         f'{_text(label_width - 8, y + bar * 0.72, short, anchor="end", size=font)}</g>')
        parts.append(f'<rect x="{label_width}" y="{y}" width="{w:.1f}" height="{bar}" fill="{BAR_COLOUR}" '
                     f'class="chart-bar"/>')
        parts.append(_text(label_width + w + 6, y + bar * 0.72, shown, size=font, weight="bold",
                           cls="chart-value"))
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - labels and values are escaped in _text; the rest are numbers


def line_chart(title: str, labels: list[str], series: dict[str, list[int]], *, width: int = 760, height: int = 280,
               scale: float = 1.0) -> Markup:
    """One line per series over ``labels`` (months), each point's value written above it, and a legend."""
    chart_id = f"chart-{next(_ids)}"
    font = int(12 * scale)
    left, right, top, bottom = 36, 40, 34 + font, 34 + font
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([1, *itertools.chain.from_iterable(series.values())])
    count = max(1, len(labels))
    step = plot_w / max(1, count - 1) if count > 1 else 0

    def x_of(i: int) -> float:
        return left + (i * step if count > 1 else plot_w / 2)

    def y_of(v: int) -> float:
        return top + plot_h - plot_h * v / peak

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-lines" viewBox="0 0 {width} {height}" '
             f'width="100%" role="img" aria-labelledby="{chart_id}"><title id="{chart_id}">{escape(title)}</title>',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="#888"/>']
    legend_x = left
    for colour, (name, values) in zip(itertools.cycle(LINE_COLOURS), series.items(), strict=False):
        points = " ".join(f"{x_of(i):.1f},{y_of(v):.1f}" for i, v in enumerate(values))
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="{2.5 * scale:.1f}" '
                     f'class="chart-line"/>')
        for i, v in enumerate(values):
            parts.append(f'<circle cx="{x_of(i):.1f}" cy="{y_of(v):.1f}" r="{3.5 * scale:.1f}" fill="{colour}"/>')
        parts.append(f'<rect x="{legend_x}" y="6" width="14" height="{font}" fill="{colour}"/>')
        parts.append(_text(legend_x + 18, 6 + font * 0.9, name, size=font))
        legend_x += 18 + font * (len(name) + 2)
    # Each month's values above its points; equal values written once, the others kept a line apart.
    for i in range(count):
        placed: list[float] = []
        for v in sorted({values[i] for values in series.values() if i < len(values)}, reverse=True):
            y = y_of(v) - 7
            if placed and y < placed[-1] + font + 2:
                y = placed[-1] + font + 2
            placed.append(y)
            parts.append(_text(x_of(i), y, str(v), anchor="middle", size=font, weight="bold", cls="chart-value"))
    every = max(1, count // 12)
    for i, label in enumerate(labels):
        if i % every == 0:
            parts.append(_text(x_of(i), height - bottom + font + 8, label, anchor="middle", size=font))
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - labels and values are escaped in _text; the rest are numbers
