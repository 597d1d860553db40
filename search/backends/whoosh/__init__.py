"""The Whoosh backend: the only package that imports whoosh."""

from . import docinfo  # noqa: F401 - registers the first sidecar kind (sidecars.py)
from . import rawpostings  # noqa: F401 - registers the raw postings kind
from . import vectors  # noqa: F401 - registers the vectors kind (written later, by `indexer embed`)
from .backend import WhooshBackend

__all__ = ["WhooshBackend"]
