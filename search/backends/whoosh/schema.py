"""The Whoosh schema, with our analysis pipeline attached to its text fields.

Field names and their jobs:

* ``title_w`` / ``body_w``: jieba words (search mode), term frequencies only;
  they carry most of the ranking signal.
* ``title_g`` / ``body_g``: character bigrams with character positions; they
  answer quoted phrases and sub-word queries exactly.
* ``title_c`` / ``body_c``: single characters with frequencies (one-character
  queries without expanding every bigram that starts with the character).
* ``category``, ``source``, ``author``, ``tags``: facet and filter values.
* ``published``: seconds since the epoch (sortable column); ``ranking.NO_DATE`` = no date
  (-1 in segments written before it: see ``docinfo.old_marker``).
* ``title_len`` / ``body_len``: word counts for BM25 length normalisation.
* everything else is stored for display.

The analyzers below adapt ``search.analysis`` to Whoosh's tokenizer contract
(``positions``/``chars``/``mode``...), so a document indexed through stock
``writer.add_document`` gets exactly the terms our bulk writer writes; a test
checks this.
"""

from __future__ import annotations

from collections import defaultdict

from whoosh import fields
from whoosh.analysis import Composable, RegexTokenizer, Token as WhooshToken
from whoosh.formats import Frequency, Positions

from ...analysis import ANALYSIS_VERSION, Analyzer
from ...normalize import normalize
from ...ranking import NO_DATE
from ...segmenter import get_segmenter
from .codec import decode_char_positions, encode_char_positions

SCHEMA_VERSION = 1


class CharPositions(Positions):
    """Character positions as one width byte (2 or 4) and then the absolute
    positions as little-endian unsigned integers of that width (the byte
    layout is ``codec.py``'s).

    Whoosh's own Positions format pickles a list of deltas per posting, a
    Python call per posting to write; this layout is written for a whole
    batch with numpy and read back with ``array``.  Articles shorter than
    65,536 characters (all of ours) take two bytes per position, so posting
    blocks need no compression."""

    def word_values(self, value, analyzer, **kwargs):
        """(term, tf, weight, payload) of each term of ``value`` (Whoosh's
        stock indexing path; our bulk writer encodes in ``codec.py``)."""
        poses = defaultdict(list)
        kwargs["positions"] = True
        for t in analyzer(value, **kwargs):
            poses[t.text].append(t.pos)
        for w, poslist in poses.items():
            yield (w, len(poslist), len(poslist) * self.field_boost, self.encode(poslist))

    def encode(self, poslist) -> bytes:
        """One posting's positions -> its payload (``codec.encode_char_positions``)."""
        return encode_char_positions(poslist)

    def decode_positions(self, valuestring: bytes) -> list[int]:
        """A payload's character positions."""
        return decode_char_positions(valuestring).tolist()

    def decode_frequency(self, valuestring: bytes) -> int:
        """A payload's term frequency (its number of positions)."""
        return (len(valuestring) - 1) // valuestring[0]

    def decode_weight(self, valuestring: bytes) -> float:
        """The frequency times the field boost."""
        return self.decode_frequency(valuestring) * self.field_boost

    def combine(self, vs):
        """One payload with the union of the payloads ``vs``' positions."""
        s = set()
        for v in vs:
            s.update(self.decode_positions(v))
        return self.encode(sorted(s))


