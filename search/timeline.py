"""Coverage over time: how many matching articles per day, month or year
(newsroom time), counted with numpy over the matches' publication times."""

from __future__ import annotations

import numpy as np

from .timeutil import NEWSROOM_TZ

INTERVALS = ("day", "month", "year")
_UNIT = {"day": "D", "month": "M", "year": "Y"}
_OFFSET = int(NEWSROOM_TZ.utcoffset(None).total_seconds())


def choose_interval(published: np.ndarray) -> str:
    """Days for up to two months of coverage, months up to five years,
    years beyond: a readable number of bars."""
    if not len(published):
        return "month"
    span_days = (int(published.max()) - int(published.min())) / 86400
    return "day" if span_days <= 62 else "month" if span_days <= 5 * 366 else "year"


def histogram(published: np.ndarray, interval: str) -> list[tuple[str, int]]:
    """(bucket label, count) in time order, empty buckets included between
    the first and the last; labels 2024-05-03 / 2024-05 / 2024.
    ``published``: epoch seconds of dated articles."""
    if not len(published):
        return []
    unit = _UNIT[interval]
    local = (np.asarray(published, dtype=np.int64) + _OFFSET).astype("datetime64[s]")
    buckets = local.astype(f"datetime64[{unit}]")
    first, last = buckets.min(), buckets.max()
    idx = (buckets - first).astype(np.int64)
    counts = np.bincount(idx, minlength=int((last - first).astype(np.int64)) + 1)
    labels = np.arange(first, last + np.timedelta64(1, unit)).astype(str)
    return list(zip(labels.tolist(), counts.tolist()))
