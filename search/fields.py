"""The fields of an article as search sees them, and the query language's
limits: one definition each, imported by the parser, the compiler, both
backends, the indexer and the web layer.

A backend that cannot honour a limit declares its own capability next to
its code (``OpenSearchBackend.MAX_MENTIONS``), never a second value of the
language's limit.
"""

from __future__ import annotations

from .errors import SearchServiceError
from .timeutil import parse_year

# Facets and filters: every field a search can be filtered and counted by,
# in the order pages show them.  ``tag`` is multi-valued; ``year`` is the
# calendar year of publication in newsroom time (``search.timeutil``).
FACET_FIELDS = ("category", "source", "author", "tag", "year")
# The facets whose values are text, filtered and counted by folded keys
# (``search.values``); ``year`` is computed from the publication time.
VALUE_FACETS = ("category", "source", "author", "tag")
# The facets a search counts when it names none (the results page's 栏目,
# 来源): the others are counted only when asked for (``facets=``).
DEFAULT_FACETS = ("category", "source")
# The single-valued facet fields: one column of values per document.
SINGLE_VALUED_FACETS = ("category", "source", "author")

# Field restrictions of the query language that search text (title:, lead:)
# and those that match a value (author:, source:, category:, tag:).
TEXT_RESTRICTIONS = ("title", "lead")
VALUE_RESTRICTIONS = ("author", "source", "category", "tag")
# The analysed text fields a text clause searches, by restriction: none (the
# title and the body), title:, and lead: (the body, then checked to be in the
# first paragraph).
SEARCHED_FIELDS = {None: ("title", "body"), "title": ("title",), "lead_body": ("body",)}

# The query language's limits.
MAX_QUERY_LENGTH = 500  # characters of a query
MAX_MENTIONS = 100  # atleastN: N at most
MAX_DISTANCE = 100  # w/N, pre/N: N words at most


class FacetError(ValueError, SearchServiceError, status=400):
    """A facet name that is not one of ``FACET_FIELDS``."""


def facet_names(names) -> tuple[str, ...]:
    """The facets to count, from ``names`` (an iterable of names, or one
    comma-separated string such as ``"author,tag,year"``; blanks are
    skipped, so ``""`` is no facet at all), in ``FACET_FIELDS`` order
    without repeats.  Raises ``FacetError`` (400) naming an unknown name
    and the allowed ones."""
    parts = names.split(",") if isinstance(names, str) else [p for n in names for p in str(n).split(",")]
    wanted = {p.strip() for p in parts if p.strip()}
    unknown = sorted(wanted - set(FACET_FIELDS))
    if unknown:
        raise FacetError(f"unknown facet {unknown[0]!r} in 'facets': use a comma-separated list of "
                         f"{', '.join(FACET_FIELDS)} (empty for none)")
    return tuple(name for name in FACET_FIELDS if name in wanted)


def checked_filters(filters: dict[str, list[str]]) -> dict[str, list[str]]:
    """``filters`` (facet name -> values) as a plan carries them: years
    read by ``timeutil.parse_year`` (``DateError``, 400, for anything but
    a plausible four-digit year), other values unchanged."""
    if "year" in filters:
        filters = {**filters, "year": [str(parse_year(y)) for y in filters["year"]]}
    return filters
