"""What a request carries before any view reads it: the path and the query
string must be UTF-8, and a redirect target must be a path on this site.

Every later reader of request values (the access log, the error pages, the
views, the ``Link`` header) then works on text it can trust:

* ``check_query_string`` (a ``before_request`` hook, the first one): a
  query string whose bytes, raw or percent-decoded, are not UTF-8 is
  answered 400 naming the problem (JSON under ``/api/``, ``/healthz`` and
  ``/metrics``, an HTML page elsewhere), and is emptied first so that the
  error page and the access log never try to decode it again;
* ``RawPath`` (WSGI middleware): a path sent with raw (not
  percent-encoded) non-ASCII bytes is read as those bytes.  gunicorn
  decodes the request line as Latin-1 and then encodes it again as UTF-8
  before unquoting, so ``/api/articles/港`` sent raw became the id
  ``æ¸¯``; ``check_path`` then answers 400 when the path's bytes are not
  UTF-8 (``/api/articles/x\xff`` or ``%FF`` would otherwise become an
  id nobody can type);
* ``same_site_path``: a ``next=`` target as a browser would read it, kept
  only when it is a path on this site, returned percent-encoded (ASCII:
  safe in a ``Location`` header);
* ``request_bytes`` / ``json_body``: the one reading of a request body
  (Content-Encoding and Content-Type checked, a byte order mark dropped)
  for the write API, saved searches and webhooks.
"""

from __future__ import annotations

from urllib.parse import quote, unquote_to_bytes, urlencode, urlsplit, urlunsplit

from flask import request
from flask_babel import gettext

from indexer.records import parse_json
from search.errors import SearchServiceError

# Paths that answer JSON (errors included), the rest are HTML pages.
JSON_PREFIXES = ("/api/",)
JSON_PATHS = ("/healthz", "/metrics")

# What stays unescaped when a target is re-encoded: RFC 3986 reserved and
# unreserved characters, and "%" (an escape already in the target).
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_QUERY_SAFE = _PATH_SAFE + "?"


def is_json_path(path: str) -> bool:
    """Does ``path`` answer JSON (API, health, metrics), errors included?"""
    return path.startswith(JSON_PREFIXES) or path in JSON_PATHS


class RawPath:
    """WSGI middleware: ``PATH_INFO`` from the bytes the client sent.

    Only when the request target (gunicorn's ``RAW_URI``, the request line
    as Latin-1 text) holds raw non-ASCII bytes, which gunicorn's own
    unquoting encodes twice; any other request passes untouched."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        raw = environ.get("RAW_URI")
        if raw and not raw.isascii():
            fixed = _raw_path(raw, environ.get("SCRIPT_NAME", ""))
            if fixed is not None:
                environ["PATH_INFO"] = fixed
        return self.app(environ, start_response)


def _raw_path(raw: str, script_name: str) -> str | None:
    """The WSGI ``PATH_INFO`` (bytes as Latin-1 text) of a request target
    given as Latin-1 text; None for a target that is not a path."""
    target = raw.encode("latin-1", "replace")
    if not target.startswith(b"/"):  # absolute form (http://host/path): drop scheme and host
        _, sep, rest = target.partition(b"://")
        if not sep:
            return None
        target = b"/" + rest.partition(b"/")[2]
    path = target.split(b"?", 1)[0].split(b"#", 1)[0]
    text = unquote_to_bytes(path).decode("latin-1")
    return text[len(script_name):] if script_name and text.startswith(script_name) else text


def path_problem(path_info: str) -> str | None:
    """Why a WSGI ``PATH_INFO`` (bytes as Latin-1 text) is not a UTF-8 path, or None."""
    try:
        path_info.encode("latin-1").decode("utf-8")
    except UnicodeEncodeError:
        return None  # already text (a test client): nothing to check
    except UnicodeDecodeError as exc:
        return (f"the URL path is not UTF-8 (byte 0x{path_info.encode('latin-1')[exc.start]:02x}): "
                "percent-encode the UTF-8 bytes of the text")
    return None


def check_path():
    """``before_request``: None, or the 400 answer for a path that is not UTF-8."""
    problem = path_problem(request.environ.get("PATH_INFO", ""))
    if problem is None:
        return None
    from .errors import error_answer  # web/errors.py imports this module

    return error_answer(400, problem, gettext("请求地址有误：%(problem)s", problem=problem))


def query_string_problem(raw: bytes) -> str | None:
    """Why ``raw`` (a query string as sent) cannot be read, or None.
    Both the bytes as sent and the percent-decoded bytes must be UTF-8
    (``%FF`` would otherwise be read as U+FFFD without a word)."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"the query string is not UTF-8 (byte 0x{raw[exc.start]:02x} at position {exc.start})"
    try:
        unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return "the query string is not UTF-8 once percent-decoded (encode text as UTF-8 before %-escaping it)"
    return None


