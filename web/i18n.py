"""The pages' interface language: which one a request gets, the catalogues
that translate the pages, and the ``hl`` every internal link keeps.

Three interface languages (``LANGUAGES``): ``zh-Hans`` (the source
language of every message: the templates and ``web/*.py`` are written in
Simplified Chinese and wrapped in gettext), ``zh-Hant`` (Hong Kong
wording) and ``en``.  The catalogues are Flask-Babel's gettext files,
``web/translations/<zh_Hant|en>/LC_MESSAGES/messages.po`` (extracted with
``babel.cfg``); ``compile_catalogues`` compiles each ``.po`` to its
``.mo`` with Babel's own API when the ``.mo`` is missing or older, at
app start, so a fresh clone needs no manual step and no binary file is
committed.

Choice: ``?hl=zh-Hans|zh-Hant|en`` in the URL wins (pages can be cached
and shared); any other ``hl`` is ignored.  Without a valid ``hl`` the
language is negotiated from ``Accept-Language`` (``negotiate``), and the
pages answer ``Vary: Accept-Language``.  The interface language never
touches article text: only the catalogues' messages change.
"""

from __future__ import annotations

import logging
import os
import tempfile
from urllib.parse import quote, urlencode

from babel.core import Locale, get_global
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import g, request
from flask_babel import Babel

log = logging.getLogger(__name__)

# The interface languages: the BCP 47 tag (URLs, <html lang>) -> Babel's locale id (catalogue directory).
LANGUAGES = {"zh-Hans": "zh_Hans", "zh-Hant": "zh_Hant", "en": "en"}
DEFAULT = "zh-Hans"
# Each language's name in itself (the switch), from CLDR (Babel's locale data): 简体中文, 繁體中文, English.
NATIVE_NAMES = {tag: Locale.parse(ident).languages[ident] for tag, ident in LANGUAGES.items()}
TRANSLATIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "translations")
PARAM = "hl"


def negotiate(accept_language) -> str:
    """The interface language for an ``Accept-Language`` header, as
    Werkzeug parsed it (``LanguageAccept``: tags in order of preference).

    The first tag that names one of the three wins: ``en*`` -> ``en``;
    a Chinese tag -> its script, explicit (``zh-Hant-HK``) or, by CLDR's
    likely subtags (Babel's data), implied by the region (``zh-TW``,
    ``zh-HK``, ``zh-MO`` -> ``zh-Hant``; ``zh``, ``zh-CN``, ``zh-SG`` ->
    ``zh-Hans``).  No such tag: ``zh-Hans``."""
    for tag, _quality in accept_language or ():
        lang = _language(tag)
        if lang is not None:
            return lang
    return DEFAULT


def _language(tag: str) -> str | None:
    """One BCP 47 tag -> one of the three, or None.  Read by its subtags
    (language, then a 4-letter script, a 2-letter or 3-digit region), not
    through Babel's locale ids, which have no ``zh_Hant_SG`` or ``zh_US``
    and would turn an explicit script into another or drop the tag."""
    parts = [p for p in tag.replace("_", "-").split("-") if p]
    if not parts:
        return None
    language = parts[0].lower()
    if language == "en":
        return "en"
    if language != "zh":
        return None
    script = next((p.title() for p in parts[1:] if len(p) == 4 and p.isalpha()), None)
    if script in ("Hant", "Hans"):
        return "zh-" + script
    region = next((p.upper() for p in parts[1:] if (len(p) == 2 and p.isalpha()) or (len(p) == 3 and p.isdigit())),
                  None)
    likely = get_global("likely_subtags")  # CLDR: zh_TW -> zh_Hant_TW, zh -> zh_Hans_CN
    full = (likely.get(f"zh_{region}") if region else None) or likely.get("zh", "zh_Hans_CN")
    return "zh-Hant" if "_Hant" in full else "zh-Hans"


def chosen() -> str | None:
    """The language the URL chose (``hl``), or None when it names none of the three."""
    value = request.args.get(PARAM)
    return value if value in LANGUAGES else None


