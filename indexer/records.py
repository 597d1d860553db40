"""Validate a raw record and turn it into an ``Article``.

A record needs a non-empty string ``id`` and ``title``; other fields are
optional but must have the right type.  Problems raise ``RecordError`` with
a message naming every bad field.
"""

from __future__ import annotations

import hashlib
import json

from search.models import Article
from search.timeutil import DateError, parse_published

from .clean import clean_line, clean_text

OPTIONAL_STR = ("category", "source", "author", "url", "lang")
KNOWN = {"id", "title", "body", "published", "tags", *OPTIONAL_STR}
MAX_ID_LENGTH = 200


class RecordError(ValueError):
    pass


def to_article(data: dict, keep_implausible: bool = False) -> Article:
    """The Article of a raw record; raises RecordError naming every problem.

    A ``published`` outside the plausible range (``search.timeutil``) is a
    problem, except with ``keep_implausible``: then the article is kept
    undated (its text as written stays in ``published_text``).  That is for
    records already acknowledged (the article store, an index being
    rebuilt), which must never be dropped; new input is validated strictly."""
    problems = []
    rid = data.get("id")
    if isinstance(rid, int) and not isinstance(rid, bool):
        rid = str(rid)
    if not isinstance(rid, str) or not rid.strip():
        problems.append("missing or empty 'id'")
    elif len(rid) > MAX_ID_LENGTH or any(c.isspace() for c in rid.strip()):
        problems.append("'id' must be at most 200 characters without spaces")
    title = data.get("title")
    if not isinstance(title, str) or not clean_line(title):
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
                if not keep_implausible:
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
    if problems:
        raise RecordError("; ".join(problems))
    extra = {k: v for k, v in data.items() if k not in KNOWN}
    return Article(
        id=rid.strip(),
        title=clean_line(title),
        body=clean_text(body),
        published=published_dt,
        published_text=published.strip() if isinstance(published, str) else None,
        category=clean_line(data["category"]) or None if data.get("category") else None,
        source=clean_line(data["source"]) or None if data.get("source") else None,
        author=clean_line(data["author"]) or None if data.get("author") else None,
        url=data.get("url") or None,
        tags=[clean_line(t) for t in tags if clean_line(t)],
        lang=data.get("lang") or None,
        extra={k: extra[k] for k in ("summary", "duplicate_ids", "updated") if k in extra},
    )


def record_hash(article: Article) -> str:
    """Fingerprint of everything we index: same hash = nothing to update."""
    payload = json.dumps(
        [article.title, article.body, article.published_text, article.category, article.source,
         article.author, article.url, article.tags, article.lang, article.extra],
        ensure_ascii=False, sort_keys=True, default=str,
    )
    return hashlib.blake2b(payload.encode("utf-8"), digest_size=12).hexdigest()
