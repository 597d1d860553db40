"""Saved searches in the staff pages (signed-in staff: the session or a
bearer token; every form is a POST checked by ``web/same_origin.py``):

    POST /staff/saved                 save the results page's search (its "save this search" form)
    GET  /staff/saved                 own and shared saved searches, new since the last visit
    GET  /staff/saved/<id>            a saved search's latest alerts (records the visit: the count resets)
    POST /staff/saved/<id>/rename     rename (owner)
    POST /staff/saved/<id>/share      share or unshare (owner; shared=1|0)
    POST /staff/saved/<id>/delete     delete (owner)

Each change redirects (303) to ``/staff/saved``, keeping ``hl``.  A bad
name or search is the error page (400) naming the problem, an id the
caller may not see 404, someone else's search 403."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from flask import Blueprint, redirect, render_template, request
from flask_babel import gettext

from . import auth, i18n
from .pages import _page
from .params import ParamError
from .saved import ALERTS_SHOWN, feed_url, guard, read_params, results_url, saved_store

bp = Blueprint("saved_pages", __name__)
guard(bp)

KEPT_OUT = ("page", "size", "hl")  # what the results page's URL holds that is not the search


def form_query_string(args) -> str:
    """The results page's search as the save form sends it: its query
    string without paging and the interface language (``KEPT_OUT``)."""
    return urlencode([(k, v) for k, vs in args.lists() if k not in KEPT_OUT for v in vs if v.strip()])


def _back():
    return redirect(i18n.link("/staff/saved"), code=303)  # the forms' actions carry hl


def _flag(name: str) -> bool:
    value = request.form.get(name, "0")
    if value not in ("0", "1", "on"):
        raise ParamError(f"'{name}' must be 1 or 0, got {value[:20]!r}")
    return value in ("1", "on")


@bp.post("/staff/saved")
@auth.required(allow_session=True)
def save():
    """Save the search of the results page's form (fields: name, shared,
    query_string)."""
    params: dict[str, list[str]] = {}
    for key, value in parse_qsl(request.form.get("query_string", ""), keep_blank_values=True):
        if key != "hl":  # the interface language is the page's, never part of the search
            params.setdefault(key, []).append(value)
    params = read_params(params=params)
    saved_store().create(auth.principal(), request.form.get("name", ""), params, shared=_flag("shared"))
    return _back()


@bp.get("/staff/saved")
@auth.required(allow_session=True)
def listing():
    store, viewer = saved_store(), auth.principal()
    rows = [{"search": s, "mine": s.owner == viewer, "new": store.count_new(s.id, viewer),
             "results": results_url(s), "feed": feed_url(s) if s.owner == viewer else None,
             "query": " · ".join(f"{k}={v}" for k, vs in s.params.items() for v in vs)}
            for s in store.list_for(viewer)]
    return _page(render_template("staff_saved.html", q="", rows=rows))


@bp.get("/staff/saved/<sid>")
@auth.required(allow_session=True)
def alerts(sid):
    """The latest alerts; those new since the caller's last visit are
    marked, then the visit is recorded (the count resets)."""
    store, viewer = saved_store(), auth.principal()
    search = store.visible(sid, viewer)
    new = store.count_new(sid, viewer)
    latest = store.feed(sid, ALERTS_SHOWN)
    store.visit(sid, viewer)
    return _page(render_template("staff_saved_one.html", q="", search=search, alerts=latest, new=new,
                                 mine=search.owner == viewer, results=results_url(search),
                                 feed=feed_url(search) if search.owner == viewer else None))


@bp.post("/staff/saved/<sid>/rename")
@auth.required(allow_session=True)
def rename(sid):
    saved_store().update(sid, auth.principal(), name=request.form.get("name", ""))
    return _back()


@bp.post("/staff/saved/<sid>/share")
@auth.required(allow_session=True)
def share(sid):
    saved_store().update(sid, auth.principal(), shared=_flag("shared"))
    return _back()


@bp.post("/staff/saved/<sid>/delete")
@auth.required(allow_session=True)
def delete(sid):
    saved_store().delete(sid, auth.principal())
    return _back()


def save_form_fields(args) -> dict:
    """What the results page's save form needs: ``query_string`` (see
    ``form_query_string``) and a suggested ``name`` (the query, else the
    filters)."""
    query_string = form_query_string(args)
    pairs = parse_qsl(query_string)
    name = (args.get("q") or "").strip() or " ".join(v for _, v in pairs)[:80] or gettext("我的搜索")
    return {"query_string": query_string, "name": name}


@bp.app_context_processor
def _save_form():
    """``save_search_form()`` for the results page's template; ``i18n_keep``
    (a same-site URL with the chosen ``hl``) for the staff pages'."""
    return {"save_search_form": lambda: save_form_fields(request.args), "i18n_keep": i18n.keep_chosen,
            "search_feed_link": search_feed_link}


def search_feed_link() -> str:
    """The results page's search as its Atom feed (``/search.atom``): the
    same parameters without paging and sort (a feed is newest first)."""
    pairs = [(k, v) for k, vs in request.args.lists() if k not in ("page", "size", "sort") for v in vs if v.strip()]
    return "/search.atom" + ("?" + urlencode(pairs) if pairs else "")
