"""The filters of a logged search (``search.query_filters.filters_of``'s
dict) as staff read them on /staff/queries: a short text ("栏目：体育；
日期：一周内") and the URL that runs the same search again."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlencode

NAMES = {"category": "栏目", "source": "来源", "author": "作者", "tag": "标签"}
RANGES = {"day": "一天内", "week": "一周内", "month": "一月内", "year": "一年内"}
SORTS = {"newest": "按时间（最新）", "oldest": "按时间（最早）"}


def filters_text(filters: dict | None) -> str:
    """``filters`` as one line of Chinese ("" for none); values are shown
    as given (the template escapes them)."""
    if not filters:
        return ""
    parts = [f"{label}：{'、'.join(filters[name])}" for name, label in NAMES.items() if filters.get(name)]
    if filters.get("range"):
        parts.append(f"日期：{RANGES.get(filters['range'], filters['range'])}")
    elif filters.get("from") or filters.get("to"):
        start, end = (filters.get("from") or "")[:10], _last_day(filters.get("to") or "")
        parts.append(f"日期：{start or '…'} 至 {end or '…'}" if start and end
                     else f"日期：{start} 起" if start else f"日期：{end} 前")
    if filters.get("sort"):
        parts.append(f"排序：{SORTS.get(filters['sort'], filters['sort'])}")
    if filters.get("fields") == "title":
        parts.append("只搜标题")
    return "；".join(parts)


def _last_day(bound: str) -> str:
    """The last day an exclusive end bound covers (``to`` of whole days is
    the next day's 00:00: 1990-12-31 was asked for, 1991-01-01 is kept)."""
    if not bound:
        return ""
    try:
        end = datetime.fromisoformat(bound)
    except ValueError:
        return bound[:10]
    if end.time() == datetime.min.time():
        end -= timedelta(days=1)
    return end.date().isoformat()


def filters_url(q: str, filters: dict | None) -> str:
    """/search with ``q`` and ``filters`` (the search as the reader ran it;
    a date range as its ``from``/``to`` days)."""
    params: list[tuple[str, str]] = [("q", q)]
    filters = filters or {}
    for name in NAMES:
        params.extend((name, value) for value in filters.get(name) or ())
    if filters.get("range"):
        params.append(("range", filters["range"]))
    for bound in ("from", "to"):
        if filters.get(bound):
            params.append((bound, filters[bound]))
    if filters.get("sort"):
        params.append(("sort", filters["sort"]))
    return "/search?" + urlencode(params)
