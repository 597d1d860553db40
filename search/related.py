"""Related articles ("您可能也感兴趣") from key terms stored at index time,
and story coverage over time (the article page's "earlier / later" lists).

Each article stores its most frequent content words (``documents.key_terms``,
normalised to Simplified Chinese, so Traditional and Simplified articles meet).
At query time they are weighted by the live index's rarity (idf), the best
``RELATED_TERMS`` become an OR query ranked by BM25F with the usual mild
recency preference, and the article itself and its duplicates are removed.
Editor tags are deliberately not used: they are what relatedness is evaluated
against.

Story coverage is the same key-term query within ``STORY_WINDOW_DAYS`` of
the article, kept to hits scoring at least ``STORY_MIN_SHARE`` of the best
(the same story, not merely the same subject), in date order.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import timedelta

from .models import Hit
from .normalize import fold_case, normalize_query
from .plan import AnyClause, Plan, WordClause
from .results import brief, hit
from .timeutil import published_time

RELATED_TERMS = 12
STORY_WINDOW_DAYS = 90  # follow-ups of a story: related articles within this many days
STORY_MIN_SHARE = 0.5  # ... scoring at least this share of the best one


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


@dataclasses.dataclass
class Story:
    """What related lists and story coverage both start from: the article
    (``stored``), its near-duplicates ((key, stored) pairs, earliest first)
    and the key-term plan (None when its key terms relate it to nothing)."""

    stored: dict
    copies: list
    plan: Plan | None


def story(backend, doc_id: str) -> Story | None:
    """The article ``doc_id`` of ``backend`` (an ``IndexBackend``) as a
    Story (its terms' document frequencies looked up once); None if there
    is no such article."""
    stored = backend.get(doc_id)
    if stored is None:
        return None
    copies = backend.near_duplicates(doc_id)
    plan = related_plan(stored, doc_id, backend, exclude=tuple(c["id"] for c in copies))
    return Story(stored, copies, plan)


def related(backend, doc_id: str, size: int = 5, known: Story | None = None) -> list[Hit] | None:
    """At most ``size`` articles most related to ``doc_id`` (None if it
    does not exist; ``known``: its Story when the caller has it); its
    near-duplicates, copies with its content hash, and republications (the
    same headline and at least 80% of the same key terms) are not
    "related", they are the same story."""
    found = known or story(backend, doc_id)
    if found is None:
        return None
    stored, plan = found.stored, found.plan
    if plan is None:
        return []
    res = backend.execute(dataclasses.replace(plan, limit=size + 10))
    own_hash = stored.get("content_hash")
    own_title = fold_case(normalize_query(stored.get("title", "")))
    hits = []
    for h in res.hits:
        if h.stored.get("content_hash") == own_hash:
            continue  # a duplicate of the article itself
        if own_title and fold_case(normalize_query(h.stored.get("title", ""))) == own_title \
                and _overlap(stored, h.stored) >= 0.8:
            continue  # same headline and nearly the same key terms: a republication
        hits.append(hit(h.stored, h.score, [], highlight=False))
        if len(hits) >= size:
            break
    return hits


def coverage(backend, doc_id: str, size: int = 10, known: Story | None = None) -> dict | None:
    """How a story developed: the articles most related to ``doc_id``
    within ``STORY_WINDOW_DAYS`` of it (at most ``size`` searched), split
    into earlier and later coverage in date order (the first of "earlier"
    is the first report found), plus its near-duplicates:
    {"id", "earlier", "later", "near_duplicates"} (lists of ``brief``).
    None if the article does not exist."""
    found = known or story(backend, doc_id)
    if found is None:
        return None
    stored, copies, plan = found.stored, found.copies, found.plan
    own = published_time(stored.get("published_text"))
    dated = []
    if plan is not None and own is not None:
        window = timedelta(days=STORY_WINDOW_DAYS)
        res = backend.execute(dataclasses.replace(plan, date_from=own - window, date_to=own + window, limit=size))
        best = res.hits[0].score if res.hits else 0.0
        # The same story, not merely the same subject: close to the best match.
        dated = sorted(((t, h.stored) for h in res.hits if h.score >= STORY_MIN_SHARE * best
                        for t in [published_time(h.stored.get("published_text"))] if t is not None),
                       key=lambda pair: pair[0])
    return {
        "id": doc_id,
        "earlier": [brief(h) for t, h in dated if t < own],
        "later": [brief(h) for t, h in dated if t >= own],
        "near_duplicates": [brief(s) for s in copies],
    }


def article_context(backend, doc_id: str, related_size: int = 5, coverage_size: int = 10) -> dict | None:
    """An article with its related list and story coverage (the article
    page), sharing one lookup of the article and its key terms:
    {"article": stored, "related": [Hit], "coverage": dict}; None if the
    article does not exist."""
    found = story(backend, doc_id)
    if found is None:
        return None
    return {"article": found.stored, "related": related(backend, doc_id, related_size, known=found),
            "coverage": coverage(backend, doc_id, coverage_size, known=found)}


def _overlap(a: dict, b: dict) -> float:
    """Jaccard overlap of two stored articles' key terms (0.0 when either has none)."""
    ta = {t for t, _ in a.get("keyterms") or []}
    tb = {t for t, _ in b.get("keyterms") or []}
    if not ta or not tb:
        return 0.0
    return len(ta & tb) / len(ta | tb)
