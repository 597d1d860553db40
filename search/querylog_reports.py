"""Staff's reports over the query log (``querylog.QueryLog`` inherits
them): the most frequent queries with the filters they were run with, the
queries whose words find nothing, and the searches whose filters left
nothing.  Whole newsroom days are read from the daily tables, any other
range from the raw log (the tables: ``querylog``'s docstring)."""

from __future__ import annotations

from .query_filters import parse_key

NEWSROOM_OFFSET = 8 * 3600  # seconds: newsroom time is UTC+8 (as in querylog)


def _day(ts: float) -> str:
    from .querylog import newsroom_day

    return newsroom_day(ts)


class StaffReports:
    """The report methods; the class using them provides ``_conn()`` (a
    SQLite connection to the log) and ``removed()`` (texts staff removed)."""

    @staticmethod
    def _whole_days(since: float, until: float) -> bool:
        """Are both bounds 00:00 newsroom time (read from the daily tables)?"""
        return (since + NEWSROOM_OFFSET) % 86400 == 0 and (until + NEWSROOM_OFFSET) % 86400 == 0

    def top(self, since: float, until: float, limit: int = 20, zero_only: bool = False,
            blocked=None) -> list[dict]:
        """Most frequent queries in [since, until) for staff (every query,
        whoever ran it): {"q", "count", "results", "removed", "filtered",
        "filters"} (results: the latest result count; filtered: how many of
        the searches had filters; filters: the most frequent of them,
        [{"filters": dict, "count"}], at most 3), without blocked ones.
        ``zero_only``: the queries whose *words* found nothing (count: those
        searches); a filtered search whose filters left nothing is in
        ``filtered_out``.  Whole newsroom days (both bounds at 00:00 +08:00)
        are read from the daily tables, other ranges from the raw log."""
        if self._whole_days(since, until):
            sql = ("SELECT q, SUM(zero_n) AS z, SUM(n) AS c, results, MAX(last_ts) FROM daily WHERE day >= ? AND day < ?"
                   " GROUP BY q" + (" HAVING z > 0" if zero_only else "")
                   + f" ORDER BY {'z' if zero_only else 'c'} DESC, q LIMIT ?")
            args = (_day(since), _day(until), limit * 4 + 20)
            rows = [(q, z if zero_only else n, 0 if zero_only else total)
                    for q, z, n, total, _ in self._conn().execute(sql, args)]
        else:
            # One pass: with MAX(ts), SQLite takes the bare column ``total``
            # from the latest row of each group.
            sql = ("SELECT q, COUNT(*) AS n, total, MAX(ts) FROM queries WHERE ts >= ? AND ts < ?"
                   + (" AND total = 0 AND (filters = '' OR words_total IS NULL OR words_total = 0)"
                      if zero_only else "")
                   + " GROUP BY q ORDER BY n DESC, q LIMIT ?")
            rows = [(q, n, total) for q, n, total, _ in
                    self._conn().execute(sql, (since, until, limit * 4 + 20))]
        gone = self.removed()
        out = [{"q": q, "count": n, "results": total, "removed": q in gone} for q, n, total in rows
               if not (blocked and blocked(q))][:limit]
        combos = self._filter_combos(since, until, [row["q"] for row in out])
        for row in out:
            found = combos.get(row["q"], [])
            row["filtered"] = sum(n for _, n in found)
            row["filters"] = [{"filters": parse_key(key), "count": n} for key, n in found[:3]]
        return out

    def _filter_combos(self, since: float, until: float, texts: list[str]) -> dict[str, list[tuple[str, int]]]:
        """q -> [(filter key, searches)] of the filtered searches of ``texts``
        in [since, until), most frequent first."""
        if not texts:
            return {}
        marks = ",".join("?" * len(texts))
        if self._whole_days(since, until):
            sql = (f"SELECT q, filters, SUM(n) AS c FROM daily_filters WHERE day >= ? AND day < ? AND q IN ({marks})"
                   " GROUP BY q, filters ORDER BY c DESC, filters")
            args = (_day(since), _day(until), *texts)
        else:
            sql = (f"SELECT q, filters, COUNT(*) AS c FROM queries WHERE ts >= ? AND ts < ? AND filters != ''"
                   f" AND q IN ({marks}) GROUP BY q, filters ORDER BY c DESC, filters")
            args = (since, until, *texts)
        out: dict[str, list[tuple[str, int]]] = {}
        for q, key, n in self._conn().execute(sql, args):
            out.setdefault(q, []).append((key, n))
        return out

    def filtered_out(self, since: float, until: float, limit: int = 20, blocked=None) -> list[dict]:
        """Searches in [since, until) whose words find articles but whose
        filters left none, most frequent first: {"q", "filters" (dict),
        "count", "words_results" (what the words alone found, latest),
        "removed"}, without blocked ones.  Whole newsroom days are read
        from the daily tables, other ranges from the raw log."""
        if self._whole_days(since, until):
            sql = ("SELECT q, filters, SUM(zero_n) AS z, words_results, MAX(last_ts) FROM daily_filters "
                   "WHERE day >= ? AND day < ? GROUP BY q, filters HAVING z > 0 ORDER BY z DESC, q, filters LIMIT ?")
            args = (_day(since), _day(until), limit * 4 + 20)
        else:
            sql = ("SELECT q, filters, COUNT(*) AS z, words_total, MAX(ts) FROM queries WHERE ts >= ? AND ts < ? "
                   "AND total = 0 AND filters != '' AND words_total > 0 GROUP BY q, filters "
                   "ORDER BY z DESC, q, filters LIMIT ?")
            args = (since, until, limit * 4 + 20)
        gone = self.removed()
        out = [{"q": q, "filters": parse_key(key), "count": n, "words_results": words, "removed": q in gone}
               for q, key, n, words, _ in self._conn().execute(sql, args) if not (blocked and blocked(q))]
        return out[:limit]