class _PipelineTokenizer(Composable):
    """Our analysis as a Whoosh analyzer.  Pickled into the index's table of
    contents with the schema, so it records the analysis version the index
    was written with (``analysis.ANALYSIS_VERSION``; indexes from before
    versions were recorded read as version 1)."""

    def __init__(self, kind: str, userdict_path: str | None = None):
        self.kind = kind
        self.userdict_path = userdict_path
        self.analysis_version = ANALYSIS_VERSION

    def __eq__(self, other):
        return (
            type(self) is type(other)
            and self.kind == other.kind
            and self.userdict_path == other.userdict_path
        )

    def __getstate__(self):
        return {"kind": self.kind, "userdict_path": self.userdict_path,
                "analysis_version": self.analysis_version}

    def __setstate__(self, state):
        self.__dict__.update({"analysis_version": 1, **state})

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, tokenize=True,
                 mode="", **kwargs):
        analyzer = Analyzer(get_segmenter(self.userdict_path))
        tok = WhooshToken(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            tok.original = tok.text = value
            tok.boost = 1.0
            if positions:
                tok.pos = start_pos
            if chars:
                tok.startchar, tok.endchar = start_char, start_char + len(value)
            yield tok
            return
        norm = normalize(value)
        if self.kind == "words":
            items = ((t.text, t.pos, t.start, t.end) for t in analyzer.word_tokens(norm))
        elif self.kind == "chars":
            items = (
                (c, i, *norm.span(i, i + 1)) for i, c in enumerate(norm.text) if c.isalnum()
            )
        else:
            items = (
                (term, pos, *norm.span(pos, pos + len(term)))
                for term, pos in analyzer.gram_terms(norm.text)
            )
        for text, pos, start, end in items:
            tok.text = text
            tok.boost = 1.0
            if keeporiginal:
                tok.original = text
            tok.stopped = False
            if positions:
                tok.pos = start_pos + pos
            if chars:
                tok.startchar = start_char + start
                tok.endchar = start_char + end
            yield tok


def analysis_version(schema) -> int:
    """The analysis version an index's schema was written with."""
    return getattr(schema["title_w"].analyzer, "analysis_version", 1)


def word_analyzer(userdict_path=None):
    """The Whoosh analyzer of the word fields (``*_w``): jieba words."""
    return _PipelineTokenizer("words", userdict_path)


def char_analyzer(userdict_path=None):
    """The Whoosh analyzer of the character fields (``*_c``)."""
    return _PipelineTokenizer("chars", userdict_path)


def gram_analyzer(userdict_path=None):
    """The Whoosh analyzer of the bigram fields (``*_g``), with positions."""
    return _PipelineTokenizer("grams", userdict_path)


def build_schema(userdict_path: str | None = None) -> fields.Schema:
    """The index's schema (fields as in the module's docstring), its
    analyzers reading the jieba user dictionary at ``userdict_path``."""
    def words():
        return fields.TEXT(analyzer=word_analyzer(userdict_path), phrase=False)

    def grams():
        field = fields.TEXT(analyzer=gram_analyzer(userdict_path), phrase=True)
        field.format = CharPositions()
        return field

    schema = fields.Schema(
        id=fields.ID(unique=True, stored=True),
        title_w=words(),
        body_w=words(),
        title_g=grams(),
        body_g=grams(),
        title_c=fields.TEXT(analyzer=char_analyzer(userdict_path), phrase=False),
        body_c=fields.TEXT(analyzer=char_analyzer(userdict_path), phrase=False),
        category=fields.ID(stored=True, sortable=True),
        source=fields.ID(stored=True, sortable=True),
        author=fields.ID(stored=True, sortable=True),
        # One term per tag, exactly as written: a comma belongs to the tag
        # (香港,选举 is one tag).  Our bulk writer writes each tag as a term;
        # Whoosh's stock path takes the tags joined by "\n" (a tag is one line).
        tags=fields.KEYWORD(stored=True, analyzer=RegexTokenizer(r"[^\n]+")),
        published=fields.NUMERIC(numtype=int, bits=64, signed=True, stored=False,
                                 sortable=True, default=NO_DATE),
        title_len=fields.NUMERIC(numtype=int, bits=32, signed=False, sortable=True),
        body_len=fields.NUMERIC(numtype=int, bits=32, signed=False, sortable=True),
        title=fields.STORED(),
        body=fields.STORED(),
        url=fields.STORED(),
        lang=fields.STORED(),
        published_text=fields.STORED(),
        keyterms=fields.STORED(),
        content_hash=fields.STORED(),
        record_hash=fields.STORED(),
        extra=fields.STORED(),
    )
    assert isinstance(schema["title_w"].format, Frequency)
    assert isinstance(schema["body_g"].format, CharPositions)
    return schema
