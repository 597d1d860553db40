"""The query language, parsed into an explicit tree, with notices.

Syntax (no input is an error; what cannot be read as typed gets a notice
saying how it was read):

* words: ``香港 选举`` (all of them, ranked; for a query of plain words
  only, documents matching most of them follow when few match all); text
  without spaces is segmented by jieba;
* quoted phrases: ``"香港特别行政区"`` (also 「」, “” and 『』);
* exclusion: ``-word``, ``-"a phrase"``, ``-(a OR b)``, or ``x NOT y``;
* boolean operators, upper case only and only between terms (lower-case
  ``and``/``or``/``not`` stay words): ``AND`` (the default between terms),
  ``OR`` (also ``|``), ``NOT`` (also ``AND NOT``), precedence NOT > AND >
  OR, parentheses for grouping: ``(香港 OR 澳门) AND 选举 NOT 区议会``;
* proximity between two terms (a word, a "phrase" or a parenthesised OR of
  them): ``a w/5 b`` (at most 5 words apart, either order; also
  ``near/5``), ``a pre/5 b`` (a before b, at most 5 words on), ``a w/s b``
  (same sentence; ``SAME`` is a synonym) and ``a w/p b`` (same paragraph).
  Words are counted as the index counts them (jieba's words; punctuation
  is not a word); the title and the body are separate texts;
* field restriction: ``title:word``, ``title:"phrase"``, ``title:(a OR b)``,
  ``lead:`` (the first paragraph), and the value fields ``author:``,
  ``source:``, ``category:``, ``tag:`` (the value contains the text);
* at least N mentions in the article: ``atleast3:疫苗``.

A query containing an operator, a field restriction, a quoted phrase or an
exclusion is *exact* (``Query.exact``): staff asked for exactly those
articles, so it is never relaxed to partial matches.

``compose`` writes the advanced-search form's fields as such a query, so
what staff fill in becomes a query they can read, edit and share.

The language lives in this package: the tree (``tree.py``), the lexer
(``lexer.py``), the parser and ``parse`` (``parser.py``), and the advanced
form's ``compose`` (``form.py``).
"""

from __future__ import annotations

from ..fields import MAX_DISTANCE, MAX_MENTIONS, MAX_QUERY_LENGTH
from .form import compose
from .parser import parse
from .tree import (AllOf, AnyOf, AtLeast, FieldValue, Near, Notice, Phrase, Query, Words, meaning_text, plain_words,
                   restrictions)

__all__ = ["AllOf", "AnyOf", "AtLeast", "FieldValue", "Near", "Notice", "Phrase", "Query", "Words",
           "parse", "compose", "meaning_text", "plain_words", "restrictions", "MAX_DISTANCE", "MAX_MENTIONS",
           "MAX_QUERY_LENGTH"]
