"""OpenSearch aggregations: facet counts per folded value key (terms
aggregations, each bucket shown in the form most of its articles use:
``search.values``) and the timeline (a date histogram in newsroom time).
The Whoosh backend's counterparts are ``search.backends.whoosh.collectors``."""

from __future__ import annotations

from typing import Callable

from ... import timeline
from ...values import shown_form, value_key
from .mapping import FORM_SEPARATOR, VALUE_FIELDS

# Original forms looked at per facet bucket: a category, source or author
# bucket holds only its own key's forms; a tag bucket's articles carry other
# tags too, and when none of these is the bucket's own, one more request
# looks its forms up (``_forms_of``).
FORMS_PER_BUCKET = 10


def _regexp_escape(text: str) -> str:
    """``text`` as literal characters of a Lucene regular expression (every
    character but letters and digits escaped)."""
    return "".join(c if c.isalnum() else "\\" + c for c in text)


def plausible_filter() -> dict:
    """Documents with a plausible publication date (``search.timeutil``)."""
    return {"range": {"published": {"gte": timeline.PLAUSIBLE_START_TS,
                                    "lt": int(timeline.plausible_end().timestamp()), "format": "epoch_second"}}}


class Aggregations:
    """Facet and timeline aggregations on ``index`` through ``client`` (an
    ``opensearchpy.OpenSearch``); ``value_keys()``: does the index carry
    the folded facet keys (``*_key``)?  Older indexes count values as written."""

    def __init__(self, client, index: str, value_keys: Callable[[], bool]):
        self.client = client
        self.index = index
        self.value_keys = value_keys

    def histogram(self, query: dict, interval: str) -> list[tuple[str, int]]:
        """Matches of ``query`` with a plausible date, per ``interval``.
        Labels as the Whoosh backend writes them: the bucket's first day in
        newsroom time (without "format", key_as_string is the field's own
        epoch_second format, and [:10] of it was no date at all)."""
        body = {"size": 0, "query": {"bool": {"must": [query], "filter": [plausible_filter()]}},
                "aggs": {"timeline": {"date_histogram": {"field": "published", "calendar_interval": interval,
                                                         "time_zone": "+08:00", "min_doc_count": 0,
                                                         "format": "yyyy-MM-dd"}}}}
        res = self.client.search(index=self.index, body=body)
        fmt = {"day": 10, "month": 7, "year": 4}[interval]
        return [(b["key_as_string"][:fmt], b["doc_count"]) for b in res["aggregations"]["timeline"]["buckets"]]

    def facet_agg(self, name: str, size: int) -> dict:
        """Counts per folded key, with the key's most used forms."""
        original, key = VALUE_FIELDS[name]
        if not self.value_keys():
            return {"terms": {"field": original, "size": size, "shard_size": 10000}}
        return {"terms": {"field": key, "size": size, "shard_size": 10000},
                "aggs": {"forms": {"terms": {"field": original, "size": FORMS_PER_BUCKET}}}}

    def facet_values(self, name: str, buckets: list[dict], query: dict) -> list[tuple[str, int]]:
        """(shown form, articles) per bucket: the form most of the bucket's
        articles use (``search.values.shown_form``)."""
        if not self.value_keys():
            return [(b["key"], b["doc_count"]) for b in buckets]
        shown: dict[str, str] = {}
        missing = []
        for b in buckets:
            forms = [(f["key"], f["doc_count"]) for f in b["forms"]["buckets"] if value_key(f["key"]) == b["key"]]
            if forms:
                shown[b["key"]] = shown_form(forms)
            else:
                missing.append(b["key"])
        if missing:
            shown.update(self._forms_of(name, missing, query))
        return [(shown[b["key"]], b["doc_count"]) for b in buckets]

    def _forms_of(self, name: str, keys: list[str], query: dict) -> dict[str, str]:
        """The shown form of each of ``keys`` among the articles ``query``
        matches, from the ``key<US>original`` pairs (only tags have several
        values per article, so only they can get here)."""
        if name != "tag":
            raise RuntimeError(f"no form of a {name} bucket among its own articles: {keys}")
        pattern = "(" + "|".join(_regexp_escape(k) for k in keys) + ")" + _regexp_escape(FORM_SEPARATOR) + ".*"
        res = self.client.search(index=self.index, body={"query": query, "size": 0, "aggs": {"forms": {"terms": {
            "field": "tags_form", "include": pattern, "size": 100 * len(keys)}}}})
        forms: dict[str, list[tuple[str, int]]] = {}
        for b in res["aggregations"]["forms"]["buckets"]:
            key, _, form = b["key"].partition(FORM_SEPARATOR)
            forms.setdefault(key, []).append((form, b["doc_count"]))
        return {k: shown_form(forms[k]) for k in keys}
