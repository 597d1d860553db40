"""The OpenSearch client's errors as the service's: a cluster that cannot
be reached and an index or alias that does not exist are a 503 naming the
cluster and the index (``base.BackendUnreachable``), never a 500 with the
client's internals.  Other client errors (a malformed request: a bug of
this backend) propagate as they are."""

from __future__ import annotations

import functools

from opensearchpy import exceptions as client_errors

from ...errors import SearchServiceError
from ..base import BackendUnreachable


class IncompatibleIndex(SearchServiceError, status=503):
    """The index behind the alias was written by another analysis version."""


def _translated(method):
    @functools.wraps(method)
    def call(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except client_errors.NotFoundError as exc:
            if exc.error != "index_not_found_exception":
                raise
            raise BackendUnreachable(f"the OpenSearch index or alias {self.index!r} does not exist "
                                     "(build it: python -m indexer build --backend opensearch)") from None
        except (client_errors.ConnectionError, client_errors.ConnectionTimeout) as exc:
            raise BackendUnreachable(f"the OpenSearch cluster cannot be reached ({type(exc).__name__}) "
                                     f"for the index {self.index!r}") from None
    return call


def translate_errors(cls):
    """Class decorator: every public method of ``cls`` (an object with an
    ``index`` attribute) raises ``BackendUnreachable`` for an unreachable
    cluster or a missing index (the client's ``ConnectionError``,
    ``ConnectionTimeout``, ``NotFoundError`` index_not_found_exception)."""
    for name, value in list(vars(cls).items()):
        if not name.startswith("_") and callable(value):
            setattr(cls, name, _translated(value))
    return cls
