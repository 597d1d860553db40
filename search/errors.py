"""The one base class of the project's exceptions: what HTTP status an error
answers with, and whether a client should retry.

Every exception class of ``search/``, ``indexer/`` and ``web/`` derives from
``SearchServiceError`` (besides its own base, e.g. ``ValueError``, so that
``except ValueError`` callers keep working) and declares its status where
it is defined::

    class UnsupportedQuery(ValueError, SearchServiceError, status=400): ...

``web/errors.py`` answers every one of them with one handler (JSON for the
API's paths, the HTML error page elsewhere), reading ``status``,
``retry_after`` and ``public_message`` from here.  A class that declares no
status is a failure of the service (500): the web answers it as any
unexpected error (logged, "internal error").  This is Werkzeug's
``HTTPException`` idea (the exception knows its code) without tying
``search/`` and ``indexer/`` to Werkzeug.
"""

from __future__ import annotations


class SearchServiceError(Exception):
    """Base of every project exception.

    Class attributes (set with class keywords ``status=`` and
    ``retry_after=``, or per instance by a subclass's ``__init__``):

    * ``status``: the HTTP status (int, 400-599) the web answers with;
      500 (the default) for failures of the service itself;
    * ``retry_after``: seconds (int) a client should wait before retrying,
      sent as ``Retry-After``; None when retrying will not help.

    ``public_message`` is the text shown to clients: ``str(exc)`` unless a
    subclass says otherwise (it must never carry secrets)."""

    status: int = 500
    retry_after: int | None = None

    def __init_subclass__(cls, status: int | None = None, retry_after: int | None = None, **kwargs):
        """Record ``status`` and ``retry_after`` given as class keywords.
        Raises ValueError for a status outside 400-599."""
        super().__init_subclass__(**kwargs)
        if status is not None:
            if not 400 <= status <= 599:
                raise ValueError(f"{cls.__name__}: an error status is 400-599, got {status}")
            cls.status = status
        if retry_after is not None:
            cls.retry_after = retry_after

    @property
    def public_message(self) -> str:
        """The message a client sees (text): ``str(self)``."""
        return str(self)


def run_command(command, argv) -> int:
    """Run a command line's ``command(argv)`` (returning its exit status)
    and report its errors as one ``error: <message>`` line on stderr, never
    a traceback: bad input (a ``SearchServiceError`` of status 4xx, a
    ``ValueError`` one such as a setting that cannot be used, an ``OSError``:
    a path that cannot be used, a lock held by another writer) exits 2; an
    index that cannot be read (5xx: damaged, unreachable) exits 1."""
    import sys

    try:
        return command(argv)
    except SearchServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if exc.status < 500 or isinstance(exc, ValueError) else 1
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
