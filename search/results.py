"""Stored documents as entries of a result list: a hit (highlighted title
and snippet) and the brief form near-duplicates and story coverage show."""

from __future__ import annotations

from .highlight import highlight_title, snippet
from .models import Hit


def hit(stored: dict, score: float, needles: list[str], highlight: bool = True) -> Hit:
    """A result from a stored document (a dict with ``id`` and the stored
    fields; ``published_text`` as stored): ``needles`` (query texts) are
    highlighted in the title and choose the snippet; ``highlight`` False
    leaves both empty (related lists, exports)."""
    title = stored.get("title", "")
    body = stored.get("body", "") or ""
    return Hit(
        id=stored["id"],
        title=title,
        title_highlight=highlight_title(title, needles) if highlight else "",
        snippet=snippet(body, needles) if highlight else "",
        published=stored.get("published_text"),
        category=stored.get("category"),
        source=stored.get("source"),
        author=stored.get("author"),
        url=stored.get("url"),
        score=score,
        tags=stored.get("tags") or [],
        lang=stored.get("lang"),
    )


def brief(stored: dict) -> dict:
    """What a result list shows of a near-duplicate or a story's article:
    {"id", "title", "published" (as stored, or None), "source", "url", "lang"
    (the stored language tag, or None: pages mark the title's language)}."""
    return {"id": stored["id"], "title": stored.get("title", ""), "published": stored.get("published_text"),
            "source": stored.get("source"), "url": stored.get("url"), "lang": stored.get("lang")}
