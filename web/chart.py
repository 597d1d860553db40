"""The results page's comparison chart: several series of a timeline
comparison (``SearchEngine.compare``) as the geometry of an accessible SVG
line chart (drawn by ``templates/search.html``) and the rows of its data
table.  Each series has a colour, a dash pattern and a marker shape of its
own, so the lines are told apart without colour too."""

from __future__ import annotations

from flask_babel import format_percent, gettext

WIDTH, HEIGHT = 640, 180
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 8, 20  # margins in SVG units: room for the axis labels
# Okabe-Ito colours (told apart with the common colour-vision deficiencies),
# each with its own dash pattern and marker.
STYLES = (("#0072b2", "", "circle"), ("#d55e00", "6 3", "square"), ("#009e73", "2 3", "triangle"),
          ("#cc79a7", "9 3 2 3", "diamond"), ("#6b4e00", "1 2", "cross"))
MAX_MARKED = 80  # points beyond which markers are left out (they would cover the lines)


def _marker(shape: str, x: float, y: float, r: float = 3.2) -> str:
    """An SVG path drawing ``shape`` centred on (x, y)."""
    if shape == "circle":
        return f"M{x - r:.1f},{y:.1f}a{r},{r} 0 1,0 {2 * r},0a{r},{r} 0 1,0 {-2 * r},0"
    if shape == "square":
        return f"M{x - r:.1f},{y - r:.1f}h{2 * r}v{2 * r}h{-2 * r}z"
    if shape == "triangle":
        return f"M{x:.1f},{y - r:.1f}L{x + r:.1f},{y + r:.1f}L{x - r:.1f},{y + r:.1f}z"
    if shape == "diamond":
        return f"M{x:.1f},{y - r:.1f}L{x + r:.1f},{y:.1f}L{x:.1f},{y + r:.1f}L{x - r:.1f},{y:.1f}z"
    return f"M{x - r:.1f},{y - r:.1f}L{x + r:.1f},{y + r:.1f}M{x - r:.1f},{y + r:.1f}L{x + r:.1f},{y - r:.1f}"


def value_text(value, share: bool) -> str:
    """A bucket's value as shown: a count, or a share as a percentage
    (one decimal); "–" for a share of a period without articles."""
    if value is None:
        return "–"
    return format_percent(value, "#,##0.0%") if share else str(value)


def series_chart(data: dict, share: bool) -> dict:
    """The chart of ``data`` (``SearchEngine.compare``'s answer, with
    ``all``/``share`` in its buckets when ``share``): ``{"width", "height",
    "series": [{"query", "total", "colour", "dash", "marker" (legend
    marker path), "path" (the line; gaps where a share is undefined),
    "points" (marker paths)}], "ymax" (text), "first", "last" (labels),
    "rows": [{"start", "cells": [text per series]}]}``; None when no
    series has a dated match."""
    series = data["series"]
    if not series or not series[0]["buckets"]:
        return None
    key = "share" if share else "count"
    n = len(series[0]["buckets"])
    values = [[b[key] for b in s["buckets"]] for s in series]
    highest = max((v for row in values for v in row if v is not None), default=0)
    peak = highest or 1
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + (inner_w * i / (n - 1) if n > 1 else inner_w / 2)

    def y(v: float) -> float:
        return TOP + inner_h * (1 - v / peak)

    out = []
    for i, (s, row) in enumerate(zip(series, values)):
        colour, dash, shape = STYLES[i % len(STYLES)]
        path, pen_down = [], False
        for j, v in enumerate(row):
            if v is None:
                pen_down = False
                continue
            path.append(f"{'L' if pen_down else 'M'}{x(j):.1f},{y(v):.1f}")
            pen_down = True
        points = ([_marker(shape, x(j), y(v)) for j, v in enumerate(row) if v is not None]
                  if n <= MAX_MARKED else [])
        out.append({"query": s["query"] or gettext("全部"), "total": s["total"], "colour": colour, "dash": dash,
                    "marker": _marker(shape, 12, 6), "path": "".join(path), "points": points})
    rows = [{"start": b["start"], "cells": [value_text(row[j], share) for row in values]}
            for j, b in enumerate(series[0]["buckets"])]
    return {"width": WIDTH, "height": HEIGHT, "left": LEFT, "top": TOP, "bottom": HEIGHT - BOTTOM,
            "right": WIDTH - RIGHT, "series": out, "ymax": value_text(highest, share),
            "first": rows[0]["start"], "last": rows[-1]["start"], "rows": rows}
