"""HTML pages for readers: home, search results, article.

Every value reaches the templates escaped by Jinja, except the engine's
highlight fragments, which the engine built by escaping the article text
and adding only <mark> tags (``Markup`` marks them as such)."""

from __future__ import annotations

import dataclasses
from urllib.parse import urlencode

from flask import Blueprint, current_app, redirect, render_template, request, session
from flask_babel import gettext
from markupsafe import Markup

from search.fields import FACET_FIELDS
from search.highlight import highlight_text
from search.hybrid import MODES
from search.models import FacetValue, SearchRequest
from search.settings import Settings
from search.script import content_lang
from search.timeutil import local_date, local_iso, local_time
from search.values import value_key

from . import auth, coverage_panels, i18n, limits, staff_sessions
from .labels import FIELD_LABELS, MODE_LABELS, RANGE_LABELS, SORT_LABELS, texts
from .api_params import keep_declared
from .errors import page_error as render_error
from .explain_view import explain_view
from .filter_wording import filters_text, filters_url
from .inputs import query_url, same_site_path
from .params import (FILTERS, RANGES, SCOPES, ParamError, advanced_query, int_param, query_period, query_text,
                     search_request)
from .query_wording import meaning_text, missing_text, notice_text, relaxed_text, understood_text
from .render import CHART_HEIGHT, CHART_WIDTH, article_json, paragraphs, timeline_bars
from .summary import count_text, dense_text, meaning_count_text, took_text

bp = Blueprint("pages", __name__, static_folder="static", static_url_path="/static")
# Publication times on every page, in newsroom time (the day shown is the
# day the date filters and the timeline count the article under):
# {{ h.published | local_date }}, | local_time, | local_iso (<time datetime>).
bp.add_app_template_filter(local_date, "local_date")
bp.add_app_template_filter(local_time, "local_time")
bp.add_app_template_filter(local_iso, "local_iso")


def site_name() -> str:
    """The site's name: ``SEARCH_SITE_NAME`` as configured, or, left at its
    default, that default in the interface language (新闻搜索, 新聞搜尋,
    News search)."""
    name = current_app.config["SEARCH_SITE_NAME"]
    return gettext("新闻搜索") if name == _DEFAULT_SITE_NAME else name


_DEFAULT_SITE_NAME = {f.name: f.default for f in dataclasses.fields(Settings)}["site_name"]


def lang_attr(article) -> Markup:
    """`` lang="zh-Hant"`` or `` lang="zh-Hans"`` for a link to an article
    (a ``Hit``, a brief dict: its ``lang``, else its title's script;
    ``script.content_lang``), or nothing when neither tells:
    ``<a href=…{{ h | lang_attr }}>``."""
    get = article.get if isinstance(article, dict) else (lambda key: getattr(article, key, None))
    tag = content_lang(get("lang"), get("title") or "")
    return Markup(f' lang="{tag}"') if tag else Markup("")


bp.add_app_template_filter(lang_attr, "lang_attr")


CACHE_PAGE = "public, max-age=30"
HOT_DAYS = 7  # 热门搜索 on the home page: the last week


def _engine():
    return current_app.extensions["search_engine"].get()


def url_with(**changes) -> str:
    """The current search URL with some parameters changed (None removes)."""
    args = {k: request.args.getlist(k) for k in request.args}
    for k, v in changes.items():
        if v is None or v == "" or v == []:
            args.pop(k, None)
        else:
            args[k] = v if isinstance(v, list) else [v]
    if "page" not in changes:
        args.pop("page", None)
    pairs = [(k, x) for k, vs in args.items() for x in vs]
    return "/search" + ("?" + urlencode(pairs) if pairs else "")  # hl, like every parameter, is kept


@bp.app_context_processor
def _globals():
    return {"url_with": url_with, "count_text": count_text,
            "meaning_count_text": meaning_count_text, "took_text": took_text, "site_name": site_name(),
            "RANGE_LABELS": texts(RANGE_LABELS), "SORT_LABELS": texts(SORT_LABELS),
            "FACET_LABELS": {name: str(FIELD_LABELS[name]) for name in FACET_FIELDS}}


