"""The command line for write tokens: ``python -m web.tokens new | hash
TOKEN`` (``web.auth.command``; ``python -m web.auth`` runs the same).

Its own module, imported by nothing in the ``web`` package, so that the
command is documented under a name that no page or worker ever imports."""

from __future__ import annotations

import sys

from .auth import command

if __name__ == "__main__":
    sys.exit(command(sys.argv[1:]))
