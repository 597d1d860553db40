"""The results page's summary line in the interface language: how many
results (exact, or "about" when the engine says the total is an
estimate: ``SearchResult.total_estimated``) and how long the search took.
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
