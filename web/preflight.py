"""``python -m web.preflight``: the service's settings checked before it
starts (``scripts/serve`` runs it first; ``gunicorn.conf.py`` runs the same
check), so a variable that cannot be used is named in one line instead of
a worker's traceback.  Exit 0 when every setting can be used, else print
``error: <the variable and why>`` and exit 2."""

from __future__ import annotations

from search.errors import run_command

from .config import check


def main() -> int:
    """Check the environment's settings (``web.config.check``); the exit status."""
    return run_command(lambda _argv: check() and 0, None)


if __name__ == "__main__":
    raise SystemExit(main())
