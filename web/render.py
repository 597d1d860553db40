"""Shapes shared by pages and API (no logic beyond formatting)."""

from __future__ import annotations

from flask_babel import gettext, ngettext


def article_json(stored: dict) -> dict:
    return {
        "id": stored["id"],
        "title": stored.get("title", ""),
        "body": stored.get("body", "") or "",
        "published": stored.get("published_text"),
        "category": stored.get("category"),
        "source": stored.get("source"),
        "author": stored.get("author"),
        "url": stored.get("url"),
        "tags": stored.get("tags") or [],
        "lang": stored.get("lang"),
    }


def paragraphs(body: str) -> list[str]:
    return [p for p in (body or "").split("\n") if p.strip()]


CHART_WIDTH, CHART_HEIGHT = 640, 120


def bucket_range(start: str) -> tuple[str, str]:
    """A timeline bar's label as the (from, to) dates it covers, inclusive."""
    import calendar

    parts = [int(p) for p in start.split("-")]
    if len(parts) == 1:
        return f"{parts[0]:04d}-01-01", f"{parts[0]:04d}-12-31"
    if len(parts) == 2:
        last = calendar.monthrange(parts[0], parts[1])[1]
        return f"{parts[0]:04d}-{parts[1]:02d}-01", f"{parts[0]:04d}-{parts[1]:02d}-{last:02d}"
    return start, start


def timeline_bars(timeline: dict | None, link) -> list[dict]:
    """Bars for the coverage chart (SVG drawn by the template): geometry,
    a readable label and a link narrowing the search to the bar's dates.
    ``link(from, to)``: the URL."""
    if not timeline or not timeline["buckets"]:
        return []
    buckets = timeline["buckets"]
    peak = max(b["count"] for b in buckets) or 1
    width = CHART_WIDTH / len(buckets)
    unit = {"year": gettext("年"), "month": gettext("月"), "day": gettext("日")}[timeline["interval"]]
    bars = []
    for i, b in enumerate(buckets):
        height = round((CHART_HEIGHT - 4) * b["count"] / peak, 1)
        date_from, date_to = bucket_range(b["start"])
        bars.append({"x": round(i * width, 2), "w": round(max(width - 1, 0.5), 2), "h": height,
                     "y": round(CHART_HEIGHT - height, 1), "label": ngettext("%(start)s（%(unit)s）：%(num)d 篇", "%(start)s（%(unit)s）：%(num)d 篇",
                                              b["count"], start=b["start"], unit=unit),
                     "count": b["count"], "href": link(date_from, date_to)})
    return bars
