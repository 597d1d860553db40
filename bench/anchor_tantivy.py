"""The anchor's searches on tantivy: a query-mix item as a tantivy query
over our analysed terms (``bench/anchor_index.py``), run with the work a
results page of ours does.

Query construction (``TantivyAnchor.build``): the query is parsed and
compiled by ours (``search.query.parse``, ``search.compiler.QueryCompiler``
with the engine's analyzer: the same query words), then each clause is
written as tantivy's:

* a word: ``Should(title_w:w, body_w:w, title_g:"grams of w",
  body_g:"grams of w")``, as ours: the word, or its text inside a longer
  word (a one-character word: ``title_c``/``body_c``); every word ``Must``
  (all words); regional alternatives ``Should`` (whole words only);
* a quoted phrase: a ``phrase_query`` of its grams (ours'
  ``quoted_phrase_grams``) over ``title_g`` or ``body_g``;
* groups, OR and exclusions as ``Must``/``Should``/``MustNot``;
* filters: ``category``/``source`` terms, ``published`` range [from, to);
* partial matches: when a plain-words query (not exact) of two or more
  words has fewer than ``relax_below`` (10) full matches before filters,
  the documents matching every hard clause and **any** soft word of two or
  more characters or one of a long word's parts (ours' tier 1, an OR);
  ours' tier 0 (40 % of the query's character bigrams, with its checks)
  and two one-character words are not expressed.

Not on tantivy's side (``UNSUPPORTED``): pinyin input, synonyms, spelling
correction, ours' ranking (BM25F with recency and a discount for a word
found inside a longer one; tantivy ranks by its BM25),
proximity and mention counts (their terms are required as words), value
fields "containing" text (exact value only), near-duplicate grouping.

The work per query (``search``): top 10 by BM25 (or ``published``
newest/oldest), the exact total (``count=True``), category and source counts
(two ``terms`` aggregations, 20 buckets, one ``aggregate`` call), each hit's
stored document and a highlighted body snippet (``SnippetGenerator`` on
``body_a`` with the query's words).
"""

from __future__ import annotations

from dataclasses import dataclass, field

UNSUPPORTED = ("pinyin input", "synonyms", "spelling correction (did you mean)",
               "ours' ranking (BM25F, recency, substring discount: tantivy ranks by its BM25, so the top 10 differ)",
               "partial matches of tier 0 (shared bigrams) and of two one-character words",
               "proximity / mention counts (terms required as words)", "near-duplicate grouping")
FACET_SIZE = 20  # buckets per terms aggregation, as ours' facet_size
RELATED_SIZE = 5


@dataclass
class Built:
    """A mix item as tantivy queries: ``query`` (full matches, filters included; None: nothing
    searchable), ``unfiltered`` (the same without filters: the relaxation decision), ``relaxed``
    (tier 1 as an OR, filters included; None when the item cannot be relaxed), ``highlight``
    (the query's words on ``body_a``, for snippets) and ``approximated`` (what had to be written
    otherwise, see ``UNSUPPORTED``)."""
    query: object
    unfiltered: object
    relaxed: object
    highlight: object
    order: str = "relevance"
    filtered: bool = False
    approximated: list = field(default_factory=list)


