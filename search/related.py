"""Related articles ("您可能也感兴趣") from key terms stored at index time.

Each article stores its most frequent content words (``documents.key_terms``,
normalised to Simplified Chinese, so Traditional and Simplified articles meet).
At query time they are weighted by the live index's rarity (idf), the best
``RELATED_TERMS`` become an OR query ranked by BM25F with the usual mild
recency preference, and the article itself and its duplicates are removed.
Editor tags are deliberately not used: they are what relatedness is evaluated
against.
"""

from __future__ import annotations

import math

from .plan import AnyClause, Plan, WordClause

RELATED_TERMS = 12


def related_plan(stored: dict, doc_id: str, backend, exclude: tuple = ()) -> Plan | None:
    """The OR query of the article's weightiest key terms, leaving out the
    article ``doc_id`` and the article ids in ``exclude`` (the caller sets
    how many hits it needs, and any date window); None without key terms."""
    keyterms = stored.get("keyterms") or []
    if not keyterms:
        return None
    n = max(backend.doc_count(), 1)
    weighted = []
    for (term, tf), df in zip(keyterms, backend.doc_frequencies([t for t, _ in keyterms])):
        if df <= 1:
            continue  # only in this article: cannot relate it to anything
        if n >= 100 and df > n * 0.2:
            continue  # too common to say what the article is about
        weighted.append((tf * math.log(1 + n / df), term))
    weighted.sort(reverse=True)
    terms = [t for _, t in weighted[:RELATED_TERMS]]
    if not terms:
        return None
    return Plan(
        must=[AnyClause([WordClause(t, [], ("title", "body")) for t in terms])],
        exclude_docs=(doc_id, *exclude),
        relax_below=0,
    )
