"""Shapes shared by pages and API (no logic beyond formatting)."""

from __future__ import annotations


def article_json(stored: dict) -> dict:
    return {
        "id": stored["id"],
        "title": stored.get("title", ""),
        "body": stored.get("body", "") or "",
        "published": stored.get("published_text"),
        "category": stored.get("category"),
        "source": stored.get("source"),
        "author": stored.get("author"),
        "url": stored.get("url"),
        "tags": stored.get("tags") or [],
        "lang": stored.get("lang"),
    }


def paragraphs(body: str) -> list[str]:
    return [p for p in (body or "").split("\n") if p.strip()]
