"""Saved article pages (``.html`` files, or directories of them) -> records.

The story is extracted with trafilatura (a maintained main-content
extractor): title, publication date, body text, without the page furniture
around the story (navigation, share bars, footers); a "您可能也感兴趣" /
"为您推荐" / "排行" list that survives extraction goes with the cleaning every
input path shares (``furniture.strip``, called by ``records.to_article``).

* The headline repeated at the top of the body (the page's ``<h1>`` above
  the story, a date line beside it) is dropped: leading lines equal to the
  title once normalised (``search.normalize``: width, script, case; spaces
  and punctuation ignored) or holding only a date/time.
* The author: ``<meta name="author">`` (or ``article:author``), else the
  page's byline element (a short text such as ``作者：李明`` or
  ``（记者李明）`` near the headline, the name checked with
  ``bylines.clean_name``), else what ``bylines`` finds in the body
  (``records.read_article`` enriches every record).
* The source: ``og:site_name`` (the outlet's name), else the URL's domain
  name (``www.`` left out).
* The id: the page's canonical URL (``<link rel="canonical">``, else
  ``og:url``) without its scheme, so a page saved twice is one article;
  ``page_record``'s caller may give the URL; else the file name.  One URL,
  one id (``page_url``): a relative canonical link (``/news/1.html``) is
  resolved against the page's absolute URL (the caller's, else ``og:url``;
  none: the page has no URL); scheme and host are lower-cased (they are
  case-insensitive: ``HTTPS://Example.com/a`` is ``example.com/a``); and
  percent-encoded UTF-8 is decoded (``/news/%E6%B8%AF`` is ``/news/港``:
  a Chinese slug is an id of its own length, not three times it) unless it
  decodes to whitespace, control or invalid characters.  The id rule
  (``indexer/ids.py``) then applies unchanged.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from collections.abc import Iterator
import unicodedata
from urllib.parse import unquote_to_bytes, urljoin, urlsplit, urlunsplit

from . import bylines
from .sources import RawRecord

HTML_SUFFIXES = (".html", ".htm")
MAX_BYLINE = 60  # characters: a page's byline element is short (chosen, not measured)
_LABEL = re.compile(r"^\s*(?:作者|记者|記者|撰文|文|编辑|編輯|责任编辑|責任編輯|来源|來源)\s*[:：/／]\s*")
# A byline element's label and name(s): 作者：李明, （记者李明）, 文／王建国, 記者 陳大文、李小明
_BYLINE = re.compile(r"(?:^|[\s（(【\[|｜])(?:作者|记者|記者|撰文|文)\s*[:：/／]?\s*"
                     r"(?P<names>[^\s:：/／（()）【】\[\]|｜，,。;；]{2,8}(?:[、 ][^\s:：/／（()）【】\[\]|｜，,。;；]{2,8})*)")
_DATE_LINE = re.compile(r"^[\d\s:：/.\-年月日时時分秒]{8,}$")
# A page's metadata line beside the story (2024-11-30 20:00 来源：示例新闻网,
# 发布时间：2024年11月28日 09:15 | 作者：李明): a date and time, and labelled
# fields, nothing else.
_WHEN = re.compile(r"(?:(?:发布|發佈|发表|發表)?(?:时间|時間|日期)\s*[:：]\s*)?"
                   r"(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
                   r"(?:\s*(?P<H>\d{1,2})\s*[:：时時]\s*(?P<M>\d{2})(?:\s*[:：分]\s*(?P<S>\d{2})\s*秒?)?)?")
_FIELD = re.compile(r"(?:来源|來源|作者|编辑|編輯|责任编辑|責任編輯|记者|記者|出处|出處|字号|字號|浏览|瀏覽)"
                    r"\s*[:：]\s*[^\s|｜丨/／]*")
_META_LEFT = re.compile(r"^[\s|｜丨/／·•,，;；()（）【】\[\]]*$")
_BLOCKS = ("p", "div", "span", "li", "td", "em", "small", "address", "header", "section", "time", "i", "b",
           "strong", "font")
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


def page_record(raw: bytes | str, location: str, url: str | None = None) -> tuple[dict | None, str | None]:
    """The article of one saved page (``raw``: its bytes or text; ``location``: its path, whose name
    is the id when the page has no canonical URL; ``url``: the page's canonical URL when the caller
    knows it, overriding the page's own) as ``(record, None)``, or ``(None, why)`` when the page has
    no readable story (not HTML, no title or no text).  The record is raw: ``records.read_article``
    validates and cleans it."""
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
    title = (meta.get("title") or "").strip()
    body, when = _without_repeated_title(meta.get("text") or "", title)
    if not title or not body:
        return None, "no article title or text found in the page"
    try:
        tree = lxml_html.fromstring(raw if isinstance(raw, bytes) else raw.encode("utf-8"))
    except Exception as exc:  # noqa: BLE001 - trafilatura read it; lxml alone may still refuse
        return None, f"not a readable HTML page: {exc}"
    url = page_url(url, _canonical(tree), _meta(tree, "og:url"), meta.get("url"))
    stem = os.path.splitext(os.path.basename(location))[0]
    record = {
        "id": _id_from(url) or stem,
        "title": title,
        "body": body,
        "published": _published(tree) or when or _date_only(meta.get("date")),
        "author": _meta(tree, "author", "article:author") or _byline(tree)
                  or _LABEL.sub("", meta.get("author") or "").strip() or None,
        "source": _meta(tree, "og:site_name") or _domain(url),
        "url": url,
        "tags": [t for t in (meta.get("tags") or []) if t],
    }
    return {k: v for k, v in record.items() if v not in (None, [])}, None


def _folded(text: str) -> str:
    """``text`` as compared with a title: normalised, letters and digits only."""
    from search.normalize import normalize

    return "".join(c for c in normalize(text).text if c.isalnum())


def _without_repeated_title(body: str, title: str) -> tuple[str, str | None]:
    """(``body`` without its leading lines that repeat the headline or hold
    only the page's metadata, the publication time such a line gives as
    ``YYYY-MM-DDTHH:MM[:SS]`` in the page's own (newsroom) time, or None)."""
    lines = body.split("\n")
    want = _folded(title)
    when = None
    while lines:
        line = lines[0].strip()
        meta, found = _metadata_line(line)
        if not (not line or meta or (want and _folded(line) == want)):
            break
        when = when or found
        lines.pop(0)
    return "\n".join(lines).strip(), when


def _metadata_line(line: str) -> tuple[bool, str | None]:
    """Is ``line`` only a date/time and labelled fields (来源：…, 作者：…)?
    And the date and time it names, if it names a time of day."""
    if _DATE_LINE.match(line):
        return True, None
    match = _WHEN.search(line)
    rest = _FIELD.sub("", _WHEN.sub("", line, count=1) if match else line)
    if not _META_LEFT.match(rest) or (not match and rest == line):
        return False, None
    if not match or match.group("H") is None:
        return True, None
    y, m, d, hh, mm = (int(match.group(k)) for k in ("y", "m", "d", "H", "M"))
    ss = int(match.group("S") or 0)
    try:
        return True, datetime(y, m, d, hh, mm, ss).isoformat()
    except ValueError:
        return True, None


def _meta(tree, *keys: str) -> str | None:
    """The first non-empty ``<meta>`` content named (``name`` or ``property``) by one of ``keys``."""
    for key in keys:
        for node in tree.iter("meta"):
            if (node.get("property") or node.get("name") or "").strip().lower() == key:
                value = _LABEL.sub("", " ".join((node.get("content") or "").split()))
                if value:
                    return value
    return None


def _canonical(tree) -> str | None:
    for node in tree.iter("link"):
        if "canonical" in (node.get("rel") or "").lower().split() and (node.get("href") or "").strip():
            return node.get("href").strip()
    return None


def _absolute(url: str | None) -> bool:
    try:
        parts = urlsplit(url or "")
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def page_url(given: str | None, *found: str | None) -> str | None:
    """The page's URL, normalised (see the module docstring): ``given`` (the
    caller's, absolute) when there is one, else the first of ``found`` (the
    page's canonical link, ``og:url``, ...), resolved against the first
    absolute URL among ``given`` and ``found`` when it is relative.  None when
    there is no URL, or only relative ones with nothing to resolve them
    against (the caller must then give the URL)."""
    candidates = [u.strip() for u in (given, *found) if u and u.strip()]
    if not candidates:
        return None
    base = next((u for u in candidates if _absolute(u)), None)
    first = candidates[0]
    if not _absolute(first):
        if base is None:
            return None
        try:
            first = urljoin(base, first)
        except ValueError:
            return None
        if not _absolute(first):
            return None
    return _normal_url(first)


# Runs of percent-encoded non-ASCII bytes: UTF-8 text (ASCII escapes such as %2F are never in a run).
_ENCODED_UTF8 = re.compile(r"(?:%[89A-Fa-f][0-9A-Fa-f])+")


def _decoded(match: re.Match) -> str:
    """The text a run of percent-encoded UTF-8 stands for, or the run itself
    when it is not UTF-8 or decodes to a character an id may not hold."""
    run = match.group(0)
    try:
        text = unquote_to_bytes(run).decode("utf-8")
    except UnicodeDecodeError:
        return run
    if any(c.isspace() or unicodedata.category(c)[0] in "CZ" or c == "\ufffd" for c in text):
        return run
    return text


def _normal_url(url: str) -> str:
    """``url`` (absolute http(s)) with scheme and host lower-cased and its
    percent-encoded UTF-8 decoded (``_decoded``); ASCII escapes (``%2F``,
    ``%20``) are kept, they change the URL's meaning or hold spaces."""
    parts = urlsplit(url)
    netloc = parts.netloc
    host = parts.hostname or ""
    at = netloc.rfind("@") + 1
    netloc = netloc[:at] + netloc[at:].lower() if host else netloc
    return _ENCODED_UTF8.sub(_decoded, urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query,
                                                  parts.fragment)))


