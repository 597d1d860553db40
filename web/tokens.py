"""The command line for write tokens (``python -m web.tokens``).

``new`` prints a fresh random token (32 bytes, URL-safe base64) and the
SHA-256 hex digest to put in ``SEARCH_WRITE_TOKENS``; ``hash TOKEN``
prints the digest of a token you already have.  Anything else: usage on
stderr, exit code 2.

A module of its own, imported by nothing in the ``web`` package, so that
``python -m`` runs it without runpy's "found in sys.modules" warning
(``web.auth`` is imported by the package itself)."""

from __future__ import annotations

import secrets
import sys

from .auth import digest


def main(argv: list[str]) -> int:
    """Run the command ``argv`` (without the program name); the exit code."""
    if argv == ["new"]:
        token = secrets.token_urlsafe(32)
        print(f"token:  {token}\nsha256: {digest(token)}  (put this in SEARCH_WRITE_TOKENS)")
        return 0
    if len(argv) == 2 and argv[0] == "hash":
        print(digest(argv[1]))
        return 0
    print("usage: python -m web.tokens new | hash <token>", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
