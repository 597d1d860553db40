"""The results page's summary line in the interface language: how many
results (exact, or "about" when the engine says the total is an
estimate: ``SearchResult.total_estimated``; in semantic mode, and in
hybrid when only meaning found any, how many were found by meaning) and
how long the search took.
"""

from __future__ import annotations

from flask_babel import gettext, ngettext
from markupsafe import Markup


def count_text(total: int, searched: bool, estimated: bool) -> Markup:
    """找到 12 条结果 / 找到约 41,000 条结果 (``searched``: the request had a
    query) / 共 12 篇 (a listing without a query); the number is
    ``<strong id="total">``.  Markup: the message comes from the
    catalogue and the only value inserted is the integer ``total``."""
    shown = Markup('<strong id="total">%d</strong>') % int(total)
    if searched and estimated:
        text = ngettext("找到约 %(total)s 条结果", "找到约 %(total)s 条结果", total, total=shown)
    elif searched:
        text = ngettext("找到 %(total)s 条结果", "找到 %(total)s 条结果", total, total=shown)
    else:
        text = ngettext("共 %(total)s 篇", "共 %(total)s 篇", total, total=shown)
    return Markup(text)


def meaning_count_text(dense_total: int) -> Markup:
    """按语义找到 14 条结果: the count of a search whose results were all
    found by meaning (semantic mode, or hybrid when no article has the
    query's words: ``total`` 0, ``dense_total`` > 0); the number is
    ``<strong id="total">`` as in ``count_text``."""
    shown = Markup('<strong id="total">%d</strong>') % int(dense_total)
    return Markup(ngettext("按语义找到 %(total)s 条结果", "按语义找到 %(total)s 条结果", dense_total, total=shown))


def took_text(ms: float) -> str:
    """The search's time in whole milliseconds, "（用时 12 毫秒）"; under
    1 ms "（用时不到 1 毫秒）", never "0 毫秒"."""
    if ms < 1:
        return gettext("（用时不到 1 毫秒）")
    whole = round(ms)
    return ngettext("（用时 %(num)d 毫秒）", "（用时 %(num)d 毫秒）", whole)


def dense_text(dense_total: int | None) -> str:
    """"另有 3 条按语义找到的结果" for a hybrid or semantic search's
    ``dense_total`` (results found by meaning, not counted in the total);
    "" when there are none (and in lexical mode: None)."""
    if not dense_total:
        return ""
    return ngettext("另有 %(num)s 条按语义找到的结果", "另有 %(num)s 条按语义找到的结果", dense_total)
