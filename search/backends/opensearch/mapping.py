"""Index settings, mappings and documents for OpenSearch.

Each analysed field is a plain token sequence under a whitespace analyzer
(no analyzer plugin: jieba, normalisation and Traditional/Simplified
folding stay in Python).  A whitespace field cannot stack tokens at one
position, so each granularity has its own field, as in the Whoosh schema:
``*_w`` jieba words, ``*_g`` character bigrams in text order, ``*_c``
single characters.

Facet values are kept as written (``category`` ...) and again as their
folded keys (``category_key`` ...; ``search.values``), which filters, the
value operators and facet counts use, so that 众闻 and 眾聞 are one value.
Tags, which are several per article, also keep ``key<US>original`` pairs
(``tags_form``) to find the forms of given keys.
"""

from __future__ import annotations

import numpy as np

from ...analysis import ANALYSIS_VERSION, Analyzer
from ...documents import PreparedDoc, sentence_ends
from ...fields import SINGLE_VALUED_FACETS
from ...values import value_key
from .groups import encode_signature

# Body fields hold one value per sentence; the positions of consecutive
# sentences are SENTENCE_GAP apart, so a span query of slop < SENTENCE_GAP
# stays within a sentence (w/s), while phrases never cross a sentence end
# (their bigrams cannot anyway: sentence ends are punctuation).
SENTENCE_GAP = 10000
# ``body_pa`` holds one value per paragraph, PARAGRAPH_GAP positions apart
# (w/p: a span of slop < PARAGRAPH_GAP stays in a paragraph; no paragraph
# of our corpora has 100,000 words).
PARAGRAPH_GAP = 100000
# Facet field -> (original values, folded keys) in the index.
VALUE_FIELDS = {"category": ("category", "category_key"), "source": ("source", "source_key"),
                "author": ("author", "author_key"), "tag": ("tags", "tags_key")}
FORM_SEPARATOR = "\x1f"  # tags_form: key, separator, original value
TOKENS = {"type": "text", "analyzer": "tokens", "search_analyzer": "tokens", "norms": True,
          "position_increment_gap": SENTENCE_GAP}
# Accurate-mode words one per position (no sub-words), as the Whoosh
# backend counts words from its recorded boundaries: proximity (w/N,
# pre/N) and whole-word matches.  Never scored.
WORDS = {"type": "text", "analyzer": "tokens", "search_analyzer": "tokens", "norms": False,
         "index_options": "positions", "position_increment_gap": 0}
# Dense vectors (issue 20, vectors.py): base64 float32 bytes kept in the
# source only, and the model record that made them (counted, filtered on).
# Written by ``indexer embed``, never by ``to_source``.
VECTOR_FIELDS = {"vector": {"type": "binary"}, "vector_model": {"type": "keyword"}}


def index_body(shards: int = 1, replicas: int = 1) -> dict:
    """The body of ``indices.create``: settings (``shards`` primaries,
    ``replicas`` copies, the whitespace analyzer) and this version's mapping."""
    return {
        "settings": {
            "number_of_shards": shards,
            "number_of_replicas": replicas,
            "analysis": {"analyzer": {"tokens": {"type": "custom", "tokenizer": "whitespace"}}},
        },
        "mappings": {
            "dynamic": "strict",
            # The text analysis the documents were written with: the service
            # and the indexer refuse an index of another version.
            "_meta": {"analysis_version": ANALYSIS_VERSION},
            "properties": {
                "id": {"type": "keyword"},
                **{f"{f}_{k}": TOKENS for f in ("title", "body") for k in ("w", "g", "c")},
                "title_a": WORDS,
                "body_a": WORDS,
                "body_pa": {**WORDS, "position_increment_gap": PARAGRAPH_GAP},
                # The first paragraph's grams again, for lead: (a term in the lead).
                "lead_g": TOKENS,
                "lead_c": TOKENS,
                "category": {"type": "keyword"},
                "source": {"type": "keyword"},
                "author": {"type": "keyword"},
                "tags": {"type": "keyword"},
                **{key: {"type": "keyword"} for _, key in VALUE_FIELDS.values()},
                "tags_form": {"type": "keyword", "index": False, "doc_values": True},
                # The distinct title and body words, aggregated into the
                # vocabularies behind pinyin input and suggestions (never searched).
                "title_terms": {"type": "keyword", "index": False, "doc_values": True},
                "body_terms": {"type": "keyword", "index": False, "doc_values": True},
                "published": {"type": "date", "format": "epoch_second"},  # as in the Whoosh index
                # Near-duplicate groups (groups.py): the representative's id,
                # and what grouping reads (MinHash signature, headline installment).
                "dup_rep": {"type": "keyword"},
                "signature": {"type": "binary"},
                "installment": {"type": "long", "index": False},
                "title_len": {"type": "integer"},
                "body_len": {"type": "integer"},
                "stored": {"type": "object", "enabled": False},  # shown on result pages, never searched
                **VECTOR_FIELDS,
            },
        },
    }


