"""The percolator's prefilter: which saved searches can possibly match a
batch, judged from the characters the batch's articles contain (as
Elasticsearch's percolator extracts query terms to skip queries that
cannot match a document).

A plan can only match an article holding every letter, digit and ideograph
of its required words and phrases (in the normalised text: Traditional
folded to Simplified, full width to half width, case folded); a batch of
100 articles holds a few thousand distinct characters, so most saved
searches with a rare word are skipped without running them.  The test is
only ever a necessary condition: a clause whose requirement is unknown
(a field value, an unknown clause type) requires nothing.
"""

from __future__ import annotations

from .normalize import fold_case, normalize, normalize_query
from .plan import (AllClause, AnyClause, LeadClause, MentionsClause, NearClause, PhraseClause, Plan,
                   WordClause)

NOTHING = frozenset()


def _chars(text: str) -> frozenset:
    return frozenset(ch for ch in text if ch.isalnum())


def required_chars(clause) -> frozenset:
    """Characters (letters, digits, ideographs) every article matching
    ``clause`` contains, in normalised form; empty when unknown."""
    if isinstance(clause, (WordClause, PhraseClause)):
        # The grams are what the index matched, normalised (a phrase's text
        # is as typed: 發展 searches 发展).
        if clause.grams:
            return frozenset(ch for gram, _ in clause.grams for ch in gram if ch.isalnum())
        return _chars(fold_case(normalize_query(clause.word if isinstance(clause, WordClause) else clause.text)))
    if isinstance(clause, LeadClause):
        return required_chars(clause.inner)
    if isinstance(clause, MentionsClause):
        return required_chars(clause.term)
    if isinstance(clause, NearClause):
        return _either(clause.left) | _either(clause.right)
    if isinstance(clause, AllClause):
        out = NOTHING
        for child in clause.children:
            out |= required_chars(child)
        return out
    if isinstance(clause, AnyClause):
        return _either(clause.options)
    return NOTHING


def _either(options) -> frozenset:
    """What every one of the alternatives ``options`` requires."""
    sets = [required_chars(o) for o in options]
    if not sets:
        return NOTHING
    out = sets[0]
    for s in sets[1:]:
        out &= s
    return out


def plan_chars(plan: Plan) -> frozenset:
    """The characters an article must hold to match ``plan`` (its must clauses)."""
    out = NOTHING
    for clause in plan.must:
        out |= required_chars(clause)
    return out


def text_chars(*texts: str) -> set:
    """The characters of ``texts`` in every normalised form a clause may
    use (index normalisation, query normalisation, case folded)."""
    out: set = set()
    for text in texts:
        if not text:
            continue
        for form in (text, normalize(text).text, normalize_query(text)):
            out.update(form)
            out.update(fold_case(form))
    return out
