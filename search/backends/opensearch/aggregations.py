"""OpenSearch facets: their filters and counts, per folded value key (terms
aggregations, each bucket shown in the form most of its articles use:
``search.values``), exact whatever the number of shards (``facet_values``),
the year facet and the timeline (date histograms in newsroom time).
The Whoosh backend's counterparts are ``search.backends.whoosh.collectors``."""

from __future__ import annotations

from typing import Callable

from ... import timeline
from ...timeutil import year_span
from ...values import shown_form, value_key
from .mapping import FORM_SEPARATOR, VALUE_FIELDS

# Original forms looked at per facet bucket: a category, source or author
# bucket holds only its own key's forms; a tag bucket's articles carry other
# tags too, and when none of these is the bucket's own, one more request
# looks its forms up (``_forms_of``).
FORMS_PER_BUCKET = 10
# Distinct values each shard returns per terms aggregation: up to this many
# a shard's counts are complete (``Aggregations.facet_values``).
SHARD_SIZE = 10000
COMPOSITE_PAGE = 5000  # values per request when paging through all of a facet's values


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
        self.shard_size = SHARD_SIZE

    def histogram(self, query: dict, interval: str) -> list[tuple[str, int]]:
        """Matches of ``query`` with a plausible date, per ``interval``.
        Labels as the Whoosh backend writes them: the bucket's first day in
        newsroom time (without "format", key_as_string is the field's own
        epoch_second format, and [:10] of it was no date at all); a week
        (calendar_interval "week": Monday to Sunday) by its Monday's date."""
        body = {"size": 0, "query": {"bool": {"must": [query], "filter": [plausible_filter()]}},
                "aggs": {"timeline": {"date_histogram": {"field": "published", "calendar_interval": interval,
                                                         "time_zone": "+08:00", "min_doc_count": 0,
                                                         "format": "yyyy-MM-dd"}}}}
        res = self.client.search(index=self.index, body=body)
        fmt = {"day": 10, "week": 10, "month": 7, "year": 4}[interval]
        return [(b["key_as_string"][:fmt], b["doc_count"]) for b in res["aggregations"]["timeline"]["buckets"]]

    def facet_filter(self, name: str, values: list[str]) -> dict:
        """The filter keeping the articles with any of ``values`` of facet
        ``name``: compared by folded keys (as written on an older index);
        ``year``: published in any of these calendar years, newsroom time
        (``timeutil.year_span``), the years ``facet_agg`` counts."""
        if name == "year":
            spans = [year_span(int(y)) for y in values]
            return {"bool": {"should": [{"range": {"published": {"gte": a, "lt": b}}} for a, b in spans],
                             "minimum_should_match": 1}}
        original, key = VALUE_FIELDS[name]
        if self.value_keys():
            return {"terms": {key: sorted({value_key(v) for v in values})}}
        return {"terms": {original: list(values)}}

    def facet_agg(self, name: str, size: int) -> dict:
        """The aggregation counting facet ``name``: per folded key, with
        the key's most used forms (``facet_values`` reads it); ``year``:
        per calendar year of publication in newsroom time."""
        if name == "year":
            return {"filter": plausible_filter(), "aggs": {"years": {"date_histogram": {
                "field": "published", "calendar_interval": "year", "time_zone": "+08:00",
                "min_doc_count": 1, "format": "yyyy"}}}}
        return self._terms(name, size)

    def _terms(self, name: str, size: int, include: list[str] | None = None) -> dict:
        original, key = VALUE_FIELDS[name]
        field = key if self.value_keys() else original
        terms = {"field": field, "size": size, "shard_size": max(size, self.shard_size)}
        if include is not None:
            terms["include"] = include
        if not self.value_keys():
            return {"terms": terms}
        return {"terms": terms, "aggs": {"forms": {"terms": {"field": original, "size": FORMS_PER_BUCKET}}}}

    def facet_values(self, name: str, agg: dict, query: dict, size: int) -> list[tuple[str, int]]:
        """(shown form, articles) per bucket of ``agg`` (the answer to
        ``facet_agg(name, size)`` for ``query``), exact: the form most of
        the bucket's articles use (``search.values.shown_form``), counts
        equal to the search filtered by the value.  ``year``: the ``size``
        newest years, newest first.

        A terms aggregation over several shards is exact when no shard had
        more distinct values than it returned (``shard_size``): OpenSearch
        then answers ``doc_count_error_upper_bound`` 0.  Otherwise the
        counts are taken again exactly (``_exact_buckets``: every value
        paged through a composite aggregation, then the top ``size``
        counted with an ``include`` list), so the answer is exact whatever
        the field's cardinality, and the common case costs one request."""
        if name == "year":
            buckets = agg["years"]["buckets"]
            return [(b["key_as_string"], b["doc_count"]) for b in reversed(buckets)][:size]
        buckets = agg["buckets"]
        if agg.get("doc_count_error_upper_bound", 0) > 0:
            buckets = self._exact_buckets(name, query, size)
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

    def _exact_buckets(self, name: str, query: dict, size: int) -> list[dict]:
        """The ``size`` most frequent values of facet ``name`` among the
        matches of ``query``, counted exactly: all (value, count) pairs
        paged through a composite aggregation (``COMPOSITE_PAGE`` a
        request), the top ``size`` by count (ties: the smaller value), then
        their buckets (forms included) from a terms aggregation restricted
        to exactly those values (no shard holds more of them than it
        returns).  Buckets in that order."""
        field = self._terms(name, size)["terms"]["field"]
        counts: dict[str, int] = {}
        after = None
        while True:
            composite = {"size": COMPOSITE_PAGE, "sources": [{"v": {"terms": {"field": field}}}]}
            if after is not None:
                composite["after"] = after
            res = self.client.search(index=self.index, body={"size": 0, "query": query,
                                                             "aggs": {"all": {"composite": composite}}})
            page = res["aggregations"]["all"]
            for b in page["buckets"]:
                counts[b["key"]["v"]] = b["doc_count"]
            after = page.get("after_key")
            if not page["buckets"] or after is None:
                break
        top = sorted(counts, key=lambda k: (-counts[k], k))[:size]
        if not top:
            return []
        res = self.client.search(index=self.index, body={"size": 0, "query": query,
                                                         "aggs": {"top": self._terms(name, len(top), include=top)}})
        found = {b["key"]: b for b in res["aggregations"]["top"]["buckets"]}
        # A refresh between the requests (the writer's regroups refresh
        # often) may have removed a value: it is left out, never a KeyError.
        return [found[k] for k in top if k in found]

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
        # A value whose articles a refresh took away meanwhile is shown as its key.
        return {k: shown_form(forms[k]) if k in forms else k for k in keys}