def _by_sentence(terms, ends) -> list[str]:
    """(term, character position) pairs as one string per sentence
    (``ends``: the sentence ends' positions, ascending)."""
    terms = list(terms)
    if not terms:
        return []
    words, positions = zip(*terms)
    sentence = np.searchsorted(np.asarray(ends), np.asarray(positions))
    cuts = (np.flatnonzero(np.diff(sentence)) + 1).tolist()
    return [" ".join(words[a:b]) for a, b in zip([0, *cuts], [*cuts, len(words)])]


def _by_paragraph(doc: PreparedDoc) -> list[str]:
    """The accurate-mode words of the body, one string per paragraph."""
    words = doc.body_accurate or []
    if not words:
        return []
    ends = doc.paragraph_ends if doc.paragraph_ends is not None else np.asarray([len(doc.body_norm)])
    return _by_sentence(zip(words, np.asarray(doc.body_starts).tolist()), ends)


def to_source(doc: PreparedDoc) -> dict:
    """The OpenSearch document of an analysed article."""
    texts = {"title": doc.title_norm, "lead": doc.body_norm[:doc.lead_end]}
    grams = {f"{f}_g": " ".join(g for g, _ in Analyzer.gram_terms(text)) for f, text in texts.items()}
    chars = {f"{f}_c": " ".join(c for c in text if c.isalnum()) for f, text in texts.items()}
    ends = doc.sentence_ends if doc.sentence_ends is not None else sentence_ends(doc.body_norm)
    grams["body_g"] = _by_sentence(Analyzer.gram_terms(doc.body_norm), ends)
    chars["body_c"] = _by_sentence(((c, i) for i, c in enumerate(doc.body_norm) if c.isalnum()), ends)
    tags = doc.facets.get("tags") or []
    single = {name: doc.facets.get(name) for name in SINGLE_VALUED_FACETS}
    return {
        "id": doc.id,
        "title_w": " ".join(doc.title_words),
        "body_w": " ".join(doc.body_words),
        "title_a": " ".join(doc.title_accurate or []),
        "body_a": " ".join(doc.body_accurate or []),
        "body_pa": _by_paragraph(doc),
        **grams,
        **chars,
        **single,
        **{f"{name}_key": value_key(v) if v else None for name, v in single.items()},
        "tags": tags,
        "tags_key": sorted({value_key(t) for t in tags}),
        "tags_form": [value_key(t) + FORM_SEPARATOR + t for t in tags],
        "title_terms": sorted(set(doc.title_words)),
        "body_terms": sorted(set(doc.body_words)),
        "published": doc.published_ts,
        "dup_rep": doc.id,  # alone until the next regroup
        "signature": encode_signature(doc.minhash),
        "installment": int(doc.installment or 0),
        "title_len": len(doc.title_words),
        "body_len": len(doc.body_words),
        "stored": {**doc.stored, "keyterms": doc.keyterms, "content_hash": doc.content_hash},
    }
