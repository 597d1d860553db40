"""The web service: the Flask app (``create_app``, built in ``web/app.py``)
and its command-line tools (``python -m web.tokens``, ``python -m web.auth``).

The package imports nothing when it is imported, so that ``python -m
web.<module>`` runs that module without runpy's "found in sys.modules"
warning (an eager import of ``web.app`` would import ``web.auth`` first)."""

from __future__ import annotations


def create_app(test_config: dict | None = None):
    """The Flask app (``web.app.create_app``); ``test_config`` overrides
    the settings read from the environment.  Raises what that factory
    raises for a setting that cannot be used."""
    from .app import create_app as factory

    return factory(test_config)
