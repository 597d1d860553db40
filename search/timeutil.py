"""Dates: the newsroom's time zone and parsing of article dates."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

# Both corpora are Beijing / Hong Kong time; a date without a zone is local.
NEWSROOM_TZ = timezone(timedelta(hours=8))


def parse_published(value: str) -> datetime:
    """'2021-05-03' (noon that day, so that recency treats it fairly) or an
    ISO date-time; naive values are taken as newsroom time."""
    value = value.strip()
    if len(value) == 10:
        d = datetime.strptime(value, "%Y-%m-%d").date()
        return datetime.combine(d, time(12, 0), NEWSROOM_TZ)
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=NEWSROOM_TZ)
    return dt
