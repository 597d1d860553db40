"""Saved article pages (``.html`` files, or directories of them) -> records.

The story is extracted with trafilatura (a maintained main-content
extractor): title, publication date, body text and byline, without the
page furniture around the story (navigation, "您可能也感兴趣", "为您推荐",
"排行", "最近更新" lists, share bars, footers).  A last filter drops such a
block if one ever survives extraction.  The record id is the page's
canonical URL (so a page saved twice is one article), else the file name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

from .sources import RawRecord

HTML_SUFFIXES = (".html", ".htm")
# Headings of the lists that surround a story on Chinese news sites.
FURNITURE = ("您可能也感兴趣", "你可能也感兴趣", "为您推荐", "為您推薦", "猜你喜欢", "排行", "排行榜", "热门排行",
             "最近更新", "最新更新", "相关阅读", "相關閱讀", "相关新闻", "相關新聞", "延伸阅读", "延伸閱讀",
             "推荐阅读", "推薦閱讀", "热点推荐", "熱點推薦", "热门文章", "熱門文章")
_LABEL = re.compile(r"^\s*(?:作者|记者|記者|撰文|文|编辑|編輯|责任编辑|責任編輯|来源|來源)\s*[:：/／]\s*")
_PUBLISHED_META = ("article:published_time", "og:published_time", "pubdate", "publishdate", "publish_date",
                   "date", "dc.date.issued")


def html_files(path: str) -> list[str]:
    """The ``.html``/``.htm`` files under the directory ``path`` (recursively, sorted by path), or
    ``[path]`` itself when it is a file."""
    if os.path.isdir(path):
        return sorted(os.path.join(root, f) for root, _, files in os.walk(path) for f in files
                      if f.lower().endswith(HTML_SUFFIXES))
    return [path]


def read_html(path: str) -> Iterator[RawRecord]:
    """One record per page; a page with no story in it is reported and skipped."""
    for file in html_files(path):
        try:
            with open(file, "rb") as f:
                raw = f.read()
        except OSError as exc:
            yield RawRecord(file, None, f"cannot read: {exc}")
            continue
        record, problem = page_record(raw, file)
        yield RawRecord(file, record, problem)


def page_record(raw: bytes | str, location: str) -> tuple[dict | None, str | None]:
    """The article of one saved page (``raw``: its bytes or text; ``location``: its path, whose name
    is the id when the page has no canonical URL) as ``(record, None)``, or ``(None, why)`` when
    the page has no readable story (not HTML, no title or no text)."""
    import trafilatura
    from lxml import html as lxml_html

    try:
        doc = trafilatura.bare_extraction(raw, with_metadata=True, favor_precision=True,
                                          include_comments=False, include_tables=False)
    except Exception as exc:  # noqa: BLE001 - a broken page must not stop the run
        return None, f"not a readable HTML page: {exc}"
    if doc is None:
        return None, "no article text found in the page"
    meta = doc.as_dict()
    body = strip_furniture(meta.get("text") or "")
    title = (meta.get("title") or "").strip()
    if not title or not body:
        return None, "no article title or text found in the page"
    tree = lxml_html.fromstring(raw if isinstance(raw, bytes) else raw.encode("utf-8"))
    url = meta.get("url") or None
    stem = os.path.splitext(os.path.basename(location))[0]
    record = {
        "id": _id_from(url) or stem,
        "title": title,
        "body": body,
        "published": _published(tree) or _date_only(meta.get("date")),
        "author": _LABEL.sub("", meta.get("author") or "").strip() or None,
        "source": meta.get("sitename") or None,
        "url": url,
        "tags": [t for t in (meta.get("tags") or []) if t],
    }
    return {k: v for k, v in record.items() if v not in (None, [])}, None


def strip_furniture(text: str) -> str:
    """Drop a recommendation/ranking block: its heading line and the short
    link lines after it."""
    out, skipping = [], False
    for line in text.split("\n"):
        stripped = line.strip()
        if any(stripped == h or (stripped.startswith(h) and len(stripped) <= len(h) + 4) for h in FURNITURE):
            skipping = True
            continue
        if skipping and len(stripped) < 40:
            continue
        skipping = False
        out.append(line)
    return "\n".join(out).strip()


def _id_from(url: str | None) -> str | None:
    if not url:
        return None
    ident = re.sub(r"^https?://", "", url).rstrip("/")
    return ident[:200] if ident and not any(c.isspace() for c in ident) else None


def _published(tree) -> str | None:
    """The full publication time from the page's metadata (trafilatura keeps only the date)."""
    for node in tree.iter("meta"):
        key = (node.get("property") or node.get("name") or node.get("itemprop") or "").lower()
        if key in _PUBLISHED_META and node.get("content"):
            value = node.get("content").strip()
            if re.match(r"^\d{4}-\d{2}-\d{2}", value):
                return value
    for node in tree.iter("time"):
        value = (node.get("datetime") or "").strip()
        if re.match(r"^\d{4}-\d{2}-\d{2}", value):
            return value
    return None


def _date_only(value: str | None) -> str | None:
    return value[:10] if value and re.match(r"^\d{4}-\d{2}-\d{2}", value) else None
