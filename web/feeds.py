"""Atom 1.0 feeds (built with feedgen, never by string concatenation):

* ``/feeds/saved/<id>.atom?token=<feed token>``: the alerts of a saved
  search (``SavedSearchStore.feed``: new matches, newest first, at most
  ``FEED_SIZE``), polled by a feed reader without the staff login: the
  token in the URL is the secret (a wrong or missing token is a 404, as an
  unknown id).  ``ETag`` from the feed's version (``feed_version``), the
  index's version and the search's last change; an alert whose article
  is no longer in the index (deleted) is left out at once, even before
  the writer withdraws it; ``If-None-Match`` naming it is answered 304,
  compared weakly as RFC 9110 says (``W/"…"``, which gzip proxies send,
  matches too); the 304 carries the 200's ``ETag``, ``Vary`` and
  ``Cache-Control``.
  An entry's ``updated`` is when the alert was recorded, ``published``
  the article's publication time.
* ``/search.atom?q=…``: any public search (the filters of ``/search``:
  category, dates, range …), newest first, ``FEED_SIZE`` entries; for
  readers, no login.  ``sort`` may only be ``newest`` and ``page``/``size``
  are refused (400): a feed is the newest ``FEED_SIZE`` matches.

Entry ids are ``urn:uuid:`` names derived from the article id (UUID 5),
the same in every feed and stable across hosts; every text put in a feed
(titles, names, summaries, authors, the query) goes through ``xml_text``,
which drops the characters XML 1.0 cannot hold (control characters such
as ``\x01``: a query, a title or a body holding one is still a feed); the entry links to the
article page; ``summary`` is text (the search's snippet, or for an alert
the article's first paragraph, at most ``SUMMARY_CHARS`` characters);
``author`` when the article has one.  Times without a time of day (a date
alone) are that day's midnight in newsroom time (UTC+8)."""

from __future__ import annotations

import dataclasses
import hashlib
import html
import re
import uuid
from datetime import datetime, timezone
from urllib.parse import quote

from feedgen.feed import FeedGenerator
from flask import Blueprint, current_app, request
from flask_babel import gettext

from search.timeutil import NEWSROOM_TZ, local_iso

from . import i18n
from .errors import page_error
from .pages import site_name
from .params import ParamError, search_request
from .saved import feed_url, guard, results_url, saved_store

bp = Blueprint("feeds", __name__)
_MARK = re.compile(r"</?mark>")
# What XML 1.0 cannot hold (its Char production): C0 controls but tab, line
# feed and carriage return, lone surrogates, U+FFFE and U+FFFF.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str | None) -> str:
    """``text`` without the characters XML 1.0 cannot hold (``\x01``, a
    lone surrogate ...): what every text put in a feed goes through, so a
    query, a name or an article holding one never makes a feed fail."""
    return _NOT_XML.sub("", text or "")


def plain_snippet(snippet_html: str) -> str:
    """The highlighted snippet as text (marks removed, entities decoded)."""
    return html.unescape(_MARK.sub("", snippet_html or ""))

guard(bp)

FEED_SIZE = 20  # entries per feed (the issue: 20)
SUMMARY_CHARS = 200  # an alert's summary: the article's first paragraph, cut here (chosen)
ATOM = "application/atom+xml; charset=utf-8"
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "news-search:")


def entry_id(article_id: str) -> str:
    """The Atom id of an article's entry: ``urn:uuid:`` + UUID 5 of its id."""
    return uuid.uuid5(_NAMESPACE, "article:" + article_id).urn


def atom_time(published: str | None) -> datetime | None:
    """A stored publication time as an aware datetime in newsroom time
    (a date alone: its midnight, UTC+8), or None when unknown/unreadable."""
    text = local_iso(published) if published else ""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=NEWSROOM_TZ)


def _epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


def _article_page(article_id: str) -> str:
    return request.host_url + "articles/" + quote(article_id, safe="")


def _feed(feed_id: str, title: str, self_url: str, alternate: str, updated: datetime) -> FeedGenerator:
    fg = FeedGenerator()
    fg.id(feed_id)
    fg.title(xml_text(title) or feed_id)
    fg.updated(updated)
    fg.link(href=self_url, rel="self", type="application/atom+xml")
    fg.link(href=alternate, rel="alternate", type="text/html")
    fg.author({"name": xml_text(site_name())})
    fg.generator("news-search")
    return fg


def _entry(fg: FeedGenerator, article_id: str, title: str, updated: datetime, published: datetime | None,
           summary: str, author: str | None) -> None:
    fe = fg.add_entry(order="append")
    fe.id(entry_id(article_id))
    fe.title(xml_text(title) or xml_text(article_id))
    fe.updated(updated)
    if published is not None:
        fe.published(published)
    fe.link(href=_article_page(article_id), rel="alternate", type="text/html")
    summary, author = xml_text(summary), xml_text(author)
    if summary:
        fe.summary(summary, type="text")
    if author:
        fe.author({"name": author})


