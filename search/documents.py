"""Turn an Article into what every backend stores: analysed terms, lengths,
key terms for related articles, and the values shown on result pages.

This runs once per article at index time (in the indexer's worker
processes), so nothing at query time has to re-segment stored text.
"""

from __future__ import annotations

import hashlib
import heapq
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from . import dedupe
from .analysis import Analyzer
from .chars import paragraph_end_positions, sentence_end_positions
from .models import Article
from .normalize import normalize

KEYTERMS_PER_DOC = 48  # key terms kept per article for related articles (chosen, not measured)
# Very frequent function words that say nothing about what an article is about.
_STOP = frozenset(
    "我们 他们 你们 一个 这个 那个 这些 那些 没有 就是 还是 可以 已经 因为 所以 但是 而且 如果 "
    "这样 什么 自己 以及 进行 表示 其中 目前 同时 通过 对于 认为 今天 昨天 今年 去年 记者 消息 "
    "新闻 报道 有关 方面 问题 工作 一些 不是 不会 这种 这次 他说 她说 指出 包括 以上 之后 之前".split()
)


@dataclass
class PreparedDoc:
    """An article analysed for indexing (``prepare``): its words per field, normalised text, stored
    fields, facet values, publication time (epoch seconds), key terms, content hash, MinHash
    signature and sentence/paragraph boundaries; what a backend's segment writer consumes."""
    id: str
    title_words: list[str]
    body_words: list[str]
    title_norm: str  # normalised (lower-cased): the source of the character grams
    body_norm: str
    stored: dict
    facets: dict  # category/source/author: str|None, tags: list[str]
    published_ts: int | None
    keyterms: list[tuple[str, float]]
    content_hash: str
    minhash: object = None  # numpy uint32[dedupe.NUM_PERM]: near-duplicate signature
    # Character positions in body_norm (where the body's grams are) of every
    # sentence end, and the end of the first paragraph: "same sentence" and
    # "in the lead" are answered from these without reading the text.
    sentence_ends: object = None  # numpy int32, ascending, last = len(body_norm)
    lead_end: int = 0
    installment: int = 0  # dedupe.installment_key of the headline
    paragraph_ends: object = None  # numpy int32: every line break of body_norm, last = len(body_norm)
    # Word boundaries (``analysis.Words``) as numpy int32 character offsets
    # into title_norm / body_norm: where each word starts, where any token
    # starts.  Proximity (w/N) counts words from them; whole-word matches
    # check them.
    title_starts: object = None
    title_bounds: object = None
    body_starts: object = None
    body_bounds: object = None
    title_accurate: list = None  # accurate-mode words (no sub-words), in order
    body_accurate: list = None


def content_hash(norm_title: str, norm_body: str) -> str:
    """Same text (after normalisation, ignoring spacing) -> same hash."""
    squeezed = re.sub(r"\s+", "", norm_title + "\u241e" + norm_body)
    return hashlib.blake2b(squeezed.encode("utf-8"), digest_size=10).hexdigest()


def key_terms(title_words: list[str], body_words: list[str], limit: int = KEYTERMS_PER_DOC):
    """The article's most frequent content words, title words counted double.

    Weighting by rarity happens at query time with the live index's document
    frequencies, so the stored list stays valid as the collection grows."""
    counts: Counter = Counter(body_words)
    for w, c in Counter(title_words).items():
        counts[w] += 2 * c
    candidates = [
        (c, len(w), w) for w, c in counts.items()
        if len(w) >= 2 and w not in _STOP and not w.replace(".", "").isdigit()
    ]
    best = heapq.nlargest(limit, candidates)
    return [(w, float(c)) for c, _, w in best]


def article_from_stored(stored: dict) -> Article:
    """An indexed document's stored fields (``prepare``'s ``stored``) back
    as an Article: merges and migrations re-analyse from the index itself."""
    from .timeutil import parse_published

    text = stored.get("published_text")
    try:
        published = parse_published(text) if text else None
    except ValueError:
        published = None
    return Article(id=stored["id"], title=stored.get("title", ""), body=stored.get("body") or "",
                   published=published, published_text=text, category=stored.get("category"),
                   source=stored.get("source"), author=stored.get("author"), url=stored.get("url"),
                   tags=list(stored.get("tags") or []), lang=stored.get("lang"), extra=stored.get("extra") or {})


def prepare(article: Article, analyzer: Analyzer, record_hash: str | None = None) -> PreparedDoc:
    """Analyse ``article`` with ``analyzer`` into a ``PreparedDoc`` (CPU only: normalisation,
    segmentation, key terms, MinHash).  ``record_hash``: the hash of the record as received,
    stored so that re-indexing an unchanged record is detected."""
    nt = normalize(article.title)
    nb = normalize(article.body or "")
    title_norm, body_norm = nt.text, nb.text
    tw = analyzer.words(nt)
    bw = analyzer.words(nb)
    title_words, body_words = tw.terms, bw.terms
    published_ts = int(article.published.timestamp()) if article.published else None
    stored = {
        "id": article.id,
        "title": article.title,
        "body": article.body,
        "url": article.url,
        "lang": article.lang,
        "published_text": article.published_text,
        "category": article.category,
        "source": article.source,
        "author": article.author,
        "tags": list(article.tags),
        "extra": article.extra or None,
        "record_hash": record_hash,
    }
    return PreparedDoc(
        id=article.id,
        title_words=title_words,
        body_words=body_words,
        title_norm=title_norm,
        body_norm=body_norm,
        stored=stored,
        facets={
            "category": article.category,
            "source": article.source,
            "author": article.author,
            "tags": list(dict.fromkeys(article.tags)),
        },
        published_ts=published_ts,
        keyterms=key_terms(title_words, body_words),
        content_hash=content_hash(nt.text, nb.text),
        minhash=dedupe.signature(title_norm + "\n" + body_norm),
        sentence_ends=sentence_ends(body_norm),
        lead_end=_lead_end(body_norm),
        installment=dedupe.installment_key(nt.text),
        paragraph_ends=np.asarray(paragraph_end_positions(body_norm), np.int32),
        title_starts=np.asarray(tw.starts, np.int32),
        title_bounds=np.asarray(tw.boundaries, np.int32),
        body_starts=np.asarray(bw.starts, np.int32),
        body_bounds=np.asarray(bw.boundaries, np.int32),
        title_accurate=tw.words,
        body_accurate=bw.words,
    )


def sentence_ends(text: str) -> np.ndarray:
    """Offsets of every sentence end of ``text`` (``search.chars``), then
    ``len(text)``, as int32."""
    return np.asarray(sentence_end_positions(text), np.int32)


def _lead_end(text: str) -> int:
    cut = text.find("\n")
    return len(text) if cut < 0 else cut
