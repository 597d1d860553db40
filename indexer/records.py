"""Validate a raw record and turn it into an ``Article`` (``read_article``:
validate -> clean -> enrich, the one way every path of the indexer reads a
record: files, the article store, the writer's change log).

A record needs a non-empty string ``id`` and ``title`` (empty: nothing but
whitespace, control or invisible format characters, ``search.chars``'s
ignorable class, which the analysis ignores); other fields are optional but
must have the right type.  Problems raise ``RecordError`` with
a message naming every bad field.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata

from search.chars import strip_ignorable
from search.models import Article
from search.timeutil import DateError, parse_published
from search.values import value_key

from . import bylines, furniture, ids
from .clean import clean_line, clean_text
from search.errors import SearchServiceError

OPTIONAL_STR = ("category", "source", "author", "url", "lang")
KNOWN = {"id", "title", "body", "published", "tags", "photo_credits", *OPTIONAL_STR}
# Other fields a record may carry that are kept with it (``Article.extra``).
KEPT_EXTRA = ("summary", "duplicate_ids", "updated")
# Every field an article takes: the write API refuses any other (a typo such
# as "publshed" would otherwise be dropped in silence); files may carry more.
FIELDS = frozenset(KNOWN) | frozenset(KEPT_EXTRA)


def _distinct_tags(tags: list[str]) -> list[str]:
    """The tags cleaned, blanks dropped, each once: tags that facets count as
    one value (``search.values.value_key``: case, width and script folded)
    keep the first form given."""
    seen, out = set(), []
    for tag in tags:
        if is_blank(tag):
            continue
        tag = clean_line(tag)
        key = value_key(tag)
        if key not in seen:
            seen.add(key)
            out.append(tag)
    return out


def misspelt_fields(data: dict) -> list[tuple[str, str]]:
    """(field, the article field it misspells) for each field of ``data``
    that is not an article's but near one: the same once width and case are
    folded (``Ａｕｔｈｏｒ``, ``Title``), or within one edit (a letter
    changed, added, dropped or two swapped: ``auther``, ``bdoy``, ``ulr``)
    of a field of five letters or fewer, two edits of a longer one
    (``publshed``).  New input with such a field is refused (its value
    would be lost in silence); other fields (a CMS's ``categories``,
    ``origin_file``) are not near any.  Sorted by field."""
    out = []
    for name in sorted((n for n in data if n not in FIELDS), key=str):
        folded = unicodedata.normalize("NFKC", str(name)).strip().lower()
        near = folded if folded in FIELDS else next(
            (f for f in sorted(FIELDS) if _edits(folded, f) <= (1 if len(f) <= 5 else 2)), None)
        if near is not None:
            out.append((name, near))
    return out


def _edits(a: str, b: str) -> int:
    """Optimal string alignment distance (Levenshtein plus swaps of two
    neighbours).  Written here: a few lines, for field names only."""
    if abs(len(a) - len(b)) > 2:
        return 3
    prev2, prev = None, list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]
MAX_ID_LENGTH = ids.MAX_ID_LENGTH
MAX_DEPTH = 32  # nesting levels of a record's JSON (an article needs 3)


class RecordError(ValueError, SearchServiceError, status=400):
    """A record that cannot be indexed; the message names every bad field."""


def parse_json(text: str | bytes):
    """One JSON document (a line of JSON Lines, a request body) -> its value.
    Raises ``RecordError`` naming the problem: not UTF-8, not JSON, nested
    deeper than ``MAX_DEPTH`` levels, or a lone surrogate (``"\\ud800"``:
    no text can hold it)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RecordError(f"not UTF-8: byte {exc.start + 1} is invalid") from None
    try:
        data = json.loads(text)
    except RecursionError:
        raise RecordError(f"JSON nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as exc:
        raise RecordError(f"not JSON: {exc}") from None
    problem = json_problem(data)
    if problem:
        raise RecordError(problem)
    return data


def json_problem(data) -> str | None:
    """What makes a parsed JSON value unstorable (too deep, a lone
    surrogate in a string or key), or None.  Iterative: no recursion limit."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"JSON nested more than {MAX_DEPTH} levels deep"
        if isinstance(value, dict):
            for k, v in value.items():
                if _has_surrogate(k):
                    return f"a lone surrogate (\\u{_surrogate(k):04x}) in the key {_printable(k)}"
                stack.append((v, depth + 1))
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
        elif isinstance(value, str) and _has_surrogate(value):
            return f"a lone surrogate (\\u{_surrogate(value):04x}) in a string: not valid Unicode text"
    return None


def _has_surrogate(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _surrogate(s: str) -> int:
    return next(ord(c) for c in s if 0xD800 <= ord(c) <= 0xDFFF)


def _printable(s: str) -> str:
    return repr(s.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace"))


def is_blank(text: str) -> bool:
    """Empty once whitespace, control characters and invisible format
    characters (``search.chars.strip_ignorable``) are left out: ``"\u200b"``
    is as empty as ``"   "``."""
    return not clean_line(strip_ignorable(text))


def to_article(data: dict, acknowledged: bool = False, removed: list | None = None) -> Article:
    """A validated, cleaned ``Article``; raises ``RecordError`` naming every
    problem.

    Cleaning: ``clean.clean_text``, then page furniture out of the body
    (``furniture.strip``: related-story lists and links, photo credits).
    The credits go to ``extra["photo_credits"]`` (a list of strings, after
    any the record carries in ``photo_credits``), never to the body.
    ``removed``: a list that receives the ``furniture.Removal`` of each
    piece taken out (for ``indexer build --report-cleaning``).

    ``acknowledged``: the record was accepted earlier and comes from the
    project's own store or index (the writer, a rebuild), so it must never
    be dropped for a rule added since: an id written before the id rule is
    kept as it is (any non-empty string), and a ``published`` outside the
    plausible range (``search.timeutil``) leaves the article undated (its
    text as written stays in ``published_text``).  New input is validated
    strictly."""
    problems = []
    structural = json_problem(data)
    if structural:
        raise RecordError(structural)
    rid = data.get("id")
    if rid is None or rid == "":
        problems.append("missing or empty 'id'")
    else:
        why = ids.problem(str(rid) if isinstance(rid, int) and not isinstance(rid, bool) else rid)
        if why and acknowledged and isinstance(rid, str):
            why = None
            rid = str(rid)
        elif why:
            problems.append(f"'id': {why} ({ids.RULE})")
        elif not isinstance(rid, str):
            rid = ids.check(rid)
    if not acknowledged:
        problems.extend(f"unknown field {name!r} (did you mean {near!r}?)" for name, near in misspelt_fields(data))
    title = data.get("title")
    # an acknowledged title of invisible characters only (accepted before
    # this check) is kept; new input is refused
    if title is not None and not isinstance(title, str):
        problems.append("'title' must be a string")
    elif not isinstance(title, str) or not clean_line(title) or (not acknowledged and is_blank(title)):
        problems.append("missing or empty 'title'")
    body = data.get("body")
    if body is None:
        body = ""
    if not isinstance(body, str):
        problems.append("'body' must be a string")
    published = data.get("published")
    published_dt = None
    if published is not None:
        if not isinstance(published, str):
            problems.append("'published' must be an ISO 8601 string")
        else:
            try:
                published_dt = parse_published(published)
            except DateError as exc:
                if not acknowledged:
                    problems.append(f"implausible date in 'published': {exc}")
            except ValueError:
                problems.append(f"unparsable date in 'published': {published!r}")
    for name in OPTIONAL_STR:
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            problems.append(f"'{name}' must be a string")
    tags = data.get("tags")
    if tags is None:
        tags = []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        problems.append("'tags' must be a list of strings")
    given_credits = data.get("photo_credits")
    if given_credits is None:
        given_credits = []
    if not isinstance(given_credits, list) or not all(isinstance(c, str) for c in given_credits):
        problems.append("'photo_credits' must be a list of strings")
    if problems:
        raise RecordError("; ".join(problems))
    extra = {k: data[k] for k in KEPT_EXTRA if k in data}
    stripped = furniture.strip(clean_text(body))
    if removed is not None:
        removed.extend(stripped.removed)
    credits = [clean_line(c) for c in given_credits if not is_blank(c)]
    credits += [c for c in stripped.photo_credits if c not in credits]
    if credits:
        extra["photo_credits"] = credits
    return Article(
        id=rid,
        title=clean_line(title),
        body=stripped.body,
        published=published_dt,
        published_text=published.strip() if isinstance(published, str) else None,
        category=None if not data.get("category") or is_blank(data["category"]) else clean_line(data["category"]),
        source=None if not data.get("source") or is_blank(data["source"]) else clean_line(data["source"]),
        author=None if not data.get("author") or is_blank(data["author"]) else clean_line(data["author"]),
        url=data.get("url") or None,
        tags=_distinct_tags(tags),
        lang=data.get("lang") or None,
        extra=extra,
    )


def read_article(data: dict, acknowledged: bool = False, removed: list | None = None) -> Article:
    """``to_article`` (validated and cleaned; raises ``RecordError``), then
    byline and source taken from the text where the record has none
    (``bylines.enrich``).  ``acknowledged``, ``removed``: see ``to_article``."""
    return bylines.enrich(to_article(data, acknowledged=acknowledged, removed=removed))


def record_hash(article: Article) -> str:
    """Fingerprint of everything we index: same hash = nothing to update."""
    payload = json.dumps(
        [article.title, article.body, article.published_text, article.category, article.source,
         article.author, article.url, article.tags, article.lang, article.extra],
        ensure_ascii=False, sort_keys=True, default=str,
    )
    return hashlib.blake2b(payload.encode("utf-8"), digest_size=12).hexdigest()
