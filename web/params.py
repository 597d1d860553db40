"""Request parameters -> SearchRequest: the one place both the HTML pages and
the JSON API turn user input into an engine request, with clear errors."""

from __future__ import annotations

import re

from datetime import datetime, timedelta

from search.fields import DEFAULT_FACETS, FACET_FIELDS, MAX_DISTANCE, MAX_MENTIONS, facet_names
from search.hybrid import MODES
from search.models import SORTS, SearchRequest
from search.query import compose
from search.timeutil import NEWSROOM_TZ, DateError, parse_range, parse_year
from search.errors import SearchServiceError

RANGES = {"day": timedelta(days=1), "week": timedelta(days=7), "month": timedelta(days=31),
          "year": timedelta(days=366)}
FILTERS = FACET_FIELDS


class ParamError(ValueError, SearchServiceError, status=400):
    """Bad user input: answered with 400 and this message."""


_INTEGER = re.compile(r"-?[0-9]{1,12}")


class _Args:
    """Request arguments read as a MultiDict reads them (``get(name)``: the
    first value or ``default``; ``getlist(name)``: every value), from one
    plain dict of lists.  A search reads some 50 names, most of them absent,
    and werkzeug's ``MultiDict.get`` raises and catches an HTTP exception
    for each absent one: ~40 microseconds a search."""

    __slots__ = ("_lists",)

    def __init__(self, lists: dict[str, list[str]]):
        self._lists = lists

    def get(self, name: str, default=None):
        values = self._lists.get(name)
        return values[0] if values else default

    def getlist(self, name: str) -> list[str]:
        return list(self._lists.get(name, ()))


def _readable(args):
    """``args`` (a MultiDict, or anything with ``get``/``getlist``) as ``_Args``
    when it is a MultiDict; other readers as they are."""
    lists = getattr(args, "lists", None)
    return _Args(dict(lists())) if lists is not None and not isinstance(args, _Args) else args


def int_param(args, name: str, default: int, lo: int, hi: int) -> int:
    """``args[name]`` as an integer in [lo, hi] (absent or empty: ``default``).
    Only ASCII digits with an optional minus: Python's ``int`` would also
    take full-width digits, other scripts' digits, "1_000" and spaces,
    none of which a URL's number is.  Raises ParamError otherwise."""
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    if not _INTEGER.fullmatch(raw):
        raise ParamError(f"'{name}' must be an integer (ASCII digits), got {raw!r}")
    value = int(raw)
    if not lo <= value <= hi:
        raise ParamError(f"'{name}' must be between {lo} and {hi}, got {value}")
    return value


def choice_param(args, name: str, default: str, options) -> str:
    """One of ``options`` (an empty value means ``default``)."""
    value = args.get(name) or default
    if value not in options:
        raise ParamError(f"'{name}' must be one of {', '.join(options)}, got {value!r}")
    return value


def date_range(args) -> tuple[datetime | None, datetime | None]:
    """``from`` / ``to`` as (start inclusive, end exclusive): whole days in
    newsroom time, inclusive, or date-times as given (``search.timeutil``,
    the one reading shared with the CLI); a bad or empty range is a 400."""
    try:
        return parse_range(args.get("from"), args.get("to"))
    except DateError as exc:
        raise ParamError(str(exc)) from None


# Advanced search fields (form and API alike); they are written into the
# query text, so the result page shows a query staff can read and edit.
ADVANCED = ("all", "exact", "any", "none", "scope", "mentions", "min_mentions", "same_a", "same_b", "same_unit",
            "near_a", "near_b", "near_n", "near_order", "byline", "source_has", "category_has")
# Settings of other fields: on their own they ask for nothing (the form
# always sends them), so they neither start an advanced search nor need one.
SETTINGS = ("scope", "min_mentions", "same_unit", "near_n", "near_order")
SCOPES = ("all", "title", "lead")
SAME_UNITS = ("sentence", "paragraph")


def _pair(args, a: str, b: str, what: str) -> tuple[str, str]:
    """Two fields that go together: both filled in, or neither."""
    left, right = (args.get(a) or "").strip(), (args.get(b) or "").strip()
    if bool(left) != bool(right):
        raise ParamError(f"'{a}' and '{b}' go together: {what}")
    return left, right


def advanced_query(args) -> str:
    """The advanced fields of ``args`` as query text ("" when none is given).

    Raises ParamError for a value out of range or a field without its
    partner (same_a/same_b, near_a/near_b, near_n with them)."""
    args = _readable(args)
    for name in ADVANCED:
        if len(args.get(name) or "") > 200:
            raise ParamError(f"'{name}' too long (at most 200 characters)")
    # Settings are checked even when unused: a wrong value is never ignored.
    scope = choice_param(args, "scope", "all", SCOPES)
    same_unit = choice_param(args, "same_unit", "sentence", SAME_UNITS)
    near_order = choice_param(args, "near_order", "0", ("0", "1"))
    near_n = int_param(args, "near_n", 0, 1, MAX_DISTANCE)
    mentions = (args.get("mentions") or "").strip()
    min_mentions = int_param(args, "min_mentions", 2 if mentions else 0, 1 if mentions else 0, MAX_MENTIONS)
    if not any((args.get(name) or "").strip() for name in ADVANCED if name not in SETTINGS):
        return ""
    same_a, same_b = _pair(args, "same_a", "same_b", "two terms to find in one sentence (or paragraph: same_unit)")
    near_a, near_b = _pair(args, "near_a", "near_b", "two terms to find within near_n words of each other")
    if near_a and not near_n:
        raise ParamError(f"'near_n' is needed with near_a and near_b: at most how many words apart (1 to {MAX_DISTANCE})")
    return compose(all_words=args.get("all") or "", exact=args.get("exact") or "",
                   any_words=args.get("any") or "", none_words=args.get("none") or "", scope=scope,
                   mentions=mentions, min_mentions=min_mentions, same_left=same_a, same_right=same_b,
                   same_unit=same_unit, near_left=near_a, near_right=near_b, near_distance=near_n,
                   near_ordered=near_order == "1", author=args.get("byline") or "",
                   source=args.get("source_has") or "", category=args.get("category_has") or "")


