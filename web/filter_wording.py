"""The filters of a logged search (``search.query_filters.filters_of``'s
dict) as staff read them on /staff/queries: a short text in the interface
language ("栏目：体育；日期：一周内") and the URL that runs the same search
again (keeping the interface language)."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlencode

from flask_babel import gettext

from search.query_filters import LIST_FILTERS

from . import i18n
from .labels import FIELD_LABELS, RANGE_LABELS, SORT_LABELS, label


def filters_text(filters: dict | None) -> str:
    """``filters`` as one line in the interface language ("" for none);
    values are shown as given (the template escapes them)."""
    if not filters:
        return ""
    parts = [gettext("%(name)s：%(values)s", name=label(FIELD_LABELS, name), values="、".join(filters[name]))
             for name in LIST_FILTERS if filters.get(name)]
    if filters.get("range"):
        parts.append(gettext("日期：%(range)s", range=label(RANGE_LABELS, filters["range"])))
    elif filters.get("from") or filters.get("to"):
        start, end = (filters.get("from") or "")[:10], _last_day(filters.get("to") or "")
        parts.append(gettext("日期：%(start)s 至 %(end)s", start=start, end=end) if start and end
                     else gettext("日期：%(start)s 起", start=start) if start
                     else gettext("日期：%(end)s 前", end=end))
    if filters.get("sort"):
        parts.append(gettext("排序：%(sort)s", sort=label(SORT_LABELS, filters["sort"])))
    if filters.get("fields") == "title":
        parts.append(gettext("只搜标题"))
    return gettext("；").join(parts)


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
    for name in LIST_FILTERS:
        params.extend((name, value) for value in filters.get(name) or ())
    if filters.get("range"):
        params.append(("range", filters["range"]))
    for bound in ("from", "to"):
        if filters.get(bound):
            params.append((bound, filters[bound]))
    if filters.get("sort"):
        params.append(("sort", filters["sort"]))
    return "/search?" + urlencode(params + i18n.hl_pairs())
