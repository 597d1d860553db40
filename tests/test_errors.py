"""One error base and one error handler: every exception class of the
project derives from ``search.errors.SearchServiceError`` (its HTTP status
with it), and ``web/errors.py`` answers each by the path's form."""

import importlib

import pytest

from search.errors import SearchServiceError
from test_layout import MODULES


def test_every_project_exception_derives_from_the_base():
    loose = []
    for name in MODULES:
        if name.endswith("__main__"):  # runs a command line when imported
            continue
        module = importlib.import_module(name)
        for value in vars(module).values():
            if (isinstance(value, type) and issubclass(value, BaseException) and value.__module__ == name
                    and not issubclass(value, SearchServiceError)):
                loose.append(f"{name}.{value.__name__}")
    assert not loose, "exception classes without the common base: " + ", ".join(loose)


def test_a_status_is_declared_once_and_checked():
    from search.plan import QueryTimeout, UnsupportedQuery
    from web.auth import AuthError

    assert (UnsupportedQuery.status, QueryTimeout.status) == (400, 503)
    assert issubclass(UnsupportedQuery, ValueError)  # ``except ValueError`` callers keep working
    assert AuthError(403, "no").status == 403 and AuthError(401, "who?").public_message == "who?"
    with pytest.raises(ValueError, match="400-599"):
        type("Odd", (SearchServiceError,), {}, status=200)


@pytest.fixture
def app(tmp_path):
    """The app over an index that does not exist, with routes raising errors."""
    from indexer.ids import InvalidId
    from search.segmenter import UserDictError
    from web import create_app
    from web.limits import RateLimited
    from web.params import ParamError

    errors = {"param": lambda: ParamError("'size' must be an integer, got 'x'"),
              "limited": lambda: RateLimited(7, "5/minute"),
              "id": lambda: InvalidId("invalid id ' a': it starts with a space"),
              "internal": lambda: UserDictError("userdict.txt:3: bad frequency")}
    app = create_app({"SEARCH_INDEX": str(tmp_path / "none"), "SEARCH_QUERY_LOG": "off",
                      "SEARCH_ARTICLE_STORE": "off", "SEARCH_RATE_LIMIT": "off"})

    def boom(kind):
        raise errors[kind]()

    app.add_url_rule("/api/boom/<kind>", "api_boom", boom)
    app.add_url_rule("/boom/<kind>", "page_boom", boom)
    return app


def test_one_handler_answers_by_the_path(app):
    client = app.test_client()
    resp = client.get("/api/boom/param")
    assert resp.status_code == 400 and resp.get_json() == {"error": "'size' must be an integer, got 'x'", "status": 400}
    assert resp.headers["Cache-Control"] == "no-store"
    page = client.get("/boom/param")
    assert page.status_code == 400 and page.mimetype == "text/html"
    assert "请求参数有误：&#39;size&#39; must be an integer" in page.get_data(as_text=True)
    for path in ("/api/boom/limited", "/boom/limited"):
        resp = client.get(path)
        assert resp.status_code == 429 and resp.headers["Retry-After"] == "7"
    resp = client.get("/api/boom/id")  # a status declared by indexer/ids.py, answered as it says
    assert resp.status_code == 400 and resp.get_json()["error"].startswith("invalid id")
    resp = client.get("/api/nowhere")
    assert resp.status_code == 404 and resp.get_json() == {"error": "no such endpoint: /api/nowhere", "status": 404}
    assert client.get("/nowhere").status_code == 404


def test_an_error_without_a_status_is_an_internal_error(app):
    """No declared status: a failure of the service, logged by Flask and
    answered 500 without its message (which may name files)."""
    client = app.test_client()
    resp = client.get("/api/boom/internal")
    assert resp.status_code == 500 and resp.get_json() == {"error": "internal error", "status": 500}
    page = client.get("/boom/internal")
    assert page.status_code == 500 and "userdict" not in page.get_data(as_text=True)
