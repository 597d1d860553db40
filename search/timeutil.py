"""Dates and times in the newsroom's time zone (Beijing / Hong Kong, UTC+8).

A date written alone means two different things here, on purpose:

* **an article's publication date** (``parse_published``): the indexer
  stores ``2021-05-03`` as noon that day, newsroom time, so that recency
  and date order treat an article without a time of day fairly;
* **a bound of a search** (``parse_bound``, ``parse_range``): ``from=D``
  starts at D 00:00 and ``to=D`` ends at D+1 00:00 (exclusive), newsroom
  time, so a range of dates is a range of *whole days, inclusive*, and a
  date-only article dated D always falls inside ``from=D&to=D``.

Date-times are taken as given in both (a naive one is newsroom time).

**Plausible dates.**  Both readings accept only instants from
``PLAUSIBLE_START`` (1900-01-01 00:00, newsroom time) to the end of the day
after today (``plausible_end``, newsroom time): a news article is neither
older nor from further ahead (an embargoed story dated tomorrow is fine),
and every later computation (epoch seconds, the timeline's buckets, the
index's "no date" marker far below the range) stays well defined.
Every place that filters by date (CLI, API, pages, exports, timeline,
staff query reports) reads its bounds with ``parse_range``; every page
and export shows publication times with ``local_date`` / ``local_time`` /
``local_iso``, so what is shown, filtered and counted per day agrees.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from .errors import SearchServiceError

# Both corpora are Beijing / Hong Kong time; a date without a zone is local.
NEWSROOM_TZ = timezone(timedelta(hours=8))

_DATE = r"\d{4}-\d{2}-\d{2}"
# What a bound may be besides a date: ISO 8601 extended form, minutes at
# least, optional seconds/fraction and zone (Z, +08:00 or +0800).
_TIME = r"[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?"
DATE_ONLY = re.compile(rf"^{_DATE}$")
DATE_TIME = re.compile(rf"^{_DATE}{_TIME}$")
BOUND_PATTERN = rf"^{_DATE}({_TIME})?$"  # either (the API description's pattern)
BOUND_HELP = "use YYYY-MM-DD for a whole day in Beijing time, or a date and time such as 2024-03-01T08:00+08:00"


class DateError(ValueError, SearchServiceError, status=400):
    """A search bound that is not a date (or not a usable one); the message
    is meant for the person who typed it."""


PLAUSIBLE_START = datetime(1900, 1, 1, tzinfo=NEWSROOM_TZ)
PLAUSIBLE_START_TS = int(PLAUSIBLE_START.timestamp())  # -2209017600


def plausible_end(now: datetime | float | None = None) -> datetime:
    """The end (exclusive) of the plausible range: 00:00 newsroom time of
    the day after tomorrow, i.e. the whole of tomorrow is still plausible.
    ``now``: an aware datetime or epoch seconds (default: the clock)."""
    if now is None:
        now = datetime.now(NEWSROOM_TZ)
    elif not isinstance(now, datetime):
        now = datetime.fromtimestamp(now, NEWSROOM_TZ)
    today = now.astimezone(NEWSROOM_TZ).date()
    return datetime.combine(today + timedelta(days=2), time(0, 0), NEWSROOM_TZ)


def plausible_range_text(now=None) -> str:
    """The plausible range in words (``1900-01-01 to <tomorrow>, Beijing
    time``) for error messages; ``now`` as in ``plausible_end``."""
    last = (plausible_end(now) - timedelta(days=1)).date()
    return f"{PLAUSIBLE_START.date()} to {last}, Beijing time"


def check_plausible(moment: datetime, raw: str, end: bool = False, now=None) -> datetime:
    """``moment`` unchanged if it lies in the plausible range (an exclusive
    range end, ``end=True``, may equal ``plausible_end``); else DateError
    naming ``raw`` and the range."""
    limit = plausible_end(now)
    try:
        inside = PLAUSIBLE_START <= moment and (moment <= limit if end else moment < limit)
    except OverflowError:  # 0001-01-01T00:00+14:00 is before year 1 in UTC
        inside = False
    if not inside:
        raise DateError(f"{raw!r} is outside the plausible range of dates ({plausible_range_text(now)})")
    return moment


def parse_published(value: str, now=None) -> datetime:
    """An article's publication time, as the index stores it: '2021-05-03'
    is noon that day in newsroom time (not midnight: see the module
    docstring), otherwise an ISO date-time; naive values are newsroom time.
    Raises ``DateError`` (a ValueError) if the instant is outside the
    plausible range (``check_plausible``; ``now``: epoch seconds or an aware
    datetime, default the clock), ValueError if ``value`` is not ISO 8601."""
    value = value.strip()
    if len(value) == 10:
        d = datetime.strptime(value, "%Y-%m-%d").date()
        dt = datetime.combine(d, time(12, 0), NEWSROOM_TZ)
    else:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=NEWSROOM_TZ)
    return check_plausible(dt, value, now=now)


def published_time(published_text: str | None) -> datetime | None:
    """A stored publication string as the index orders it
    (``parse_published``: a date alone is noon that day), or None when it
    is empty or cannot be read."""
    if not published_text:
        return None
    try:
        return parse_published(published_text)
    except ValueError:
        return None


def parse_bound(value: str, end: bool = False, now=None) -> datetime:
    """One bound of a date range, as an aware datetime.

    ``YYYY-MM-DD`` is a whole day in newsroom time: its start
    (00:00+08:00), or with ``end=True`` the start of the next day, the
    range's exclusive end.  A date-time (``2024-03-01T08:30``, ``...Z``,
    ``...+05:30``) is that instant, newsroom time when it has no zone.
    Raises ``DateError`` for anything else (``yesterday``, ``2021-02-30``,
    ``20240301``, a week date) and for a bound outside the plausible range
    (``check_plausible``: ``9999-12-31``, ``0001-01-01T00:00:00+14:00``)."""
    raw = value.strip()
    try:
        if DATE_ONLY.match(raw):
            day = date.fromisoformat(raw)
            moment = datetime.combine(day, time(0, 0), NEWSROOM_TZ)
            if day < PLAUSIBLE_START.date() or moment >= plausible_end(now):
                raise DateError(f"{raw!r} is outside the plausible range of dates ({plausible_range_text(now)})")
            return moment + timedelta(days=1) if end else moment
        if DATE_TIME.match(raw):
            dt = datetime.fromisoformat(raw)
            dt = dt if dt.tzinfo is not None else dt.replace(tzinfo=NEWSROOM_TZ)
            check_plausible(dt, raw, end=end, now=now)
            if dt.microsecond:
                dt = dt.replace(microsecond=0) + timedelta(seconds=1)
            return dt
    except DateError:
        raise
    except OverflowError:
        raise DateError(f"out of range: {raw!r}") from None
    except ValueError:
        raise DateError(f"not a valid date: {raw!r} ({BOUND_HELP})") from None
    raise DateError(f"not a date: {raw!r} ({BOUND_HELP})")


def parse_range(date_from: str | None, date_to: str | None,
                names: tuple[str, str] = ("'from'", "'to'"), now=None) -> tuple[datetime | None, datetime | None]:
    """(start inclusive, end exclusive) of a date range typed as text; an
    empty or missing bound is open.  ``names``: how the two inputs are
    called in error messages (``--from`` in the CLI).  Raises ``DateError``
    naming the bad input (outside the plausible range included: ``now``
    decides its end, default the clock), or when the range is empty (start
    not before end)."""
    bounds = []
    for name, raw, end in ((names[0], date_from, False), (names[1], date_to, True)):
        if raw is None or not raw.strip():
            bounds.append(None)
            continue
        try:
            bounds.append(parse_bound(raw, end=end, now=now))
        except DateError as exc:
            raise DateError(f"{name}: {exc}") from None
    start, stop = bounds
    if start is not None and stop is not None and start >= stop:
        raise DateError(f"{names[0]} must be before {names[1]} (got {date_from.strip()} .. {date_to.strip()})")
    return start, stop


YEAR_PATTERN = r"^\d{4}$"  # a ``year`` filter value (the API description's pattern)


def parse_year(value: str, now=None) -> int:
    """A ``year`` filter value: a calendar year of publication in newsroom
    time, ``"2024"`` -> 2024.  Raises ``DateError`` for anything but four
    digits, and for a year outside the plausible range (1900 to the year of
    ``plausible_end``; ``now`` as there)."""
    raw = value.strip()
    if not re.match(YEAR_PATTERN, raw):
        raise DateError(f"'year' must be a year of four digits such as 2024, got {value!r}")
    year = int(raw)
    last = (plausible_end(now) - timedelta(days=1)).year
    if not PLAUSIBLE_START.year <= year <= last:
        raise DateError(f"'year' {year} is outside the plausible range of years ({PLAUSIBLE_START.year} to {last})")
    return year


def year_span(year: int) -> tuple[int, int]:
    """The calendar ``year`` in newsroom time as epoch seconds (start
    inclusive, end exclusive): 2024 -> 2024-01-01 00:00+08:00 .. 2025-01-01
    00:00+08:00, so an article published 2023-12-31T16:30:00Z is in 2024."""
    start = datetime(year, 1, 1, tzinfo=NEWSROOM_TZ)
    return int(start.timestamp()), int(start.replace(year=year + 1).timestamp())


def _local(published_text: str | None) -> datetime | str | None:
    """A stored publication string as a datetime in newsroom time, the
    date itself (str) when it has no time of day, None when there is none,
    or the text unchanged if it cannot be read (shown as stored)."""
    text = (published_text or "").strip()
    if not text:
        return None
    if DATE_ONLY.match(text):
        return text
    try:
        return parse_published(text).astimezone(NEWSROOM_TZ)
    except ValueError:
        return text


def local_date(published_text: str | None) -> str:
    """The day an article was published, in newsroom time: ``YYYY-MM-DD``
    (``2024-03-01T23:30:00Z`` -> ``2024-03-02``; a date alone is that
    date); "" if none.  This is the day the date filters and the timeline
    count it under."""
    local = _local(published_text)
    if local is None:
        return ""
    return local if isinstance(local, str) else local.strftime("%Y-%m-%d")


def local_time(published_text: str | None) -> str:
    """``YYYY-MM-DD HH:MM`` in newsroom time (a date alone stays a date)."""
    local = _local(published_text)
    if local is None:
        return ""
    return local if isinstance(local, str) else local.strftime("%Y-%m-%d %H:%M")


def local_iso(published_text: str | None) -> str:
    """ISO 8601 in newsroom time (``2024-03-02T07:30:00+08:00``; a date
    alone stays a date): for ``<time datetime>`` attributes and exports."""
    local = _local(published_text)
    if local is None:
        return ""
    return local if isinstance(local, str) else local.isoformat()
