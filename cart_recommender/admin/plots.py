"""Small server-side SVG charts for the admin screens.

Hand-written rather than drawn with a plotting library so the web process imports nothing
heavy and the charts follow the admin's theme: axes, grid and text take their colours from
Django admin's CSS variables (``--body-fg``, ``--hairline-color`` ...), so dark mode works; the
series use a fixed palette readable on both light and dark backgrounds.

Example::

    from cart_recommender.admin.plots import Series, line_chart

    svg = line_chart([Series("loss", [0.9, 0.6, 0.5])], x_values=[1, 2, 3],
                     title="Training loss", x_label="epoch")
    # {{ svg }} in a template renders the chart inline
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import count

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# Colour-blind-friendly (Okabe-Ito) hues, readable on white and on the admin's dark theme.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#d55e00", "#56b4e9", "#b8a800")

_ids = count(1)


@dataclass(frozen=True)
class Series:
    """One line of a chart; ``None`` values leave a gap."""

    label: str
    values: Sequence[float | None]
    color: str = ""
    dashed: bool = False
    width: float = 2.0


def nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 times a power of ten) covering ``lo..hi``."""
    if not math.isfinite(lo) or not math.isfinite(hi):
        return [0.0, 1.0]
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(target, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(lo / step) * step
    ticks = []
    value = first
    while value < hi + step * 0.5:
        ticks.append(round(value, 10))
        value += step
        if len(ticks) > 50:  # defensive: never loop on float trouble
            break
    if ticks[-1] < hi:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10 or float(value).is_integer():
        return f"{value:.0f}"
    return f"{value:.3g}"


def _spaced(n: int, most: int) -> list[int]:
    """Indexes of at most ``most`` evenly spread labels, first and last included."""
    if n <= most:
        return list(range(n))
    step = math.ceil((n - 1) / (most - 1))
    picked = list(range(0, n, step))
    if picked[-1] != n - 1:
        if n - 1 - picked[-1] < step / 2:
            picked[-1] = n - 1
        else:
            picked.append(n - 1)
    return picked


def line_chart(
    series: Sequence[Series],
    *,
    x_values: Sequence[object],
    title: str,
    x_label: str = "",
    y_label: str = "",
    y_min: float | None = None,
    y_max: float | None = None,
    width: int = 640,
    height: int = 300,
    max_x_labels: int = 8,
) -> SafeString:
    """An inline ``<svg>`` line chart of ``series`` over the shared ``x_values``.

    Args:
        series: the lines; each has one value per x (``None`` for a gap).
        x_values: the x positions' labels (numbers, dates or strings), evenly spaced.
        title: shown above the chart and read out by screen readers.
        y_min, y_max: fix the value axis (for example 0..1 for hit rates).

    Returns:
        Safe HTML, ready for a template. With no data at all, a short "no data" chart.
    """
    uid = f"crchart{next(_ids)}"
    left, right, top, bottom = 56, 40, 44, 48
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(x_values)
    finite = [v for s in series for v in s.values if v is not None and math.isfinite(v)]
    parts: list[str] = [
        f'<svg class="cr-chart" id="{uid}" role="img" aria-labelledby="{uid}-title" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{uid}-title">{escape(title)}</title>',
        f'<text class="cr-chart-title" x="{left}" y="16">{escape(title)}</text>',
    ]
    if not n or not finite:
        parts.append(
            f'<text class="cr-chart-empty" x="{width / 2}" y="{height / 2}" text-anchor="middle">'
            "No data to plot yet</text></svg>"
        )
        return mark_safe("".join(parts))  # noqa: S308  (all text above is escaped)

    lo = min(finite) if y_min is None else y_min
    hi = max(finite) if y_max is None else y_max
    ticks = nice_ticks(lo, hi) if y_min is None or y_max is None else nice_ticks(y_min, y_max)
    if y_min is not None:
        ticks = [t for t in ticks if t >= y_min] or [y_min]
    if y_max is not None:
        ticks = [t for t in ticks if t <= y_max] or [y_max]
    axis_lo = min(ticks[0], lo)
    axis_hi = max(ticks[-1], hi)
    span = (axis_hi - axis_lo) or 1.0

    def px(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def py(v: float) -> float:
        return top + plot_h - (v - axis_lo) / span * plot_h

    # grid and value axis
    for tick in ticks:
        y = py(tick)
        parts.append(f'<line class="cr-chart-grid" x1="{left}" x2="{left + plot_w}" '
                     f'y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="cr-chart-tick" x="{left - 6}" y="{y + 4:.1f}" '
                     f'text-anchor="end">{_fmt(tick)}</text>')
    parts.append(
        f'<line class="cr-chart-axis" x1="{left}" x2="{left + plot_w}" '
        f'y1="{top + plot_h}" y2="{top + plot_h}"/>'
    )
    for i in _spaced(n, max_x_labels):
        x = px(i)
        parts.append(f'<line class="cr-chart-axis" x1="{x:.1f}" x2="{x:.1f}" y1="{top + plot_h}" '
                     f'y2="{top + plot_h + 4}"/>')
        parts.append(
            f'<text class="cr-chart-tick" x="{x:.1f}" y="{top + plot_h + 17}" text-anchor="middle">'
            f"{escape(str(x_values[i]))}</text>"
        )
    if x_label:
        parts.append(f'<text class="cr-chart-label" x="{left + plot_w / 2}" y="{height - 6}" '
                     f'text-anchor="middle">{escape(x_label)}</text>')
    if y_label:
        parts.append(f'<text class="cr-chart-label" transform="translate(13 {top + plot_h / 2}) rotate(-90)" '
                     f'text-anchor="middle">{escape(y_label)}</text>')

    # legend, left to right under the title
    lx = left
    for k, s in enumerate(series):
        color = s.color or PALETTE[k % len(PALETTE)]
        dash = ' stroke-dasharray="5 3"' if s.dashed else ""
        parts.append(f'<line x1="{lx}" x2="{lx + 18}" y1="31" y2="31" stroke="{color}" '
                     f'stroke-width="{s.width}"{dash}/>')
        parts.append(f'<text class="cr-chart-legend" x="{lx + 22}" y="35">{escape(s.label)}</text>')
        lx += 30 + 7 * len(s.label)

    # the lines (a gap for each None) and a dot with a tooltip per point
    for k, s in enumerate(series):
        color = s.color or PALETTE[k % len(PALETTE)]
        dash = ' stroke-dasharray="5 3"' if s.dashed else ""
        path: list[str] = []
        pen_down = False
        for i, v in enumerate(s.values[:n]):
            if v is None or not math.isfinite(v):
                pen_down = False
                continue
            path.append(f"{'L' if pen_down else 'M'}{px(i):.1f} {py(v):.1f}")
            pen_down = True
        parts.append(
            f'<path class="cr-chart-line" data-series="{escape(s.label)}" d="{" ".join(path)}" '
            f'fill="none" stroke="{color}" stroke-width="{s.width}" stroke-linejoin="round"{dash}/>'
        )
        if n <= 40:
            for i, v in enumerate(s.values[:n]):
                if v is None or not math.isfinite(v):
                    continue
                parts.append(
                    f'<circle cx="{px(i):.1f}" cy="{py(v):.1f}" r="2.5" fill="{color}">'
                    f"<title>{escape(s.label)} at {escape(str(x_values[i]))}: {_fmt(v)}</title></circle>"
                )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308  (every label is escaped above)


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    value_format: str = "{:,.0f}",
    width: int = 420,
    bar_height: int = 18,
    color: str = PALETTE[0],
) -> SafeString:
    """Horizontal bars, one per label, each with its value written after it."""
    n = len(labels)
    label_w = min(max((len(str(label)) for label in labels), default=4) * 6.5 + 10, width * 0.45)
    top, gap = 30, 6
    height = top + n * (bar_height + gap) + 8
    plot_w = width - label_w - 70
    most = max((v for v in values if math.isfinite(v)), default=0.0) or 1.0
    cid = next(_ids)
    parts = [
        f'<svg class="cr-chart cr-bars" id="cr-bars-{cid}" role="img" aria-labelledby="cr-bars-{cid}-t" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="cr-bars-{cid}-t">{escape(title)}</title>',
        f'<text class="cr-chart-title" x="0" y="16">{escape(title)}</text>',
    ]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = top + i * (bar_height + gap)
        w = max(plot_w * max(value, 0.0) / most, 1.0) if math.isfinite(value) else 0.0
        text = value_format.format(value) if math.isfinite(value) else "–"
        parts.append(f'<text class="cr-chart-tick" x="{label_w - 6:.1f}" y="{y + bar_height - 5}" '
                     f'text-anchor="end">{escape(str(label))}</text>')
        parts.append(f'<rect class="cr-bar" x="{label_w:.1f}" y="{y}" width="{w:.1f}" height="{bar_height}" '
                     f'fill="{color}" data-value="{value}"><title>{escape(str(label))}: {escape(text)}'
                     "</title></rect>")
        parts.append(f'<text class="cr-chart-tick" x="{label_w + w + 4:.1f}" y="{y + bar_height - 5}">'
                     f"{escape(text)}</text>")
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308  (every label is escaped above)


def stacked_bar_chart(
    labels: Sequence[str],
    parts_of: Sequence[Sequence[float]],
    part_labels: Sequence[str],
    *,
    title: str,
    width: int = 860,
    bar_height: int = 18,
) -> SafeString:
    """Horizontal 100% bars: each row's shares (summing to 1 or less) side by side, with a legend."""
    n = len(labels)
    label_w = min(max((len(str(label)) for label in labels), default=4) * 6.5 + 10, width * 0.4)
    legend_rows = 1 + (sum(30 + 7 * len(p) for p in part_labels) // max(width - 10, 1))
    top = 30 + 18 * legend_rows
    gap = 6
    height = top + n * (bar_height + gap) + 8
    plot_w = width - label_w - 10
    cid = next(_ids)
    out = [
        f'<svg class="cr-chart cr-stacked" id="cr-stack-{cid}" role="img" aria-labelledby="cr-stack-{cid}-t" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="cr-stack-{cid}-t">{escape(title)}</title>',
        f'<text class="cr-chart-title" x="0" y="16">{escape(title)}</text>',
    ]
    lx, ly = 0.0, 31
    for k, part in enumerate(part_labels):
        step = 30 + 7 * len(part)
        if lx + step > width:
            lx, ly = 0.0, ly + 18
        color = PALETTE[k % len(PALETTE)] if k < len(PALETTE) else "#999999"
        out.append(f'<rect x="{lx:.1f}" y="{ly - 9}" width="12" height="12" fill="{color}"/>')
        out.append(f'<text class="cr-chart-legend" x="{lx + 16:.1f}" y="{ly + 2}">{escape(part)}</text>')
        lx += step
    for i, (label, shares) in enumerate(zip(labels, parts_of, strict=True)):
        y = top + i * (bar_height + gap)
        out.append(f'<text class="cr-chart-tick" x="{label_w - 6:.1f}" y="{y + bar_height - 5}" '
                   f'text-anchor="end">{escape(str(label))}</text>')
        x = label_w
        for k, share in enumerate(shares):
            if not math.isfinite(share) or share <= 0:
                continue
            w = plot_w * min(share, 1.0)
            color = PALETTE[k % len(PALETTE)] if k < len(PALETTE) else "#999999"
            out.append(f'<rect class="cr-bar" x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_height}" '
                       f'fill="{color}"><title>{escape(str(label))}: {escape(part_labels[k])} '
                       f"{share:.0%}</title></rect>")
            x += w
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308  (every label is escaped above)
