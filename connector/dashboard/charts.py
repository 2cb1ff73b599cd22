"""Server-rendered inline SVG charts for the dashboard (no JavaScript, no CDN).

Each function returns ``markupsafe.Markup`` for a responsive ``<svg viewBox=...>``; every text
that ends up in it is escaped. Colours are presentation attributes, not ``style=``, so the
dashboard's CSP (no inline styles) holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markupsafe import Markup, escape

WIDTH, HEIGHT = 560, 200
PAD_L, PAD_R, PAD_T, PAD_B = 44, 10, 12, 30
AUTO_COLOUR = "#038153"
OTHER_COLOUR = "#1f73b7"
LINE_COLOUR = "#ad5918"


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        if value <= step:
            return step
    return value


def _x_labels(days: Sequence[dict[str, Any]], x_of) -> list[str]:
    n = len(days)
    every = max(1, round(n / 7))
    out = []
    for i, d in enumerate(days):
        if i % every == 0 or (i == n - 1 and i % every >= max(1, every // 2)):
            out.append(
                f'<text x="{x_of(i):.1f}" y="{HEIGHT - 8}" text-anchor="middle" font-size="13"'
                f' fill="#5f6b7a">{escape(d["date"][5:])}</text>'
            )
    return out


def _frame(title: str, desc: str, body: list[str], legend: list[tuple[str, str]]) -> Markup:
    items = "".join(
        f'<rect x="{PAD_L + i * 130}" y="1" width="11" height="11" fill="{c}"/>'
        f'<text x="{PAD_L + i * 130 + 15}" y="11" font-size="13" fill="#1f2933">{escape(t)}</text>'
        for i, (t, c) in enumerate(legend)
    )
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT + 16}" role="img"'
        f' aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title><desc>{escape(desc)}</desc>"
        f'<g>{items}</g><g transform="translate(0,16)">{"".join(body)}</g></svg>'
    )


def _axes(y_max_label: str) -> list[str]:
    bottom = HEIGHT - PAD_B
    return [
        f'<line x1="{PAD_L}" y1="{bottom}" x2="{WIDTH - PAD_R}" y2="{bottom}" stroke="#d8dee4"/>',
        f'<line x1="{PAD_L}" y1="{PAD_T}" x2="{WIDTH - PAD_R}" y2="{PAD_T}" stroke="#eef1f4"/>',
        f'<text x="{PAD_L - 6}" y="{PAD_T + 4}" text-anchor="end" font-size="13"'
        f' fill="#5f6b7a">{escape(y_max_label)}</text>',
        f'<text x="{PAD_L - 6}" y="{bottom + 4}" text-anchor="end" font-size="13"'
        ' fill="#5f6b7a">0</text>',
    ]


def volume_chart(days: Sequence[dict[str, Any]]) -> Markup:
    """Stacked bars per day: automated decisions on top of the rest."""
    n = max(1, len(days))
    plot_w, plot_h = WIDTH - PAD_L - PAD_R, HEIGHT - PAD_T - PAD_B
    top = _nice_max(max((d["decisions"] for d in days), default=0))
    slot = plot_w / n
    bar_w = max(1.0, slot * 0.7)

    def x_of(i: int) -> float:
        return PAD_L + slot * i + slot / 2

    body = _axes(str(int(top)))
    for i, d in enumerate(days):
        auto, other = d["automated"], d["decisions"] - d["automated"]
        h_other, h_auto = plot_h * other / top, plot_h * auto / top
        x = x_of(i) - bar_w / 2
        base = HEIGHT - PAD_B
        tip = f"{escape(d['date'])}: {d['decisions']} decisions, {auto} automated"
        body.append(
            f"<g><title>{tip}</title>"
            f'<rect x="{x:.1f}" y="{base - h_other:.1f}" width="{bar_w:.1f}"'
            f' height="{h_other:.1f}" fill="{OTHER_COLOUR}"/>'
            f'<rect x="{x:.1f}" y="{base - h_other - h_auto:.1f}" width="{bar_w:.1f}"'
            f' height="{h_auto:.1f}" fill="{AUTO_COLOUR}"/></g>'
        )
    body += _x_labels(days, x_of)
    total = sum(d["decisions"] for d in days)
    return _frame(
        "Decisions per day",
        f"{total} decisions over {len(days)} days",
        body,
        [("automated", AUTO_COLOUR), ("other", OTHER_COLOUR)],
    )


def automation_chart(days: Sequence[dict[str, Any]]) -> Markup:
    """Automation rate per day (days without decisions leave a gap)."""
    n = max(1, len(days))
    plot_w, plot_h = WIDTH - PAD_L - PAD_R, HEIGHT - PAD_T - PAD_B
    slot = plot_w / n

    def x_of(i: int) -> float:
        return PAD_L + slot * i + slot / 2

    def y_of(rate: float) -> float:
        return HEIGHT - PAD_B - plot_h * rate

    body = _axes("100%")
    segment: list[str] = []
    segments: list[list[str]] = []
    for i, d in enumerate(days):
        rate = d["automation_rate"]
        if rate is None:
            if segment:
                segments.append(segment)
            segment = []
            continue
        segment.append(f"{x_of(i):.1f},{y_of(rate):.1f}")
        body.append(
            f'<circle cx="{x_of(i):.1f}" cy="{y_of(rate):.1f}" r="3" fill="{LINE_COLOUR}">'
            f"<title>{escape(d['date'])}: {rate:.0%} automated</title></circle>"
        )
    if segment:
        segments.append(segment)
    for seg in segments:
        if len(seg) > 1:
            body.append(
                f'<polyline points="{" ".join(seg)}" fill="none"'
                f' stroke="{LINE_COLOUR}" stroke-width="2"/>'
            )
    body += _x_labels(days, x_of)
    return _frame(
        "Automation rate per day",
        "share of finished decisions answered automatically",
        body,
        [("automation rate", LINE_COLOUR)],
    )
