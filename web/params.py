"""Request parameters -> SearchRequest: the one place both the HTML pages and
the JSON API turn user input into an engine request, with clear errors."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from search.models import SORTS, SearchRequest
from search.timeutil import NEWSROOM_TZ

RANGES = {"day": timedelta(days=1), "week": timedelta(days=7), "month": timedelta(days=31),
          "year": timedelta(days=366)}
FILTERS = ("category", "source", "author", "tag")


class ParamError(ValueError):
    """Bad user input: answered with 400 and this message."""


def _int(args, name: str, default: int, lo: int, hi: int) -> int:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ParamError(f"'{name}' must be an integer, got {raw!r}") from None
    if not lo <= value <= hi:
        raise ParamError(f"'{name}' must be between {lo} and {hi}, got {value}")
    return value


def _date(args, name: str, end: bool = False) -> datetime | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        if len(raw) == 10:
            day = datetime.strptime(raw, "%Y-%m-%d").date()
            moment = datetime.combine(day, time(0, 0), NEWSROOM_TZ)
            return moment + timedelta(days=1) if end else moment  # 'to' includes that day
        dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        return dt if dt.tzinfo else dt.replace(tzinfo=NEWSROOM_TZ)
    except ValueError:
        raise ParamError(f"'{name}' must be a date like 2021-05-03, got {raw!r}") from None


def search_request(args, config: dict, now: datetime | None = None, facets=("category", "source")) -> SearchRequest:
    q = (args.get("q") or "").strip()
    max_len = config["SEARCH_MAX_QUERY_LENGTH"]
    if len(q) > max_len:
        raise ParamError(f"query too long: {len(q)} characters (at most {max_len})")
    size = _int(args, "size", 10, 1, config["SEARCH_MAX_PAGE_SIZE"])
    page = _int(args, "page", 1, 1, 100000)
    if page * size > config["SEARCH_MAX_RESULT_WINDOW"]:
        raise ParamError(f"page {page} is beyond the first {config['SEARCH_MAX_RESULT_WINDOW']} results")
    sort = args.get("sort") or "relevance"
    if sort not in SORTS:
        raise ParamError(f"'sort' must be one of {', '.join(SORTS)}, got {sort!r}")
    date_from = _date(args, "from")
    date_to = _date(args, "to", end=True)
    rng = args.get("range") or ""
    if rng:
        if rng not in RANGES:
            raise ParamError(f"'range' must be one of {', '.join(RANGES)}, got {rng!r}")
        date_from = (now or datetime.now(NEWSROOM_TZ)) - RANGES[rng]
        date_to = None
    if date_from and date_to and date_from >= date_to:
        raise ParamError("'from' must be before 'to'")
    filters = {}
    for name in FILTERS:
        values = [v.strip() for v in args.getlist(name) if v.strip()]
        if any(len(v) > 200 for v in values):
            raise ParamError(f"'{name}' value too long")
        filters[name] = values
    correct = args.get("correct", "1")
    if correct not in ("0", "1"):
        raise ParamError(f"'correct' must be 0 or 1, got {correct!r}")
    return SearchRequest(q=q, page=page, size=size, sort=sort, date_from=date_from, date_to=date_to,
                         facets=tuple(facets), correct=correct == "1", **filters)


def query_period(args, now: float | None = None) -> tuple[float, float, int, bool]:
    """(since, until) as epoch seconds, limit, zero-results-only for the
    query reports: ``days`` (default 7) back from now, or ``from``/``to``."""
    import time as _time

    now = _time.time() if now is None else now
    date_from, date_to = _date(args, "from"), _date(args, "to", end=True)
    days = _int(args, "days", 7, 1, 3650)
    since = date_from.timestamp() if date_from else now - days * 86400
    until = date_to.timestamp() if date_to else now + 1
    if since >= until:
        raise ParamError("'from' must be before 'to'")
    limit = _int(args, "limit", 50, 1, 500)
    zero = args.get("zero", "0")
    if zero not in ("0", "1"):
        raise ParamError(f"'zero' must be 0 or 1, got {zero!r}")
    return since, until, limit, zero == "1"
