"""The Whoosh backend: the only package that imports whoosh."""

from .backend import WhooshBackend

__all__ = ["WhooshBackend"]
