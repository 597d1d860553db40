"""Query-time synonyms from an editable file (no re-indexing).

The file has one group of equivalent terms per line, separated by commas;
``#`` starts a comment::

    特首, 行政长官
    新冠, 新型冠状病毒, COVID-19
    Carrie Lam, 林郑月娥

Terms are matched in the query's plain words (not in quoted phrases or
field values) after the same normalisation as all query text (Traditional
to Simplified, case folding), longest first; a matched term becomes "any
of the group" in the query tree, so highlighting and the query explanation
see every alternative.  The file is re-read when it changes (checked at
most every few seconds), so editors' changes apply without a restart.
"""

from __future__ import annotations

import dataclasses
import sys

from . import query as q
from .normalize import fold_case, normalize_query
from .watched import WatchedFile


def _key(term: str) -> str:
    return fold_case(normalize_query(term)).strip()


def parse_groups(lines) -> tuple[list[list[str]], list[str]]:
    """(groups, errors): a malformed line is reported with its number and
    skipped; the other groups still apply."""
    groups, errors = [], []
    for lineno, raw in enumerate(lines, 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        terms = [t.strip() for t in line.replace("，", ",").split(",") if t.strip()]
        if len(terms) < 2:
            errors.append(f"line {lineno}: a group needs at least two terms: {raw.strip()!r}")
            continue
        groups.append(terms)
    return groups, errors


class Synonyms:
    """Synonym groups, reloaded when the file changes."""

    def __init__(self, path: str | None):
        self.path = path
        self._file = WatchedFile(path, self._parse, ({}, 0, []))

    @staticmethod
    def _parse(lines):
        groups, errors = parse_groups(lines)
        for error in errors:
            print(f"synonyms: {error} (skipped)", file=sys.stderr)
        by_key: dict[str, tuple[str, ...]] = {}
        for group in groups:
            for term in group:
                by_key[_key(term)] = tuple(group)
        return by_key, max((len(k) for k in by_key), default=0), errors

    @property
    def _by_key(self) -> dict[str, tuple[str, ...]]:
        return self._file.fresh()[0]

    @property
    def _max_len(self) -> int:
        return self._file.fresh()[1]

    @property
    def errors(self) -> list[str]:
        """The problems found in the synonym file when it was last read (one message per bad line;
        empty when it is fine; the lines are skipped and reported on stderr)."""
        return self._file.fresh()[2]

    @property
    def version(self) -> tuple | None:
        """Changes when the file does (part of the result cache's key): its
        ``watched.signature``, None without a file."""
        self._file.fresh()
        return self._file.signature

    def __len__(self) -> int:
        return len(self._by_key)

    def group(self, term: str) -> tuple[str, ...] | None:
        """The synonym group (its terms, in file order) ``term`` belongs to, compared after
        normalisation; None when it is in none."""
        return self._by_key.get(_key(term))

    def split(self, text: str, cut=None) -> list[tuple[str, tuple[str, ...] | None]]:
        """``text`` as pieces: (plain text, None) or (matched term, its group).

        Longest match first, scanning left to right over the normalised text.
        A term must start and end at word boundaries: for Latin text, not
        inside a longer run (``lam`` not in ``islam``); for Chinese, where
        ``cut`` (jieba: text -> [(word, start, end)]) puts a boundary, so
        单车 does not fire inside 单车道."""
        by_key, max_len, _ = self._file.fresh()
        if not by_key:
            return [(text, None)]
        norm = fold_case(normalize_query(text))
        cuts: set[int] | None = None

        def at_cuts(i: int, j: int) -> bool:
            nonlocal cuts
            if cut is None:
                return True
            if cuts is None:  # segment only once a term is found (most queries have none)
                cuts = {0, len(norm)}
                for _, a, b in cut(norm):
                    cuts.update((a, b))
            return i in cuts and j in cuts

        pieces: list[tuple[str, tuple[str, ...] | None]] = []
        i = start = 0
        n = len(norm)
        while i < n:
            match = None
            for j in range(min(n, i + max_len), i, -1):
                group = by_key.get(norm[i:j])
                if group and _boundary(norm, i, j) and at_cuts(i, j):
                    match = (j, group)
                    break
            if match:
                if start < i:
                    pieces.append((norm[start:i], None))
                pieces.append((norm[i:match[0]], match[1]))
                i = start = match[0]
            else:
                i += 1
        if start < n:
            pieces.append((norm[start:], None))
        return pieces


def _boundary(text: str, i: int, j: int) -> bool:
    def latin(ch: str) -> bool:
        return ch.isascii() and ch.isalnum()

    if latin(text[i]) and i > 0 and latin(text[i - 1]):
        return False
    if latin(text[j - 1]) and j < len(text) and latin(text[j]):
        return False
    return True


def expand(parsed: q.Query, synonyms: Synonyms, cut=None) -> tuple[q.Query, list[tuple[str, ...]]]:
    """The query with each synonym term in its plain words replaced by
    "any of its group"; also the groups applied (for the explanation).
    Neighbouring plain words are matched together, so a group may hold
    several words (``Carrie Lam``)."""
    applied: list[tuple[str, ...]] = []

    def joined(nodes):
        """Runs of neighbouring Words of the same field as one Words."""
        out = []
        for node in nodes:
            if out and isinstance(node, q.Words) and isinstance(out[-1], q.Words) and out[-1].field == node.field:
                out[-1] = q.Words(out[-1].text + " " + node.text, node.field)
            else:
                out.append(node)
        return out

    def rewrite(node):
        if isinstance(node, q.AnyOf):
            # An option stays one node: a synonym inside "a b OR c" applies
            # only where the option is that single term.
            options = []
            for opt in node.options:
                new = rewrite(opt)
                options.append(new[0] if len(new) == 1 else opt)
            return [q.AnyOf(tuple(options))]
        if not isinstance(node, q.Words):
            return [node]
        out = []
        for text, group in synonyms.split(node.text, cut):
            if group is None:
                if text.strip():
                    out.append(q.Words(text, node.field))
                continue
            applied.append(group)
            out.append(q.AnyOf(tuple(q.Words(term, node.field) for term in group)))
        return out

    if not len(synonyms):
        return parsed, []
    must = [n for node in joined(parsed.must) for n in rewrite(node)]
    must_not = [n for node in parsed.must_not for n in rewrite(node)]
    return dataclasses.replace(parsed, must=must, must_not=must_not), applied