def query_text(q: str, config: dict) -> str:
    """``q`` stripped; ParamError (400) past ``SEARCH_MAX_QUERY_LENGTH``
    characters (the results page's rule, also for the article page's ``q``)."""
    q = (q or "").strip()
    max_len = config["SEARCH_MAX_QUERY_LENGTH"]
    if len(q) > max_len:
        raise ParamError(f"query too long: {len(q)} characters (at most {max_len})")
    return q


def requested_facets(args) -> tuple[str, ...]:
    """The ``facets`` parameter: comma-separated names of ``FACET_FIELDS``
    (category, source, author, tag, year; repeated parameters join);
    absent: ``DEFAULT_FACETS`` (category, source); empty: none.  Raises
    ParamError naming an unknown name and the allowed ones."""
    given = args.getlist("facets")
    if not given:
        return DEFAULT_FACETS
    try:
        return facet_names(given)
    except ValueError as exc:
        raise ParamError(str(exc)) from None


def search_request(args, config: dict, now: datetime | None = None, facets=None) -> SearchRequest:
    """``args`` (a MultiDict) as a SearchRequest.  ``facets``: the facets
    to count, None for the ``facets`` parameter (``requested_facets``);
    views that show no facets pass ``()``.  Raises ParamError (400) naming
    the bad parameter."""
    args = _readable(args)
    q = query_text(" ".join(part for part in ((args.get("q") or "").strip(), advanced_query(args)) if part),
                   config)
    size = int_param(args, "size", 10, 1, config["SEARCH_MAX_PAGE_SIZE"])
    page = int_param(args, "page", 1, 1, 100000)
    if page * size > config["SEARCH_MAX_RESULT_WINDOW"]:
        raise ParamError(f"page {page} is beyond the first {config['SEARCH_MAX_RESULT_WINDOW']} results")
    sort = choice_param(args, "sort", "relevance", SORTS)
    date_from, date_to = date_range(args)
    rng = args.get("range") or ""
    if rng:
        choice_param(args, "range", "", tuple(RANGES))
        if date_from or date_to:
            raise ParamError("'range' goes without 'from' and 'to' (a period back from now, or those dates)")
        date_from = (now or datetime.now(NEWSROOM_TZ)) - RANGES[rng]
    filters = {}
    for name in FILTERS:
        values = [v.strip() for v in args.getlist(name) if v.strip()]
        if any(len(v) > 200 for v in values):
            raise ParamError(f"'{name}' value too long")
        filters[name] = values
    for y in filters["year"]:
        try:
            parse_year(y, now)
        except DateError as exc:
            raise ParamError(str(exc)) from None
    correct = choice_param(args, "correct", "1", ("0", "1"))
    # Near-duplicates (wire copy, republished versions) as one result: on
    # unless asked otherwise, for readers and API clients alike.
    group = choice_param(args, "group", "1", ("0", "1"))
    # lexical | hybrid | semantic (search.hybrid); only /api/search and the results page rank by it
    # (no mode given: the service's default, which falls back to lexical where it cannot run)
    mode = choice_param(args, "mode", config.get("SEARCH_DEFAULT_MODE", "lexical"), MODES)
    return SearchRequest(q=q, page=page, size=size, sort=sort, date_from=date_from, date_to=date_to,
                         facets=requested_facets(args) if facets is None else tuple(facets),
                         correct=correct == "1", group=group == "1", mode=mode,
                         mode_default=not args.get("mode"), **filters)


def query_period(args, now: float | None = None) -> tuple[float, float, int, str]:
    """(since, until) as epoch seconds, limit, and ``zero`` ("0": every
    query; "1": those whose words found nothing; "filters": searches whose
    filters left nothing) for the query reports: ``days`` (default 7)
    whole newsroom days up to today (``days=1``: today since 00:00 Beijing
    time), or ``from``/``to``.
    Whole days are what the query log keeps aggregated (fast at any size)."""
    import time as _time

    now = _time.time() if now is None else now
    date_from, date_to = date_range(args)
    days = int_param(args, "days", 7, 1, 3650)
    tomorrow = datetime.combine(datetime.fromtimestamp(now, NEWSROOM_TZ).date() + timedelta(days=1),
                                datetime.min.time(), NEWSROOM_TZ).timestamp()
    since = date_from.timestamp() if date_from else tomorrow - days * 86400
    until = date_to.timestamp() if date_to else tomorrow
    if since >= until:
        raise ParamError("'from' must be before 'to' (or before now, without 'to')")
    limit = int_param(args, "limit", 50, 1, 500)
    zero = choice_param(args, "zero", "0", ("0", "1", "filters"))
    return since, until, limit, zero