def current() -> str:
    """The request's interface language: ``hl`` when valid, else negotiated."""
    if "interface_lang" not in g:
        g.interface_lang = chosen() or negotiate(request.accept_languages)
    return g.interface_lang


def _locale_selector() -> str:
    return LANGUAGES[current()]


def hl_pairs() -> list[tuple[str, str]]:
    """``[("hl", lang)]`` when the URL chose a language, else ``[]`` (for building query strings)."""
    lang = chosen()
    return [(PARAM, lang)] if lang else []


def link(path: str, **params) -> str:
    """An internal URL to ``path`` with ``params`` (None values left out)
    and the chosen ``hl``, if the URL chose one: every page link and
    redirect goes through here or ``pages.url_with``."""
    pairs = [(k, v) for k, v in params.items() if v is not None and v != ""]
    lang = chosen()
    if lang and PARAM not in params:
        pairs.append((PARAM, lang))
    return path + ("?" + urlencode(pairs) if pairs else "")


def keep_chosen(url: str) -> str:
    """``url`` (a same-site path, maybe with a query) with the chosen ``hl``
    added when the URL chose one and ``url`` names none: a redirect to a
    target given by a form (``next``) keeps the interface language."""
    lang = chosen()
    if not lang or f"{PARAM}=" in url.partition("?")[2]:
        return url
    return url + ("&" if "?" in url else "?") + urlencode([(PARAM, lang)])


def switch_links() -> list[dict]:
    """The language switch: the current URL with each language's ``hl``
    ({"lang", "name", "href", "current"}), the name in its own language."""
    here = current()
    # Empty parameters say nothing (``?q=`` is no query); the path is quoted
    # again, since an article id may hold ``?``, ``#`` or ``%``.
    base = [(k, v) for k, vs in request.args.lists() for v in vs if k != PARAM and v != ""]
    path = quote(request.path, safe="/:@!$&'()*+,;=-._~")
    out = []
    for lang, name in NATIVE_NAMES.items():
        href = path + "?" + urlencode([*base, (PARAM, lang)])
        out.append({"lang": lang, "name": name, "href": href, "current": lang == here})
    return out


def compile_catalogues(directory: str = TRANSLATIONS) -> list[str]:
    """Compile each ``<locale>/LC_MESSAGES/messages.po`` under ``directory``
    to ``messages.mo`` when the ``.mo`` is missing or older (written to a
    temporary file and renamed: workers starting together never read half
    a file).  Returns the ``.mo`` paths written.  A directory that cannot
    be written is logged and left as it is (the pages then show the
    catalogues already compiled, or the source language)."""
    written = []
    if not os.path.isdir(directory):
        return written
    for name in sorted(os.listdir(directory)):
        folder = os.path.join(directory, name, "LC_MESSAGES")
        po, mo = os.path.join(folder, "messages.po"), os.path.join(folder, "messages.mo")
        if not os.path.exists(po) or (os.path.exists(mo) and os.path.getmtime(mo) >= os.path.getmtime(po)):
            continue
        try:
            with open(po, "rb") as f:
                catalog = read_po(f, locale=name)
            fd, tmp = tempfile.mkstemp(dir=folder, suffix=".mo.tmp")
            with os.fdopen(fd, "wb") as out:
                write_mo(out, catalog)
            os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide it from a service running as another user
            os.replace(tmp, mo)
            written.append(mo)
        except OSError as exc:
            log.warning("could not compile %s: %s", po, exc)
    return written


def install(app) -> None:
    """Compile the catalogues if needed; Flask-Babel with ``current()`` as
    the locale selector; ``Vary: Accept-Language`` on every page."""
    compile_catalogues()
    Babel(app, locale_selector=_locale_selector, default_locale=LANGUAGES[DEFAULT],
          default_translation_directories=TRANSLATIONS)

    @app.context_processor
    def _language_globals():
        return {"interface_lang": current(), "lang_switch": switch_links, "link": link, "hl": chosen()}

    @app.after_request
    def _vary(resp):
        if resp.mimetype == "text/html":
            resp.vary.add("Accept-Language")
        return resp