def check_query_string():
    """``before_request``: None, or the 400 answer for an unreadable query string."""
    problem = query_string_problem(request.query_string)
    if problem is None:
        return None
    # Nothing downstream (error page, access log) may decode it again.
    request.environ["QUERY_STRING"] = ""
    request.query_string = b""  # an attribute of werkzeug's request; args is parsed from it
    request.__dict__.pop("args", None)
    from .errors import error_answer  # web/errors.py imports this module

    return error_answer(400, problem, gettext("请求参数有误：%(problem)s", problem=problem))


def query_url(path: str, pairs) -> str:
    """``path`` with the (name, value) ``pairs`` as a percent-encoded query
    string: pure ASCII, so it may go into a header (``Link``, ``Location``)
    without letting a value add header parameters."""
    pairs = list(pairs)
    return path + ("?" + urlencode(pairs) if pairs else "")


def same_site_path(value: str | None, default: str) -> str:
    """A redirect target (``next=``) reduced to a path on this site, or ``default``.

    Read as a browser reads a URL (WHATWG URL standard): leading and
    trailing spaces and control characters dropped, tabs and newlines
    removed anywhere, backslashes taken as slashes.  Kept only when what
    remains has no scheme and no host and starts with a single ``/``
    (``/\\t/evil.example`` becomes ``//evil.example``: refused).  The result
    is percent-encoded (ASCII), fragment dropped.  Own code on
    ``urllib.parse``: the standard library has no WHATWG parser, and only
    these three rules of it decide whether a target leaves the site."""
    text = (value or "").strip("".join(map(chr, range(0x21))))
    text = text.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/")
    if not text.startswith("/") or text.startswith("//"):
        return default
    parts = urlsplit(text)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return default
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        return default
    return urlunsplit(("", "", quote(parts.path, safe=_PATH_SAFE), quote(parts.query, safe=_QUERY_SAFE), ""))


# ---- request bodies -----------------------------------------------------------

class BodyEncoding(SearchServiceError, status=415):
    """The body is sent in a content coding or type the write API does not read."""


# Content types a JSON body may come with.  application/x-www-form-urlencoded
# is curl's default for -d/--data-binary (the README's bulk example sends
# no Content-Type): such a body is read as JSON, and refused if it is not.
JSON_TYPES = ("application/json", "application/x-ndjson", "application/jsonl", "application/json-seq",
              "text/plain", "application/x-www-form-urlencoded")


# The staff JSON APIs (saved searches, webhooks) take JSON only.
JSON_ONLY = ("application/json",)


def request_bytes(types: tuple[str, ...] | None) -> bytes:
    """The request body as sent, without a leading UTF-8 byte order mark
    (which many Windows tools write; RFC 8259 lets a reader ignore it): the
    one reading of a request body for the write API, saved searches and
    webhooks.  ``types``: the Content-Types taken (any ``+json`` type too;
    no Content-Type at all is read as JSON, as curl sends it), None for
    any.  Raises BodyEncoding (415) for a ``Content-Encoding`` other than
    identity (a gzip body would otherwise be reported as "not UTF-8") or
    another Content-Type (an HTML page, a form: never read as JSON)."""
    coding = request.headers.get("Content-Encoding", "").strip().lower()
    if coding not in ("", "identity"):
        raise BodyEncoding(f"Content-Encoding {coding!r} is not supported: send the body uncompressed "
                           "(JSON, UTF-8)")
    kind = request.mimetype
    if types is not None and kind and kind not in types and not kind.endswith("+json"):
        raise BodyEncoding(f"the body must be JSON (Content-Type application/json"
                           f"{', or application/x-ndjson for a bulk upload' if request.path.endswith(':bulk') else ''}"
                           f"), not {kind!r}")
    return request.get_data(cache=False).removeprefix(b"\xef\xbb\xbf")


def json_body(types: tuple[str, ...] = JSON_TYPES):
    """The request body as one JSON document (``indexer.records.parse_json``:
    UTF-8, depth, no lone surrogates).  Raises BodyEncoding (415, see
    ``request_bytes``) or RecordError (the caller answers 400 naming it)."""
    return parse_json(request_bytes(types))
