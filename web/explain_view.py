"""A hit's score explanation (``search.explain``) as the staff results
page shows it: the components and factors named in the interface
language, values to 4 decimals.  Readers never get one (the page asks
for explanations only for a signed-in staff member)."""

from __future__ import annotations

from flask_babel import lazy_gettext

COMPONENT_LABELS = {
    "bm25f.title": lazy_gettext("标题相关度（BM25F）"),
    "bm25f.body": lazy_gettext("正文相关度（BM25F）"),
    "title_bonus": lazy_gettext("标题加分"),
    "proximity": lazy_gettext("词语相邻加分"),
    "fallback": lazy_gettext("字词片段得分"),
    "bm25.title": lazy_gettext("标题相关度（BM25）"),
    "bm25.body": lazy_gettext("正文相关度（BM25）"),
    "bm25.other": lazy_gettext("其他字段相关度（BM25）"),
    "constant": lazy_gettext("固定得分"),
}
FACTOR_LABELS = {"coverage": lazy_gettext("部分匹配覆盖率"), "recency": lazy_gettext("时效加权")}
TIER_LABELS = {"full": lazy_gettext("完全匹配"), "partial": lazy_gettext("部分匹配"),
               "fallback": lazy_gettext("字词片段匹配")}


def explain_view(explain: dict | None) -> dict | None:
    """{"total", "tier", "rows": [(label, value)], "factors": [(label,
    value)]} (text) for the results page's "why here" table; None for
    None.  A name without a label is shown as it is."""
    if explain is None:
        return None

    def named(table, name):
        return str(table[name]) if name in table else name

    return {"total": f"{explain['total']:.4f}", "tier": named(TIER_LABELS, explain["match_tier"]),
            "rows": [(named(COMPONENT_LABELS, c["name"]), f"{c['value']:.4f}") for c in explain["components"]],
            "factors": [(named(FACTOR_LABELS, f["name"]), f"{f['value']:.4f}") for f in explain["factors"]]}
