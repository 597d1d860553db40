"""Unknown query parameters of the JSON API: a 400 naming them.

Which parameters an endpoint takes is declared once, in the API's OpenAPI
document (``web/openapi.py``: each operation's ``parameters`` of ``in:
query``); the names of the search filters and advanced fields there come
from ``web/params.py`` (``FILTERS``, ``ADVANCED``).  Declaring a parameter
there is what makes it accepted and documented at once; a parameter a view
reads but the document does not declare never reaches the view.

``check()`` runs before every request (after the rate limit): under
``/api/`` a query parameter the matched operation does not declare is a
``ParamError`` (400) that names it, offers the closest declared name
("did you mean") and lists the ones taken; so is one given twice that
the document does not declare as an array (``q=香港&q=澳门`` on
``/api/search``: which one was meant?).  Ignored everywhere: ``_``
(jQuery's cache buster) and ``utm_*`` (campaign tags links carry).  The
HTML pages and ``/healthz``/``/metrics`` are not checked; an ``/api/``
route the document lacks is not checked either (tests/test_openapi_responses.py
requires every route to be documented).

Written here (a few lines of difflib) rather than taken from a library:
openapi-core validates requests against the document, but reports unknown
parameters no better than we do and would parse every request twice."""

from __future__ import annotations

import difflib
import re

from flask import current_app, request

from .params import ParamError

IGNORED_EXACT = frozenset({"_"})
IGNORED_PREFIX = "utm_"


def route_key(path: str) -> str:
    """A route template with its variables blanked, so Flask's rule
    (``/api/articles/<path:doc_id>``) and the document's path
    (``/api/articles/{id}``) meet: ``/api/articles/{}``."""
    return re.sub(r"<[^<>]*>|\{[^{}]*\}", "{}", path)


def declared(spec: dict) -> dict[tuple[str, str], tuple[str, tuple[str, ...]]]:
    """{(route key, upper-case method): (the document's path, its query
    parameter names in the document's order)} for every operation of the
    OpenAPI document ``spec``."""
    out = {}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                out[(route_key(path), method.upper())] = (path, tuple(
                    p["name"] for p in operation.get("parameters", ()) if p.get("in") == "query"))
    return out


def repeatable(spec: dict) -> dict[tuple[str, str], frozenset[str]]:
    """{(route key, upper-case method): the query parameters the operation
    takes more than once}: those whose schema is an array (the filters;
    ``q`` of the timeline).  Any other one given twice is a 400: which of
    two values was meant cannot be known, and reading the first would be a
    silent reinterpretation."""
    out = {}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                out[(route_key(path), method.upper())] = frozenset(
                    p["name"] for p in operation.get("parameters", ())
                    if p.get("in") == "query" and p.get("schema", {}).get("type") == "array")
    return out


def _declared_here() -> dict[tuple[str, str], tuple[str, tuple[str, ...]]]:
    table = current_app.extensions.get("api_params")
    if table is None:
        from .openapi import spec

        document = spec(current_app.config)
        current_app.extensions["api_params_repeatable"] = repeatable(document)
        table = current_app.extensions["api_params"] = declared(document)
    return table


def unknown_message(unknown: list[str], allowed: tuple[str, ...], endpoint: str) -> str:
    """The 400's message: each unknown name, with a close declared one when
    there is one, then what ``endpoint`` takes (``ignored`` always)."""
    parts = []
    for name in unknown:
        close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
        parts.append(f"'{name}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
    takes = ", ".join(allowed) if allowed else "no query parameters"
    noun = "parameter" if len(unknown) == 1 else "parameters"
    return f"unknown query {noun} {', '.join(parts)}: {endpoint} takes {takes}"


def keep_declared(path: str, items, method: str = "GET") -> list[tuple[str, str]]:
    """The (name, value) pairs of ``items`` that the operation ``method
    path`` (a path of the document, e.g. ``/api/export``) declares, in
    their order: what a page may carry over into a link to the API (a page
    takes parameters the API does not, and would otherwise link to a 400).
    All of ``items`` when the document lacks the operation."""
    found = _declared_here().get((route_key(path), method))
    items = list(items)
    if found is None:
        return items
    return [(name, value) for name, value in items if name in found[1]]


def check() -> None:
    """Raise ParamError (400) when a request under ``/api/`` carries a
    query parameter its operation does not declare (see the module
    docstring for what is ignored)."""
    if not request.path.startswith("/api/") or request.url_rule is None or not request.args:
        return
    method = "GET" if request.method == "HEAD" else request.method
    found = _declared_here().get((route_key(request.url_rule.rule), method))
    if found is None:
        return
    path, allowed = found
    unknown = [name for name in dict.fromkeys(request.args.keys())
               if name not in allowed and name not in IGNORED_EXACT and not name.startswith(IGNORED_PREFIX)]
    if unknown:
        raise ParamError(unknown_message(unknown, allowed, f"{method} {path}"))
    many = current_app.extensions["api_params_repeatable"].get((route_key(request.url_rule.rule), method), ())
    twice = [name for name in dict.fromkeys(request.args.keys())
             if name not in many and name in allowed and len(request.args.getlist(name)) > 1]
    if twice:
        raise ParamError(f"query parameter {', '.join(repr(n) for n in twice)} given more than once: "
                         f"{method} {path} takes one value" + (f" (only {', '.join(sorted(many))} repeat)"
                                                                 if many else ""))
