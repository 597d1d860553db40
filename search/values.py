"""Facet and filter values (category, source, author, tag) compared the way
text is compared.

An article's values are kept as written (``眾聞``, ``CCTV``); everything that
compares them goes through one folded *key*: filters (``category=众闻`` finds
the articles filed under 眾聞), the query operators (``category:``,
``author:``, ``source:``, ``tag:`` match values whose key contains the typed
text's key) and facets (one bucket per key, counting the articles whose
value has that key, shown in the form most of those articles use).  Both
backends use these functions, so they agree on what matches and what is
counted: each facet count equals the total of the same search filtered by
the value shown.

The key is the project's text folding (``search.normalize``: full-width and
compatibility forms, Traditional -> Simplified, lower case), with the
surrounding white space trimmed.
"""

from __future__ import annotations

import functools

from .normalize import fold_case, normalize_query


@functools.lru_cache(maxsize=1 << 16)
def value_key(value: str) -> str:
    """The folded key of a facet value or of a typed filter value:
    ``"眾聞"`` and ``"众闻"`` -> ``"众闻"``, ``" ＣＣＴＶ "`` -> ``"cctv"``;
    ``""`` for a blank value.  (Cached: the same few thousand values are
    folded again in every query that counts facets.)"""
    return fold_case(normalize_query(value)).strip()


def shown_form(form_counts: dict[str, int] | list[tuple[str, int]]) -> str:
    """The form a merged facet bucket is shown in: of the original forms of
    one key (each with the number of the bucket's articles that use it), the
    one most articles use; a tie goes to the smallest string, which is also
    OpenSearch's order for terms of equal count (count descending, term
    ascending).  Raises ValueError for no forms at all."""
    items = form_counts.items() if isinstance(form_counts, dict) else form_counts
    best = min(items, key=lambda fc: (-fc[1], fc[0]), default=None)
    if best is None:
        raise ValueError("a facet bucket without any form")
    return best[0]
