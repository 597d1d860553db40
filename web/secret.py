"""The secret key that signs staff session cookies (and the API's cursor
tokens, ``web/walks.py``).

``SEARCH_SECRET_KEY`` (at least 32 characters) when configured; otherwise
a random key generated once (at the first staff login or API cursor) and kept in a file (``SEARCH_SECRET_KEY_FILE``,
default ``secret_key`` beside the article store, else beside the query
log, else beside the Whoosh index directory, else in ``data/``), created atomically with permissions 0600 so that
every gunicorn worker (and every restart) reads the same key.  It is not
derived from anything configured elsewhere (token digests are not secrets).
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from search.errors import SearchServiceError

MIN_LENGTH = 32
log = logging.getLogger(__name__)


class SecretKeyError(SearchServiceError, status=503, retry_after=5):
    """The configured key or key file cannot be used (the message says why)."""


def default_key_file(config: dict) -> str:
    """Where the generated key lives: beside the article store, else beside
    the query log, else beside a Whoosh index directory (``data/index``:
    ``data/secret_key``), else ``data/secret_key``."""
    for name in ("SEARCH_ARTICLE_STORE", "SEARCH_QUERY_LOG"):
        path = config.get(name)
        if path and path != "off":
            return os.path.join(os.path.dirname(os.path.abspath(path)), "secret_key")
    index = config.get("SEARCH_INDEX")
    if index and config.get("SEARCH_BACKEND", "whoosh") == "whoosh":
        return os.path.join(os.path.dirname(os.path.abspath(index)), "secret_key")
    return os.path.join("data", "secret_key")


def configured_key(config: dict) -> str:
    """The key for this deployment (str, >= 32 characters).

    Raises SecretKeyError for a SEARCH_SECRET_KEY shorter than 32 characters
    or a key file that cannot be read or created."""
    key = config.get("SEARCH_SECRET_KEY")
    if key:
        if len(key) < MIN_LENGTH:
            raise SecretKeyError(f"SEARCH_SECRET_KEY is too short: at least {MIN_LENGTH} characters "
                                 "(python -c 'import secrets; print(secrets.token_urlsafe(32))')")
        return key
    return load_or_create(config.get("SEARCH_SECRET_KEY_FILE") or default_key_file(config))


def load_or_create(path: str) -> str:
    """The key in ``path``, generating it first if the file does not exist.

    Concurrent callers (gunicorn workers starting together) all get the
    first writer's key: the key is written to a private temporary file and
    hard-linked into place, which fails if another process got there first.
    Raises SecretKeyError when the file is empty or cannot be read/written."""
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, exist_ok=True)
        tmp = os.path.join(directory, f".secret_key.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(48) + "\n")
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, path)
                log.info("generated a new secret key in %s", path)
            except FileExistsError:
                pass  # another worker was first: use its key
        finally:
            os.unlink(tmp)
        return _read(path)
    except OSError as exc:
        raise SecretKeyError(f"cannot create the secret key file {path}: {exc.strerror} "
                             "(set SEARCH_SECRET_KEY or SEARCH_SECRET_KEY_FILE)") from exc


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            key = f.read().strip()
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise SecretKeyError(f"cannot read the secret key file {path}: {exc.strerror}") from exc
    if len(key) < MIN_LENGTH:
        raise SecretKeyError(f"the secret key file {path} holds no key of at least {MIN_LENGTH} characters")
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("the secret key file %s is readable by others: chmod 600 it", path)
    return key
