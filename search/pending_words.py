"""Words of the user dictionary the index is not yet cut with.

After the user dictionary changed, the index holds articles cut with the
old one until the writer has re-indexed them (``indexer.userdict_reindex``).
Meanwhile a query must find them however they were cut: each plain-text
occurrence of such a word (added or removed) is searched both as the word
and as the phrase of its characters (``expand``), which matches the
article cut either way.  The words are the difference between this
process's dictionary and the one the index was cut with, plus those the
writer is still re-indexing (``pending``); both come from the state the
writer keeps in the article store (``indexer.userdict_reindex``: its
``words`` and ``reindex.words``), which the web reads.  Which articles
need re-indexing is the writer's question, answered from the stored text;
a query never asks it: it is widened for every article alike, until the
writer records the re-index as finished.
"""

from __future__ import annotations

import dataclasses

from . import query as q
from .normalize import normalize_query


def pending(index_words, current_words: frozenset[str], reindexing=()) -> frozenset[str]:
    """The words (normalised) whose articles may be cut either way: those
    in only one of ``index_words`` (the dictionary the index was cut with,
    as the store records it) and ``current_words`` (this process's:
    ``Segmenter.words``), and ``reindexing``.  All are normalised already
    (``normalize_query`` of the word as written, once) and are not
    normalised again: normalising twice is not always the same as once
    (薴 -> 苧 -> 苎), so a word would differ from itself.  A pass over all
    the words: callers remember the result (``SearchEngine.pending_words``)."""
    return frozenset((frozenset(index_words or ()) ^ frozenset(current_words or ())) | frozenset(reindexing or ()))


def _split(text: str, words: list[str]) -> list[tuple[str, bool]]:
    """``text`` (normalised) as [(piece, is a pending word)], longest words first."""
    out, i, start = [], 0, 0
    while i < len(text):
        hit = next((w for w in words if text.startswith(w, i)), None)
        if hit is None:
            i += 1
            continue
        if text[start:i].strip():
            out.append((text[start:i], False))
        out.append((hit, True))
        i = start = i + len(hit)
    if text[start:].strip():
        out.append((text[start:], False))
    return out


def expand(parsed: q.Query, words: frozenset[str]) -> q.Query:
    """``parsed`` with each pending word in its plain text (``Words``, also
    as a lone option of an OR) replaced by "the word, or the phrase of its
    characters"; unchanged without pending words."""
    if not words:
        return parsed
    ordered = sorted(words, key=len, reverse=True)

    def rewrite(node) -> list:
        if isinstance(node, q.AnyOf):
            options = []
            for opt in node.options:
                new = rewrite(opt)
                options.append(new[0] if len(new) == 1 else q.AllOf(tuple(new)))
            return [q.AnyOf(tuple(options))]
        if not isinstance(node, q.Words):
            return [node]
        norm = normalize_query(node.text)
        if not any(w in norm for w in ordered):
            return [node]
        return [q.AnyOf((q.Words(piece, node.field), q.Phrase(piece, node.field))) if pending_word
                else q.Words(piece, node.field) for piece, pending_word in _split(norm, ordered)]

    must = [n for node in parsed.must for n in rewrite(node)]
    must_not = [n for node in parsed.must_not for n in rewrite(node)]
    return dataclasses.replace(parsed, must=must, must_not=must_not)
