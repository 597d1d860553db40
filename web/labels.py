"""The names readers and staff see for the search's fields, time ranges
and sorts, in the interface language: one table each, used by the results
page (facet headings, range and sort links), the staff query report
(``filter_wording``) and the understood query (``query_wording``).

Keys are the names the search uses: ``FIELD_LABELS`` the fields of
``search/fields.py`` (every facet and filter of ``FACET_FIELDS``, the
query language's restrictions, the text fields), ``RANGE_LABELS`` the
periods of ``web/params.py`` ``RANGES`` ("" for all time),
``SORT_LABELS`` ``search.models.SORTS``.  tests/test_query_wording.py
checks each table covers its names.  Values are lazy gettext messages
(Flask-Babel): ``str()`` gives the request's interface language."""

from __future__ import annotations

from flask_babel import lazy_gettext

FIELD_LABELS = {
    "category": lazy_gettext("栏目"), "source": lazy_gettext("来源"), "author": lazy_gettext("作者"),
    "tag": lazy_gettext("标签"), "year": lazy_gettext("年份"),
    "title": lazy_gettext("标题"), "body": lazy_gettext("正文"), "lead": lazy_gettext("导语"),
}
RANGE_LABELS = {"": lazy_gettext("全部时间"), "day": lazy_gettext("一天内"), "week": lazy_gettext("一周内"),
                "month": lazy_gettext("一月内"), "year": lazy_gettext("一年内")}
# The search modes (search.hybrid.MODES) as the results page's toggle names them.
MODE_LABELS = {"lexical": lazy_gettext("按词"), "hybrid": lazy_gettext("词与语义"), "semantic": lazy_gettext("按语义")}
SORT_LABELS = {"relevance": lazy_gettext("按相关度"), "newest": lazy_gettext("按时间（最新）"),
               "oldest": lazy_gettext("按时间（最早）")}


def texts(table: dict) -> dict[str, str]:
    """``table`` (one of the above) with its labels as text in the
    interface language, in the table's order."""
    return {key: str(label) for key, label in table.items()}


def label(table: dict, key: str) -> str:
    """The label of ``key`` in ``table`` as text; ``key`` itself when the
    table has none (a value from an older log, say)."""
    return str(table[key]) if key in table else key
