"""Charts drawn on the server as SVG: no script, no CDN, nothing to load,
so they work offline, under a strict Content-Security-Policy
(script-src 'self'), in a feed reader and in a screen reader (each chart has
a table of the same numbers). Each row is HTML (its label wraps on a phone)
with a small SVG bar or strip, so the chart reads at 390 px as at 1280 px."""
from __future__ import annotations

import math

from markupsafe import Markup, escape

SERIES = {
    "stories_confirmed": ("stories with a confirmed outcome", "ev-c1"),
    "stories_suggested": ("stories with suggested outcomes only", "ev-c2"),
    "findings": ("findings", "ev-c3"),
}
DESIGN_CLASSES = 8  # ev-d0 .. ev-d7 in evidence.css, then repeated


def bar(row: dict, keys: list[str], top: int) -> Markup:
    """One stacked horizontal bar (width 0-100 of the largest row)."""
    x, rects = 0.0, []
    for key in keys:
        n = row.get(key) or 0
        if not n:
            continue
        w = 100.0 * n / (top or 1)
        label, cls = SERIES[key]
        rects.append(f'<rect class="{cls}" x="{x:.2f}" y="0" width="{w:.2f}" height="10"><title>{n} {escape(label)}</title></rect>')
        x += w
    return Markup('<svg class="ev-barsvg" viewBox="0 0 100 10" preserveAspectRatio="none" role="img" '
                  f'aria-label="{escape(", ".join(f"{row.get(k) or 0} {SERIES[k][0]}" for k in keys))}">'
                  + "".join(rects) + "</svg>")


def bars(rows: list[dict], keys: list[str]) -> list[dict]:
    """Rows with their bar SVG, scaled to the largest total."""
    top = max([sum(r.get(k) or 0 for k in keys) for r in rows] or [1]) or 1
    return [{**r, "svg": bar(r, keys, top)} for r in rows]


TICKS = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000]


def _x(value: float, lo: float, hi: float) -> float:
    v = max(abs(value), 0.1)
    return 4 + 292 * (math.log10(v) - lo) / ((hi - lo) or 1)


def value_strips(values: list[dict]) -> dict:
    """Findings' values by approach, one strip per approach on a shared log
    scale of the size of the number, each dot coloured by study design
    (hollow for a negative value). Units differ, so each dot's title says
    what it counts."""
    designs = sorted({v["design"] for v in values})
    cls = {d: f"ev-d{i % DESIGN_CLASSES}" for i, d in enumerate(designs)}
    if not values:
        return {"rows": [], "designs": [], "axis": Markup("")}
    lo = math.floor(math.log10(max(min(abs(v["value"]) for v in values), 0.1)))
    hi = math.ceil(math.log10(max(max(abs(v["value"]) for v in values), 1)))
    hi = hi if hi > lo else lo + 1
    rows: dict[str, list[dict]] = {}
    for v in values:
        rows.setdefault(v["approach_name"], []).append(v)
    out = []
    for name, items in rows.items():
        dots = []
        for i, v in enumerate(items):
            x = _x(v["value"], lo, hi)
            y = 8 + (i % 3) * 5  # three lanes, so equal values do not hide each other
            hollow = " ev-neg" if v["value"] < 0 else ""
            dots.append(f'<circle class="{cls[v["design"]]}{hollow}" cx="{x:.1f}" cy="{y}" r="3.2">'
                        f'<title>{escape(v["label"])} ({escape(v["design"])}): {escape(v["statement"])}</title></circle>')
        svg = Markup('<svg class="ev-strip" viewBox="0 0 300 24" role="img" '
                     f'aria-label="{escape(name)}: {len(items)} values">'
                     '<line x1="4" x2="296" y1="23.5" y2="23.5" class="ev-axisline"/>' + "".join(dots) + "</svg>")
        out.append({"approach": name, "svg": svg, "values": items})
    ticks = []
    for t in TICKS:
        if lo <= math.log10(t) <= hi:
            x = _x(t, lo, hi)
            label = f"{t // 1_000_000}M" if t >= 1_000_000 else f"{t // 1000}k" if t >= 1000 else str(t)
            ticks.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="10" y2="16" class="ev-axisline"/>'
                         f'<text x="{x:.1f}" y="9" text-anchor="middle">{label}</text>')
    axis = Markup('<svg class="ev-strip ev-axis" viewBox="0 0 300 16" aria-hidden="true">' + "".join(ticks) + "</svg>")
    return {"rows": out, "designs": [(d, cls[d]) for d in designs], "axis": axis}


def page(data: dict) -> dict:
    """Template variables of /-/charts from pages.charts()."""
    domains: dict[str, dict] = {}
    for d in data["by_domain"]:
        domains.setdefault(d["framework"], {"title": d["framework_title"], "rows": []})["rows"].append(d)
    for fw in domains.values():
        fw["rows"] = bars(fw["rows"], ["stories_confirmed", "stories_suggested", "findings"])
    return {
        "by_approach": bars(data["by_approach"], ["stories_confirmed", "stories_suggested", "findings"]),
        "by_domain": domains,
        "values": value_strips(data["values"]),
        "series": SERIES,
    }