def _validators(resp, cache: str, etag: str | None):
    """The headers a 200 and its 304 share: Cache-Control, ETag, Vary."""
    resp.headers["Cache-Control"] = cache
    if etag:
        resp.set_etag(etag)
    resp.vary.add("Accept-Language")  # titles and the site's name follow the interface language
    return resp


def _not_modified(cache: str, etag: str):
    """304 when the request's If-None-Match names ``etag`` (weak
    comparison, RFC 9110 13.1.2: ``W/"x"`` matches ``"x"``; ``*`` matches),
    else None."""
    if not request.if_none_match.contains_weak(etag):
        return None
    return _validators(current_app.response_class(status=304), cache, etag)


def _atom(fg: FeedGenerator, cache: str, etag: str | None = None):
    resp = current_app.response_class(fg.atom_str(pretty=False), mimetype="application/atom+xml")
    resp.headers["Content-Type"] = ATOM
    return _validators(resp, cache, etag)


def _lead(stored: dict | None) -> tuple[str, str | None]:
    """(summary, author) of a stored article: its first paragraph, cut."""
    if not stored:
        return "", None
    first = next((p.strip() for p in (stored.get("body") or "").split("\n") if p.strip()), "")
    if len(first) > SUMMARY_CHARS:
        first = first[:SUMMARY_CHARS - 1] + "…"
    return first, stored.get("author") or None


@bp.get("/feeds/saved/<search_id>.atom")
def saved_feed(search_id):
    """The Atom feed of a saved search's alerts (see the module docstring)."""
    store = saved_store()
    search = store.by_feed_token(search_id, request.args.get("token", ""))
    if search is None:
        return page_error(404, gettext("没有这个订阅源：链接不完整或已失效。"))
    engine = current_app.extensions["search_engine"].get()
    # The index's version too: an article deleted leaves the feed at its commit (below), before its alert is withdrawn.
    version = f"{store.feed_version(search_id)}|{engine.backend.version()!r}"
    # The feed's text depends on the interface language too (the site's name as author).
    etag = hashlib.sha256(f"{search_id}|{version}|{search.updated!r}|{i18n.current()}".encode()).hexdigest()[:32]
    not_modified = _not_modified("private, no-cache", etag)
    if not_modified is not None:
        return not_modified
    alerts = store.feed(search_id, FEED_SIZE)
    updated = max([_epoch(a.matched_at) for a in alerts] + [_epoch(search.updated)])
    fg = _feed(uuid.uuid5(_NAMESPACE, "saved:" + search_id).urn, search.name, request.host_url + feed_url(search)[1:],
               request.host_url + results_url(search)[1:], updated)
    for a in alerts:
        stored = engine.get(a.article_id)
        if stored is None:  # deleted: out of the feed at once, whatever the percolator's progress
            continue
        summary, author = _lead(stored)
        _entry(fg, a.article_id, a.title or "", _epoch(a.matched_at), atom_time(a.published), summary, author)
    return _atom(fg, "private, no-cache", etag)


@bp.get("/search.atom")
def search_feed():
    """The newest ``FEED_SIZE`` matches of a public search as Atom."""
    for name in ("page", "size"):
        if request.args.get(name):
            raise ParamError(f"'{name}' is not taken by a feed: it holds the newest {FEED_SIZE} matches")
    if request.args.get("sort", "newest") not in ("", "newest"):
        raise ParamError(f"a feed is sorted newest first: 'sort' may only be newest, got {request.args['sort']!r}")
    req = search_request(request.args, current_app.config, facets=())
    req = dataclasses.replace(req, sort="newest", size=FEED_SIZE, page=1)
    result = current_app.extensions["search_engine"].get().search(req)
    pairs = request.query_string.decode("utf-8", "replace")
    alternate = request.host_url + "search" + ("?" + pairs if pairs else "")
    times = [atom_time(h.published) for h in result.hits]
    updated = max([t for t in times if t] or [_epoch(0)])
    query = xml_text(req.q)
    title = gettext("%(query)s：最新报道", query=query) if query.strip() else gettext("最新报道")
    fg = _feed(uuid.uuid5(_NAMESPACE, "search:" + pairs).urn, f"{title} · {site_name()}",
               request.url, alternate, updated)
    for h, published in zip(result.hits, times):
        _entry(fg, h.id, h.title, published or updated, published, plain_snippet(h.snippet), h.author)
    return _atom(fg, "public, max-age=60")