def _page(html: str):
    resp = current_app.make_response(html)
    # A signed-in staff member's page shows staff tools (exports, sign-out): never in a shared cache.
    resp.headers["Cache-Control"] = "private, no-store" if session.get("staff") else CACHE_PAGE
    resp.headers["Link"] = "</api/openapi.json>; rel=\"service-desc\""
    return resp


@bp.get("/favicon.ico")
def favicon():
    return bp.send_static_file("favicon.svg")


@bp.get("/")
def home():
    engine = _engine()
    latest = engine.search(SearchRequest(q="", size=10, sort="newest", facets=(), highlight=False))
    hot = engine.hot_queries(HOT_DAYS, limit=10)  # precomputed: never waits on the query log
    return _page(render_template("home.html", latest=latest.hits, hot=hot, q=""))


@bp.get("/search")
def search_page():
    req = search_request(request.args, current_app.config)
    staff = bool(session.get("staff"))
    # The coverage chart (the comparison chart counts this query itself when
    # there are vs queries); for staff, why each hit ranks where it does.
    compared = bool(coverage_panels.compared_queries(request.args, current_app.config))
    # Explanations cover the BM25F score: staff get them in lexical mode.
    req = dataclasses.replace(req, timeline=bool(req.q) and not compared, explain=staff and req.mode == "lexical")
    result = _engine().search(req)
    req = result.request  # the mode it ran in: a default mode that cannot run here is lexical
    holder = current_app.extensions["search_engine"]
    # Filters that left nothing: what the words find without them (said on the page, kept in the log).
    words_total = holder.words_only_total(req, result.total)
    if req.page == 1:
        holder.record_search(req, result.total, request.remote_addr, request.args.get("range") or None,
                             words_total=words_total)
    hits = [{**h.to_dict(), "title_html": Markup(h.title_highlight), "snippet_html": Markup(h.snippet),
             "text_lang": content_lang(h.lang, h.title + h.snippet),
             "missing_text": "" if h.match["full"] or not h.match["missing"] else missing_text(h.match["missing"]),
             "meaning_text": meaning_text(req.mode, h.match.get("similarity"))
             if h.match.get("by") == "dense" else "",
             "explain_view": explain_view(h.explain)}
            for h in result.hits]
    # The words the listed partial matches lack, in query order (named by the partial-match note).
    missing_words = list(dict.fromkeys(w for h in result.hits if h.match and not h.match["full"]
                                       for w in h.match["missing"]))
    # How the query was read: said whenever an operator was used, a part could
    # not be read as typed, or nothing was found.
    reading = {"notices": [{"code": n["code"], "text": notice_text(n, req.mode)} for n in result.notices],
               "understood": understood_text(result.understood_tree)
               if req.q and (result.exact or result.notices or not result.total) else "",
               "relaxed": relaxed_text(result.total_full, result.grouped, missing_words) if result.relaxed else ""}
    active = {name: getattr(req, name) for name in FILTERS if getattr(req, name)}
    # Facet values as the engine compares them: 众闻 selected marks 眾聞.
    active_keys = {name: {value_key(v) for v in values} for name, values in active.items()}
    filtered = bool(active or request.args.get("range") or request.args.get("from") or request.args.get("to"))
    # A chosen value that counts nothing here is still listed (with 0) so it can be seen and cleared.
    facets = {name: values + [FacetValue(v, 0) for v in active.get(name, ())
                              if value_key(v) not in {value_key(f.value) for f in values}]
              for name, values in result.facets.items()}
    broader = []
    if result.total == 0:
        if filtered:
            broader.append((gettext("去掉筛选条件再搜"), url_with(**{k: None for k in (*FILTERS, "range", "from", "to")})))
        if any(c in req.q for c in '"“”「」'):
            plain = req.q
            for c in '"“”「」':
                plain = plain.replace(c, " ")
            broader.append((gettext("不加引号搜索"), url_with(q=" ".join(plain.split()))))
    pages = max(1, -(-(result.total + (result.dense_total or 0)) // req.size))
    meaning_only = req.mode == "semantic" or (result.total == 0 and bool(result.dense_total))
    shown_pages = [p for p in range(max(1, req.page - 4), min(pages, req.page + 4) + 1)]
    # Re-encoded from the parsed parameters: ASCII only, and no value can
    # end the URL inside the Link header or add parameters to it.
    # Only what each API operation takes: a page's own parameters would be a 400 there.
    api_link = query_url("/api/search", keep_declared("/api/search", request.args.items(multi=True)))
    export_args = [(k, v) for k, v in keep_declared("/api/export", request.args.items(multi=True))
                   if k not in ("format", "limit")]
    export_link = "/api/export?" + urlencode(export_args)
    # 作者, 标签, 年份 are counted only on request: a link asks for them.
    more_facets = url_with(facets=",".join(FACET_FIELDS)) if set(FACET_FIELDS) - set(req.facets) else ""
    bars = timeline_bars(result.timeline, lambda a, b: url_with(**{"from": a, "to": b, "range": None}))
    # Coverage compared with other queries (vs=), and what is distinctive in the results (sig=1).
    compare = coverage_panels.comparison(_engine(), request.args, current_app.config) if req.q else None
    raw_q = (request.args.get("q") or "").strip()
    significant = coverage_panels.significant(_engine(), request.args, req,
                                              lambda term: url_with(q=f"{raw_q} {term}".strip(), page=None))
    compare_args = [(k, v) for k, v in request.args.items(multi=True) if k != "page"]
    html = render_template(
        "search.html", q=req.q, req=req, result=result, hits=hits, reading=reading, active=active, broader=broader,
        bars=bars, active_keys=active_keys, more_facets=more_facets, value_key=value_key, facets=facets,
        filtered=filtered, words_total=words_total,
        compare=compare, significant=significant, compare_args=compare_args,
        max_compared=coverage_panels.series.MAX_COMPARED,
        export_link=export_link, staff=staff,
        chart_width=CHART_WIDTH, chart_height=CHART_HEIGHT,
        pages=pages, shown_pages=shown_pages, range=request.args.get("range", ""),
        date_from=request.args.get("from", ""), date_to=request.args.get("to", ""), api_link=api_link,
        # semantic, or hybrid where no article has the words: every result is by meaning
        # (the summary counts them; the notice says so)
        modes=_modes(req), meaning_only=meaning_only,
        dense_text="" if meaning_only else dense_text(result.dense_total),
        mode_hidden="" if req.mode == current_app.config.get("SEARCH_DEFAULT_MODE", "lexical") else req.mode,
    )
    resp = _page(html)
    resp.headers["Link"] = f'<{api_link}>; rel="alternate"; type="application/json"'
    return resp


def _modes(req) -> list[tuple[str, str, bool]]:
    """The mode toggle of the results page: (label, link, current?) per
    mode (``search.hybrid.MODES``); [] when semantic search is not
    available here (the extra or the index's vectors missing), unless the
    request asked for a mode other than lexical (its 400 says why)."""
    default = current_app.config.get("SEARCH_DEFAULT_MODE", "lexical")
    if req.mode == "lexical" and default == "lexical" and not _engine().semantic_available():
        return []
    return [(str(MODE_LABELS[m]), url_with(mode=None if m == default else m, page=None), m == req.mode)
            for m in MODES]


@bp.get("/advanced")
def advanced_page():
    """Advanced search for newsroom staff.  Submitting writes the fields as
    an ordinary query and redirects to its results, so the query can be
    read, edited and shared as a URL."""
    composed = advanced_query(request.args)
    if composed:
        keep = [(k, v) for k in ("from", "to", "sort", "group") for v in request.args.getlist(k) if v]
        if keep:
            search_request(request.args, current_app.config)  # same validation as the results page
        return redirect("/search?" + urlencode([("q", composed), *keep, *i18n.hl_pairs()]), code=303)
    return _page(render_template("advanced.html", q="", scopes=SCOPES, args=request.args))


@bp.get("/staff/login")
def staff_login_form():
    return _page(render_template("staff_login.html", q="", message="", next=_safe_next(request.args.get("next"))))


@bp.post("/staff/login")
def staff_login():
    """Newsroom staff sign in with their token once; a signed, HttpOnly,
    SameSite=Strict cookie (Secure over HTTPS) then opens staff pages and
    exports until logout, expiry or the token's revocation
    (``web/staff_sessions.py``).  Failed attempts are limited per client
    (429 with Retry-After: ``SEARCH_LOGIN_RATE_LIMIT``)."""
    limits.check_login()
    token = request.form.get("token", "")
    target = _safe_next(request.form.get("next"))
    if not current_app.config["SEARCH_WRITE_TOKENS"] or not auth.check_token(token):
        limits.failed_login()
        html = render_template("staff_login.html", q="", message=gettext("令牌无效。"), next=target)
        resp = _page(html)
        resp.status_code = 403
        return resp
    staff_sessions.sign_in(auth.digest(token))
    return redirect(i18n.keep_chosen(target), code=303)


@bp.post("/staff/logout")
def staff_logout():
    staff_sessions.sign_out()
    return redirect(i18n.link("/"), code=303)  # the form's action carries hl


def _safe_next(value: str | None) -> str:
    """Only a path on this site (no open redirect): ``inputs.same_site_path``."""
    return same_site_path(value, "/staff/queries")


@bp.get("/staff/queries")
@auth.required(allow_session=True)
def staff_queries():
    """What readers searched for (with the filters they used), and what
    they did not find: words that find nothing apart from searches whose
    filters left nothing."""
    since, until, limit, _ = query_period(request.args)
    engine = _engine()
    top = engine.top_queries(since, until, limit, moderated=False)
    zero = engine.top_queries(since, until, limit, zero_only=True, moderated=False)
    filtered = engine.filtered_out_queries(since, until, limit, moderated=False)
    return _page(render_template("staff_queries.html", top=top, zero=zero, filtered=filtered, q="",
                                 filters_text=filters_text, filters_url=filters_url,
                                 min_clients=current_app.config.get("SEARCH_HOT_MIN_CLIENTS", 3),
                                 days=request.args.get("days", "7"),
                                 date_from=request.args.get("from", ""), date_to=request.args.get("to", "")))


@bp.get("/articles/<path:doc_id>")
def article_page(doc_id):
    context = _engine().article_context(doc_id)
    if context is None:
        return render_error(404, gettext("找不到这篇文章。"))
    related, coverage = context["related"], context["coverage"]
    art = article_json(context["article"])
    # Arriving from results (?q=...): the query's terms marked as the results
    # page marks them (the engine's analysis and highlighter; escaped).
    needles = _engine().highlight_terms(query_text(request.args.get("q", ""), current_app.config))
    title_html = Markup(highlight_text(art["title"], needles))
    paragraphs_html = [Markup(highlight_text(p, needles)) for p in paragraphs(art["body"])]
    text_lang = content_lang(art["lang"], art["title"] + art["body"][:2000])
    # The search box keeps the query the reader came with (?q=...).
    return _page(render_template("article.html", article=art, title_html=title_html, paragraphs=paragraphs_html,
                                 text_lang=text_lang, related=related, coverage=coverage,
                                 q=request.args.get("q", "")))


@bp.post("/staff/queries/remove")
@auth.required(allow_session=True)
def staff_remove_query():
    """Take a reader's query out of hot searches and suggestions (for good;
    the reports keep counting it, marked 已移除)."""
    q = (request.form.get("q") or "").strip()
    if not q:
        raise ParamError("'q' is required: the query text to remove")
    holder = current_app.extensions["search_engine"]
    if holder.query_log is None:
        raise ParamError("the query log is off (SEARCH_QUERY_LOG)")
    holder.query_log.remove(q)
    days = int_param(request.form, "days", 7, 1, 3650)
    return redirect(i18n.link("/staff/queries", days=days), code=303)  # the form's action carries hl


__all__ = ["bp", "render_error", "RANGES"]