class TantivyAnchor:
    """One tantivy index of the anchor (``bench.anchor_index.schema``), searched with our analysis.

    ``search(item)`` -> dict: total (int), full (int: full matches), relaxed (bool), hits (list of
    (id, title, snippet html)), facets ({"category"|"source": [(value, count)]}).  ``related(id)``
    -> ids of the ``RELATED_SIZE`` most similar articles (more-like-this).  Raises KeyError for an
    unknown article id in ``related``."""

    def __init__(self, index_dir: str, userdict: str | None = None):
        import tantivy

        from search.analysis import Analyzer
        from search.compiler import QueryCompiler
        from search.segmenter import get_segmenter

        self.t = tantivy
        self.index = tantivy.Index.open(index_dir)
        self.schema = self.index.schema
        self.searcher = self.index.searcher()
        self.analyzer = Analyzer(get_segmenter(userdict))
        self.compiler = QueryCompiler(self.analyzer)

    # ---- query construction --------------------------------------------------------------
    def _term(self, f: str, text: str):
        return self.t.Query.term_query(self.schema, f, text)

    def _should(self, queries):
        queries = [q for q in queries if q is not None]
        if not queries:
            return None
        if len(queries) == 1:
            return queries[0]
        return self.t.Query.boolean_query([(self.t.Occur.Should, q) for q in queries])

    def _must(self, queries, must_not=()):
        Occur = self.t.Occur
        clauses = [(Occur.Must, q) for q in queries if q is not None]
        if not clauses:
            return None
        clauses += [(Occur.MustNot, q) for q in must_not if q is not None]
        if len(clauses) == 1:
            return clauses[0][1]
        return self.t.Query.boolean_query(clauses)

    def substring(self, grams, f: str):
        """The text of ``grams`` (our (gram, offset) pairs) in field ``f``: one character on ``f_c``,
        one gram on ``f_g``, else a phrase of the grams on ``f_g`` (None: no grams)."""
        if not grams:
            return None
        if len(grams) == 1:
            g = grams[0][0]
            return self._term(f + ("_c" if len(g) == 1 else "_g"), g)
        ordered = [g for g, _ in sorted(grams, key=lambda go: go[1])]
        return self.t.Query.phrase_query(self.schema, f + "_g", ordered)

    def clause(self, c, notes: list):
        """One compiled clause of ours as a tantivy query (None: matches nothing expressible)."""
        from search import plan

        kind = type(c)
        if kind is plan.WordClause:
            # As ours: the word, or its text inside a longer word (not for Latin and digit runs:
            # their parts are words already; not for regional alternatives: whole words only).
            plain = c.whole or not c.grams or (c.word.isascii() and c.word.isalnum())
            return self._should([self._term(f + "_w", c.word) for f in c.fields]
                                + ([] if plain else [self.substring(c.grams, f) for f in c.fields]))
        if kind is plan.PhraseClause:
            return self._should([self.substring(c.grams, f) for f in c.fields])
        if kind is plan.AnyClause:
            return self._should([self.clause(o, notes) for o in c.options])
        if kind is plan.AllClause:
            return self._must([self.clause(o, notes) for o in c.children],
                              [self.clause(o, notes) for o in c.exclude])
        if kind is plan.ValueClause:
            notes.append(f"{c.field}: as an exact value")
            return self._term(c.field, c.value) if c.field in ("category", "source") else self.t.Query.empty_query()
        if kind is plan.LeadClause:
            notes.append("lead: in the body")
            return self.clause(c.inner, notes)
        if kind is plan.MentionsClause:
            notes.append("atleastN: the term once")
            return self.clause(c.term, notes)
        if kind is plan.NearClause:
            notes.append("proximity: both terms anywhere")
            return self._must([self._should([self.clause(t, notes) for t in c.left]),
                               self._should([self.clause(t, notes) for t in c.right])])
        notes.append(f"{kind.__name__}: not expressed")
        return self.t.Query.empty_query()

    def _parts(self, c) -> list:
        """A long word's pieces (``WordClause.parts``: 齐齐哈尔市 -> 齐齐, 哈尔), each as a word: what
        ours' partial matches accept in place of the word."""
        from search.plan import WordClause

        if type(c) is not WordClause:
            return []
        return [self._should([self._term(f + "_w", p) for f in c.fields]) for p in c.parts]

    def _filters(self, item: dict) -> list:
        from search.timeutil import parse_range

        out = [self._term(f, item[f]) for f in ("category", "source") if item.get(f)]
        start, stop = parse_range(item.get("from"), item.get("to"))  # as the API reads them
        if start or stop:
            out.append(self.t.Query.range_query(
                self.schema, "published", self.t.FieldType.Integer,
                int(start.timestamp()) if start else None, int(stop.timestamp()) if stop else None,
                True, stop is None))
        return out

    def build(self, item: dict) -> Built:
        """``item`` (a query-mix line: q, optional category, source, from, to, sort) as ``Built``."""
        from search import query as q

        parsed = q.parse(item["q"])
        must, must_not = self.compiler.compile(parsed)
        notes: list = []
        clauses = [self.clause(c, notes) for c in must]
        excluded = [self.clause(c, notes) for c in must_not]
        filters = self._filters(item)
        order = item.get("sort", "relevance")
        words = [w for c in must for n in c.needles() for w in self.analyzer.query_words(n)]
        highlight = self._should([self._term("body_a", w) for w in dict.fromkeys(words)])
        if not must or any(x is None for x in clauses):
            return Built(None, None, None, highlight, order, approximated=notes)
        unfiltered = self._must(clauses, excluded)
        full = self._must(clauses + filters, excluded)
        relaxed = None
        if not parsed.exact and len(must) >= 2:
            soft = [i for i, c in enumerate(must) if c.soft()]
            anchors = [self._should([clauses[i]] + self._parts(must[i])) for i in soft if must[i].anchors()]
            hard = [clauses[i] for i in range(len(must)) if i not in soft]
            if anchors:
                relaxed = self._must(hard + [self._should(anchors)] + filters, excluded)
        return Built(full, unfiltered, relaxed, highlight, order, bool(filters), approximated=notes)

    # ---- the work of a results page -------------------------------------------------------
    def search(self, item: dict, relax_below: int = 10) -> dict:
        """Run ``item`` as the results page does (see the module docstring)."""
        b = self.build(item)
        s = self.searcher
        if b.query is None:
            return {"total": 0, "full": 0, "relaxed": False, "hits": [], "facets": {}}
        kw = {}
        if b.order in ("newest", "oldest"):
            kw = {"order_by_field": "published",
                  "order": self.t.Order.Desc if b.order == "newest" else self.t.Order.Asc}
        query = b.query
        res = s.search(query, 10, count=True, **kw)
        full = res.count
        if b.relaxed is not None:
            # Ours decides before filters whether partial matches are admitted.
            before = s.search(b.unfiltered, 1, count=True).count if b.filtered else full
            if before < relax_below:
                query = b.relaxed
                res = s.search(query, 10, count=True, **kw)
        aggs = s.aggregate(query, {f: {"terms": {"field": f, "size": FACET_SIZE}} for f in ("category", "source")})
        gen = self.t.SnippetGenerator.create(s, b.highlight, self.schema, "body_a") if b.highlight else None
        hits = []
        for _, addr in res.hits:
            doc = s.doc(addr)
            snippet = gen.snippet_from_doc(doc).to_html() if gen else ""
            hits.append((doc["id"][0], doc["title"][0], snippet))
        facets = {f: [(bucket["key"], bucket["doc_count"]) for bucket in aggs[f]["buckets"]] for f in aggs}
        return {"total": res.count, "full": full, "relaxed": query is not b.query,
                "hits": hits, "facets": facets}

    def count(self, item: dict) -> int:
        """The total ``search`` reports for ``item`` (full or relaxed), without the page's work."""
        return self.search(item)["total"]

    def related(self, doc_id: str) -> list[str]:
        """The ids of the articles most like ``doc_id`` (tantivy's more-like-this over the stored
        accurate-mode words, title and body; the article itself left out), with their stored
        documents read as ours reads them for the article page."""
        s = self.searcher
        found = s.search(self._term("id", doc_id), 1, count=False).hits
        if not found:
            raise KeyError(doc_id)
        addr = found[0][1]
        mlt = self.t.Query.more_like_this_query(addr)
        out = []
        for _, a in s.search(mlt, RELATED_SIZE + 1, count=False).hits:
            doc = s.doc(a)
            if doc["id"][0] != doc_id and len(out) < RELATED_SIZE:
                out.append(doc["id"][0])
        return out
