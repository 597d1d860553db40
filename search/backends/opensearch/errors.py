"""The OpenSearch client's errors as the service's: a cluster that cannot
be reached and an index or alias that does not exist are a 503 naming the
cluster and the index (``base.BackendUnreachable``), never a 500 with the
client's internals, on the read side (``translate_errors``) and the
write side (``OpenSearchTarget``) alike.  Other client errors (a malformed
request: a bug of this backend) propagate as they are."""

from __future__ import annotations

import contextlib
import functools
import inspect

from opensearchpy import exceptions as client_errors

from ...errors import SearchServiceError
from ..base import BackendUnreachable


class IncompatibleIndex(SearchServiceError, status=503):
    """The index behind the alias was written by another analysis version."""


def without_password(url: str | None) -> str:
    """The URL as it may be printed (credentials can be part of it)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url or "")
    if parts.password is None:
        return url or ""
    return parts._replace(netloc=f"{parts.username}:***@{parts.hostname}"
                          + (f":{parts.port}" if parts.port else "")).geturl()


def translated(method):
    """Decorator for a method of an object with an ``index`` (and, when it
    knows it, a ``url``): the client's errors for a cluster that cannot be
    reached or an index that does not exist become ``BackendUnreachable``
    naming them (the URL without its password)."""
    if inspect.isgeneratorfunction(method):  # errors come while the caller iterates
        @functools.wraps(method)
        def iterate(self, *args, **kwargs):
            with _translating(self):
                yield from method(self, *args, **kwargs)
        return iterate

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        with _translating(self):
            return method(self, *args, **kwargs)
    return call


@contextlib.contextmanager
def _translating(self):
    """The translation ``translated`` applies, around one call (``self``:
    the object whose ``index`` and ``url`` the messages name)."""
    try:
        yield
    except client_errors.NotFoundError as exc:
        if exc.error != "index_not_found_exception":
            raise
        raise BackendUnreachable(f"the OpenSearch index or alias {self.index!r} does not exist "
                                 "(build it: python -m indexer build --backend opensearch)") from None
    except (client_errors.ConnectionError, client_errors.ConnectionTimeout) as exc:
        url = getattr(self, "url", None)
        raise BackendUnreachable(f"cannot reach OpenSearch at {without_password(url)}: {exc}" if url else
                                 f"the OpenSearch cluster cannot be reached ({type(exc).__name__}) "
                                 f"for the index {self.index!r}") from exc


def translate_errors(cls):
    """Class decorator: every public method of ``cls`` (an object with an
    ``index`` attribute) raises ``BackendUnreachable`` for an unreachable
    cluster or a missing index (the client's ``ConnectionError``,
    ``ConnectionTimeout``, ``NotFoundError`` index_not_found_exception)."""
    for name, value in list(vars(cls).items()):
        if not name.startswith("_") and callable(value):
            setattr(cls, name, translated(value))
    return cls
