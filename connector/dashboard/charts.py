"""Server-rendered inline SVG charts for the dashboard (no JavaScript, no CDN).

Each function returns ``markupsafe.Markup`` for a responsive ``<svg viewBox=...>``; every text
that ends up in it is escaped. Colours are presentation attributes, not ``style=``, so the
dashboard's CSP (no inline styles) holds. Every bar and point carries a ``<title>`` with its
figures (a tooltip, and what a screen reader reads); the tables next to the charts give the same
numbers for anyone who cannot see them. ``for_dashboard`` builds every chart of the page.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from markupsafe import Markup, escape

# A narrow drawing scaled to the card: on a 390-px phone it shrinks to about 3/4, so its 14-px
# text stays readable (a 560-wide drawing left it at 8 px); on a desktop it grows a little.
WIDTH, HEIGHT = 460, 200
PAD_L, PAD_R, PAD_T, PAD_B = 58, 10, 12, 30
FONT = 14
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
        # every ``every``-th period only: a label squeezed in for the last one overlapped
        if i % every == 0:
            out.append(
                f'<text x="{x_of(i):.1f}" y="{HEIGHT - 8}" text-anchor="middle" font-size="{FONT}"'
                f' fill="#5f6b7a">{escape(d["date"][5:])}</text>'
            )
    return out


LEGEND_ROW = 18
CHAR_W = 7.8  # average width of a 14-px system-font character, for laying the legend out


def _legend(legend: Sequence[tuple[str, str]]) -> tuple[str, int]:
    """Legend items laid out left to right, wrapping onto new rows; returns (svg, height)."""
    items, x, row = [], float(PAD_L), 0
    for text, colour in legend:
        width = 15 + len(text) * CHAR_W + 14
        if x + width > WIDTH and x > PAD_L:
            x, row = float(PAD_L), row + 1
        y = row * LEGEND_ROW
        items.append(
            f'<rect x="{x:.0f}" y="{y + 1}" width="11" height="11" fill="{colour}"/>'
            f'<text x="{x + 15:.0f}" y="{y + 11}" font-size="{FONT}" fill="#1f2933">'
            f"{escape(label(text))}</text>"
        )
        x += width
    return "".join(items), (row + 1) * LEGEND_ROW if legend else 0


def _frame(
    title: str,
    desc: str,
    body: list[str],
    legend: Sequence[tuple[str, str]],
    height: int = HEIGHT,
) -> Markup:
    items, top = _legend(legend)
    top = max(top, 16)
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height + top}" role="img"'
        f' aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title><desc>{escape(desc)}</desc>"
        f'<g>{items}</g><g transform="translate(0,{top})">{"".join(body)}</g></svg>'
    )


def _axes(y_max_label: str) -> list[str]:
    bottom = HEIGHT - PAD_B
    return [
        f'<line x1="{PAD_L}" y1="{bottom}" x2="{WIDTH - PAD_R}" y2="{bottom}" stroke="#d8dee4"/>',
        f'<line x1="{PAD_L}" y1="{PAD_T}" x2="{WIDTH - PAD_R}" y2="{PAD_T}" stroke="#eef1f4"/>',
        f'<text x="{PAD_L - 6}" y="{PAD_T + 4}" text-anchor="end" font-size="{FONT}"'
        f' fill="#5f6b7a">{escape(y_max_label)}</text>',
        f'<text x="{PAD_L - 6}" y="{bottom + 4}" text-anchor="end" font-size="{FONT}"'
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


# --- the manager's charts ----------------------------------------------------------------------
OUTCOME_COLOURS = {
    "auto_reply": AUTO_COLOUR,
    "assist_note": OTHER_COLOUR,
    "escalate": "#cc3340",
    "shadow": "#8d99a6",
    "skip": "#c2c8cc",
    "off": "#5f6b7a",
}
# Categories in a fixed order of distinguishable colours; the rest share "other categories".
PALETTE = ("#1f73b7", "#038153", "#ad5918", "#6a27b8", "#cc3340", "#0f8a8a")
REST_COLOUR = "#a3acb5"
FALLBACK_COLOUR = "#5f6b7a"
ESCALATION_COLOUR = "#cc3340"
DIAGONAL_COLOUR = "#8d99a6"
MAX_SERIES = len(PALETTE)
REST = "other categories"


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5 or 5 times a power of ten that is at least ``value`` (for
    small amounts too, such as a cost of $0.0012 per ticket)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power * (1 + 1e-9):
            return step * power
    return 10 * power


def label(name: str) -> str:
    """A category or outcome as the page writes it: ``order_status`` reads "order status"."""
    return name.replace("_", " ")


def _plot() -> tuple[float, float]:
    return WIDTH - PAD_L - PAD_R, HEIGHT - PAD_T - PAD_B


def _slots(n: int) -> tuple[float, Callable[[int], float]]:
    slot = _plot()[0] / max(1, n)

    def x_of(i: int) -> float:
        return PAD_L + slot * i + slot / 2

    return slot, x_of


def _period_word(periods: Sequence[dict[str, Any]]) -> str:
    if periods and periods[0].get("last_date", periods[0]["date"]) != periods[0]["date"]:
        return "week"
    return "day"


def _span(p: dict[str, Any]) -> str:
    last = p.get("last_date") or p["date"]
    return p["date"] if last == p["date"] else f"{p['date']} to {last}"


def top_names(stacks: Sequence[dict[str, float]], limit: int = MAX_SERIES) -> list[str]:
    """The ``limit`` names with the largest totals over all periods, largest first."""
    totals: dict[str, float] = {}
    for stack in stacks:
        for name, value in stack.items():
            totals[name] = totals.get(name, 0) + value
    ranked = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    return [name for name, value in ranked[:limit] if value > 0]


def keep_top(stacks: Sequence[dict[str, float]], names: Sequence[str]) -> list[dict[str, float]]:
    """Each stack with names outside ``names`` folded into one ``REST`` entry."""
    out = []
    for stack in stacks:
        kept = {n: stack.get(n, 0) for n in names}
        rest = sum(v for n, v in stack.items() if n not in names)
        if rest:
            kept[REST] = rest
        out.append(kept)
    return out


def stacked_chart(
    periods: Sequence[dict[str, Any]],
    stacks: Sequence[dict[str, float]],
    series: Sequence[tuple[str, str]],
    *,
    title: str,
    desc: str,
    fmt: Callable[[float], str] = lambda v: f"{v:g}",
) -> Markup:
    """Stacked bars, one per period; ``stacks[i]`` holds period i's value of each series (drawn
    bottom-up in ``series`` order)."""
    plot_h = _plot()[1]
    top = nice_ceiling(max((sum(s.values()) for s in stacks), default=0))
    slot, x_of = _slots(len(periods))
    bar_w = max(1.0, slot * 0.7)
    body = _axes(fmt(top))
    base = HEIGHT - PAD_B
    for i, (p, stack) in enumerate(zip(periods, stacks, strict=True)):
        parts = [
            f"{escape(label(name))} {fmt(stack[name])}" for name, _ in series if stack.get(name)
        ]
        tip = f"{escape(_span(p))}: {fmt(sum(stack.values()))}" + (
            f" ({', '.join(parts)})" if parts else ""
        )
        rects, y = [], float(base)
        for name, colour in series:
            h = plot_h * stack.get(name, 0) / top
            if h <= 0:
                continue
            y -= h
            rects.append(
                f'<rect x="{x_of(i) - bar_w / 2:.1f}" y="{y:.1f}" width="{bar_w:.1f}"'
                f' height="{h:.1f}" fill="{colour}"/>'
            )
        body.append(f"<g><title>{tip}</title>{''.join(rects)}</g>")
    body += _x_labels(periods, x_of)
    return _frame(title, desc, body, series)


def line_chart(
    periods: Sequence[dict[str, Any]],
    lines: Sequence[tuple[str, str, Sequence[float | None]]],
    *,
    title: str,
    desc: str,
    top: float | None = None,
    fmt: Callable[[float], str] = lambda v: f"{v:.0%}",
    axis_fmt: Callable[[float], str] | None = None,
) -> Markup:
    """One line per ``(name, colour, values)``; a period without a value leaves a gap."""
    plot_h = _plot()[1]
    if top is None:
        known = [v for _, _, vs in lines for v in vs if v is not None]
        top = nice_ceiling(max(known, default=0))
    _, x_of = _slots(len(periods))
    body = _axes((axis_fmt or fmt)(top))
    for name, colour, values in lines:
        segments: list[list[str]] = [[]]
        for i, value in enumerate(values):
            if value is None:
                segments.append([])
                continue
            x, y = x_of(i), HEIGHT - PAD_B - plot_h * min(value, top) / top
            segments[-1].append(f"{x:.1f},{y:.1f}")
            body.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"><title>'
                f"{escape(label(name))}, {escape(_span(periods[i]))}: {escape(fmt(value))}"
                "</title></circle>"
            )
        for seg in segments:
            if len(seg) > 1:
                body.append(
                    f'<polyline points="{" ".join(seg)}" fill="none" stroke="{colour}"'
                    ' stroke-width="2"/>'
                )
    body += _x_labels(periods, x_of)
    legend = [(name, colour) for name, colour, _ in lines] if len(lines) > 1 else []
    return _frame(title, desc, body, legend)


CATEGORY_ROW = 30


def category_rates_chart(categories: dict[str, dict[str, Any]]) -> Markup:
    """Per category, two horizontal bars: automation rate and escalation rate (of the finished
    decisions, whose count ends the row)."""
    rows = [(c, v) for c, v in categories.items() if v.get("processed")]
    label_w = 150
    left, right = PAD_L + label_w - 30, WIDTH - PAD_R - 44
    scale = right - left
    height = max(1, len(rows)) * CATEGORY_ROW + 24
    body = [
        f'<line x1="{left}" y1="0" x2="{left}" y2="{height - 22}" stroke="#d8dee4"/>',
        f'<text x="{left}" y="{height - 6}" font-size="{FONT}" fill="#5f6b7a">0%</text>',
        f'<text x="{right}" y="{height - 6}" text-anchor="end" font-size="{FONT}"'
        ' fill="#5f6b7a">100%</text>',
    ]
    for i, (cat, v) in enumerate(rows):
        y = i * CATEGORY_ROW + 4
        auto, esc = v.get("automation_rate") or 0.0, v.get("escalation_rate") or 0.0
        tip = (
            f"{escape(cat)}: {auto:.0%} automated, {esc:.0%} escalated of {v['processed']} finished"
        )
        body.append(
            f"<g><title>{tip}</title>"
            f'<text x="{left - 6}" y="{y + 15}" text-anchor="end" font-size="{FONT}"'
            f' fill="#1f2933">{escape(label(cat))}</text>'
            f'<rect x="{left}" y="{y}" width="{scale * auto:.1f}" height="11"'
            f' fill="{AUTO_COLOUR}"/>'
            f'<rect x="{left}" y="{y + 12}" width="{scale * esc:.1f}" height="11"'
            f' fill="{ESCALATION_COLOUR}"/>'
            f'<text x="{WIDTH - PAD_R}" y="{y + 16}" text-anchor="end" font-size="{FONT}"'
            f' fill="#5f6b7a">{v["processed"]}</text></g>'
        )
    return _frame(
        "Automation and escalation by category",
        "share of each category's finished decisions; the number is how many finished",
        body,
        [("automated", AUTO_COLOUR), ("escalated", ESCALATION_COLOUR)],
        height=height,
    )


HEAT_ROW = 34
HEAT_LABEL = 150
HEAT_EMPTY = "#f5f7f9"


def _heat_colour(agreement: float) -> str:
    """From a pale to a deep blue as agreement rises (one hue: readable without colour vision)."""
    pale, deep = (0xE3, 0xEE, 0xF8), (0x0B, 0x4F, 0x8A)
    mix = [round(a + (b - a) * agreement) for a, b in zip(pale, deep, strict=True)]
    return "#" + "".join(f"{c:02x}" for c in mix)


def agreement_heatmap(periods: Sequence[dict[str, Any]], categories: Sequence[str]) -> Markup:
    """One row per category, one column per period: each cell's shade is the share of agents'
    verdicts that agreed with Deskguard, and its text the share and the number of verdicts (when
    the cell is wide enough; the tooltip always has both)."""
    left = PAD_L + HEAT_LABEL - 58
    n = max(1, len(periods))
    cell = (WIDTH - PAD_R - left) / n
    roomy = cell >= 40
    height = max(1, len(categories)) * HEAT_ROW + PAD_B
    body = []
    for r, cat in enumerate(categories):
        y = r * HEAT_ROW
        body.append(
            f'<text x="{left - 6}" y="{y + HEAT_ROW / 2 + 5:.0f}" text-anchor="end"'
            f' font-size="{FONT}" fill="#1f2933">{escape(label(cat))}</text>'
        )
        for i, p in enumerate(periods):
            x, a = left + i * cell, p["agreement"].get(cat)
            if a is None:
                tip = f"{label(cat)}, {_span(p)}: no verdicts"
                fill, text, ink = HEAT_EMPTY, "–", "#8d99a6"
            else:
                tip = (
                    f"{label(cat)}, {_span(p)}: agents agreed {a['right']} of {a['judged']}"
                    f" ({a['agreement']:.0%})"
                )
                fill, text = _heat_colour(a["agreement"]), f"{a['agreement']:.0%}"
                ink = "#ffffff" if a["agreement"] > 0.55 else "#1f2933"
            cx, cy = x + cell / 2, y + HEAT_ROW / 2
            words = (
                f'<text x="{cx:.1f}" y="{cy + 1:.1f}" text-anchor="middle" font-size="{FONT - 1}"'
                f' fill="{ink}">{escape(text)}</text>'
            )
            if a is not None:
                words += (
                    f'<text x="{cx:.1f}" y="{cy + 13:.1f}" text-anchor="middle" font-size="10"'
                    f' fill="{ink}">n={a["judged"]}</text>'
                )
            body.append(
                f"<g><title>{escape(tip)}</title>"
                f'<rect x="{x + 1:.1f}" y="{y + 1}" width="{cell - 2:.1f}" height="{HEAT_ROW - 2}"'
                f' rx="3" fill="{fill}"/>{words if roomy else ""}</g>'
            )
    every = max(1, round(n / 6))
    for i, p in enumerate(periods):
        if i % every == 0:
            body.append(
                f'<text x="{left + i * cell + cell / 2:.1f}" y="{height - 10}"'
                f' text-anchor="middle" font-size="{FONT}" fill="#5f6b7a">'
                f"{escape(p['date'][5:])}</text>"
            )
    word = _period_word(periods)
    return _frame(
        f"Agreement with agents per category per {word}",
        "share of agents' verdicts that said Deskguard's reading was right; darker is higher",
        body,
        [("0%", _heat_colour(0)), ("50%", _heat_colour(0.5)), ("100%", _heat_colour(1))],
        height=height,
    )


RELIABILITY_H = 260


def reliability_chart(bins: Sequence[dict[str, Any]]) -> Markup:
    """Stated confidence (x) against agents' agreement (y) per confidence bin, with the 95 %
    Wilson interval as a whisker and the verdict count beside each point; the dashed diagonal
    is a perfectly calibrated reader. Bins without verdicts are not drawn."""
    left, top = PAD_L + 12, PAD_T
    width, size = WIDTH - PAD_R - 30 - left, RELIABILITY_H - PAD_T - 52
    bottom = top + size

    def x_of(v: float) -> float:
        return left + width * v

    def y_of(v: float) -> float:
        return bottom - size * v

    body = [
        f'<rect x="{left}" y="{top}" width="{width}" height="{size}" fill="none"'
        ' stroke="#d8dee4"/>',
        f'<line x1="{x_of(0)}" y1="{y_of(0)}" x2="{x_of(1)}" y2="{y_of(1)}"'
        f' stroke="{DIAGONAL_COLOUR}" stroke-dasharray="5 4"/>',
    ]
    for v in (0, 0.25, 0.5, 0.75, 1):
        body.append(
            f'<text x="{x_of(v):.1f}" y="{bottom + 18}" text-anchor="middle" font-size="{FONT}"'
            f' fill="#5f6b7a">{v:.0%}</text>'
        )
    for v in (0.5, 1):  # 0 % is the x axis's first label, at the same corner
        body.append(
            f'<text x="{left - 6}" y="{y_of(v) + 5:.1f}" text-anchor="end" font-size="{FONT}"'
            f' fill="#5f6b7a">{v:.0%}</text>'
        )
    body.append(
        f'<text x="{x_of(0.5):.1f}" y="{bottom + 38}" text-anchor="middle" font-size="{FONT}"'
        ' fill="#1f2933">confidence the reading stated</text>'
        f'<text x="16" y="{y_of(0.5):.1f}" text-anchor="middle" font-size="{FONT}"'
        f' fill="#1f2933" transform="rotate(-90 16 {y_of(0.5):.1f})">agents agreed</text>'
    )
    judged = 0
    for b in bins:
        if not b["judged"]:
            continue
        judged += b["judged"]
        x, y = x_of(b["mean_confidence"]), y_of(b["agreement"])
        tip = (
            f"confidence {b['low']:.0%}–{b['high']:.0%}: agents agreed {b['right']} of"
            f" {b['judged']} ({b['agreement']:.0%}; 95% interval"
            f" {b['agreement_low']:.0%}–{b['agreement_high']:.0%})"
        )
        body.append(
            f"<g><title>{escape(tip)}</title>"
            f'<line x1="{x:.1f}" y1="{y_of(b["agreement_low"]):.1f}" x2="{x:.1f}"'
            f' y2="{y_of(b["agreement_high"]):.1f}" stroke="{OTHER_COLOUR}" stroke-width="2"'
            ' opacity="0.6"/>'
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{OTHER_COLOUR}"/>'
            f'<text x="{x + 8:.1f}" y="{y - 6:.1f}" font-size="{FONT - 2}" fill="#1f2933">'
            f"{b['judged']}</text></g>"
        )
    return _frame(
        "Reliability: stated confidence vs agreement",
        f"{judged} agent verdicts in confidence bins of 10 points; the number by each point is"
        " how many verdicts it holds",
        body,
        [("agreement, 95% interval", OTHER_COLOUR), ("calibrated", DIAGONAL_COLOUR)],
        height=RELIABILITY_H,
    )


def _money(value: float) -> str:
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def _money_axis(value: float) -> str:
    return f"${value:.4g}"


def _minutes(value: float) -> str:
    return f"{value / 60:.1f} h" if value >= 120 else f"{value:g} min"


def for_dashboard(m: dict[str, Any]) -> dict[str, Markup]:
    """Every chart of the dashboard, from ``connector.dashboard.metrics.summary``."""
    periods = m["periods"]
    word = _period_word(periods)
    outcome_stacks = [p["by_outcome"] for p in periods]
    outcomes = sorted(
        {o for s in outcome_stacks for o in s},
        key=lambda o: (list(OUTCOME_COLOURS).index(o) if o in OUTCOME_COLOURS else 99, o),
    )
    category_stacks = [p["by_category"] for p in periods]
    names = top_names(category_stacks)
    category_series = [(n, PALETTE[i]) for i, n in enumerate(names)]
    folded = keep_top(category_stacks, names)
    if any(REST in s for s in folded):
        category_series.append((REST, REST_COLOUR))
    agreement_periods = m.get("agreement_periods") or periods
    judged_by_cat: dict[str, float] = {}
    for p in agreement_periods:
        for cat, a in p["agreement"].items():
            judged_by_cat[cat] = judged_by_cat.get(cat, 0) + a["judged"]
    rates = m["time_saved"]
    saved = [
        {
            "automated replies": p["automated"] * rates["minutes_per_auto_reply"],
            "assist notes": p["assisted"] * rates["minutes_per_assist_note"],
        }
        for p in periods
    ]
    return {
        "outcomes": stacked_chart(
            periods,
            outcome_stacks,
            [(o, OUTCOME_COLOURS.get(o, FALLBACK_COLOUR)) for o in outcomes],
            title=f"Decisions per {word}",
            desc="every decision recorded, stacked by the outcome the policy chose",
        ),
        "categories": stacked_chart(
            periods,
            folded,
            category_series,
            title=f"Categories per {word}",
            desc="every decision recorded, stacked by the category Deskguard read",
        ),
        "automation": line_chart(
            periods,
            [
                ("automated", AUTO_COLOUR, [p["automation_rate"] for p in periods]),
                ("escalated", ESCALATION_COLOUR, [p["escalation_rate"] for p in periods]),
            ],
            title=f"Automation and escalation rate per {word}",
            desc="share of finished decisions answered automatically and escalated",
            top=1.0,
        ),
        "category_rates": category_rates_chart(m["categories"]),
        "agreement": agreement_heatmap(
            agreement_periods, top_names([judged_by_cat], limit=len(judged_by_cat))
        ),
        "reliability": reliability_chart(m["reliability"]),
        "time_saved": stacked_chart(
            periods,
            saved,
            [("automated replies", AUTO_COLOUR), ("assist notes", OTHER_COLOUR)],
            title=f"Agent time saved per {word}",
            desc=f"estimate: {rates['formula']}",
            fmt=_minutes,
        ),
        "cost_per_ticket": line_chart(
            periods,
            [("cost per ticket", LINE_COLOUR, [p["cost_usd_per_ticket"] for p in periods])],
            title=f"Cost per ticket per {word}",
            desc="classification and drafting cost divided by the tickets with a decision",
            fmt=_money,
            axis_fmt=_money_axis,
        ),
    }