def _byline(tree) -> str | None:
    """The names of the page's byline element: the first short text block (inside ``<article>``
    when the page has one) with a byline label, each name passing ``bylines.clean_name``."""
    scopes = list(tree.iter("article")) or [tree]
    for scope in scopes:
        for node in scope.iter(*_BLOCKS):
            text = " ".join(node.text_content().split())
            if not text or len(text) > MAX_BYLINE:
                continue
            m = _BYLINE.search(text)
            if not m:
                continue
            names = [bylines.clean_name(n) for n in re.split(r"[、 ]", m.group("names"))]
            if names and all(names):
                return bylines.AUTHOR_SEPARATOR.join(dict.fromkeys(names))
    return None


def _domain(url: str | None) -> str | None:
    """The URL's host name without ``www.``, or None."""
    try:
        host = urlsplit(url or "").hostname or ""
    except ValueError:
        return None
    return host.removeprefix("www.") or None


def _id_from(url: str | None) -> str | None:
    if not url:
        return None
    ident = re.sub(r"^https?://", "", url, flags=re.IGNORECASE).rstrip("/")
    # not cut to the id rule's length: a longer URL is refused by the rule (two
    # long URLs sharing their first 200 characters must not become one article)
    return ident if ident and not any(c.isspace() for c in ident) else None


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
