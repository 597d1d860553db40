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


def partial_needles(must: list, missing: list[int]) -> list[str]:
    """What a partial match may hold of the words it lacks (``missing``:
    indexes into the plan's ``must`` clauses), to be marked so a reader
    sees why it was listed: a long word's parts (齐齐哈尔市 -> 齐齐, 哈尔)
    and the two-character pieces of a Chinese word (彩虹桥 -> 彩虹, 虹桥,
    the bigram fallback's evidence).  Latin words give none: only whole
    Latin words are ever marked."""
    out: list[str] = []
    for i in missing:
        word = getattr(must[i], "word", None)
        if not word:
            continue
        out.extend(getattr(must[i], "parts", ()))
        if not word.isascii():
            out.extend(word[j:j + 2] for j in range(len(word) - 1) if not word[j:j + 2].isascii())
    return out
