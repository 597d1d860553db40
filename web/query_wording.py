"""The query language in the results page's interface language: one
wording per notice code (``search.query.Notice``), the partial-match note,
what a partial hit lacks, and the understood tree (``search/plan.py``
``describe()``) as one readable line.

Every wording is a gettext message (Flask-Babel; the source language is
Simplified Chinese, the catalogues under ``web/translations/`` give
Traditional Chinese and English): outside a request the Simplified
wording is returned.  Lists of words are joined by Babel's CLDR list
patterns for the interface language (``babel.lists.format_list``).

Everything returned is plain text with the user's own text inside the
language's quotation marks (「」 in Chinese, “” in English): the
templates escape it (never mark it safe)."""

from __future__ import annotations

from functools import reduce

from babel.lists import format_list
from flask_babel import get_locale, gettext, lazy_gettext, ngettext

from .labels import FIELD_LABELS, label

# One wording per notice code (a message with the placeholders %(text)s:
# the part of the query concerned, as typed, and %(upper)s: the same in
# upper case, filled in by ``notice_text``).  A code missing here (a new
# one in search/query/) falls back to the engine's English message.
NOTICE_WORDING = {
    "malformed_operator": lazy_gettext(
        "「%(text)s」不是有效的运算符，未按运算符处理。词距要写明词数，如 w/5、pre/5；"
        "同一句写 w/s，同一段写 w/p；出现次数写作 atleast3:疫苗。"),
    "unclosed_quote": lazy_gettext("「%(text)s」的引号没有配对，已把引号后直到末尾的内容当作一个短语。"),
    "distance_out_of_range": lazy_gettext("「%(text)s」的词距只能是 1 到 100 个词，已按最接近的有效值检索。"),
    "count_out_of_range": lazy_gettext("「%(text)s」的次数只能是 1 到 100 次，已按最接近的有效值检索。"),
    "dangling_operator": lazy_gettext("「%(text)s」一侧缺少检索词，已忽略。"),
    "leading_not": lazy_gettext("查询以「%(text)s」开头，已把紧随其后的内容当作排除词（与“-”相同）。"),
    "proximity_operand": lazy_gettext(
        "「%(text)s」两侧只能是词、带引号的短语或（甲 OR 乙），这里不符合，已改为两侧同时包含（AND）。"),
    "unbalanced_parenthesis": lazy_gettext(
        "括号「%(text)s」没有配对：缺少的右括号视为加在查询末尾，多出的右括号不予理会。"),
    "field_group": lazy_gettext("「%(text)s」后面不能跟括号分组，括号里的内容已在标题和正文中检索。"),
    "lowercase_operator": lazy_gettext("「%(text)s」按普通词检索；如要作为运算符，请全部大写：%(upper)s。"),
    "empty_field": lazy_gettext("「%(text)s」后面没有检索内容，已忽略。"),
    "empty_phrase": lazy_gettext("「%(text)s」的引号里没有内容，已忽略。"),
    "no_wildcard": lazy_gettext("「%(text)s」中的 * 和 ? 不是通配符，已当作空格处理。"),
    "unknown_field": lazy_gettext("「%(text)s」中的字段名拼写有误，已按最接近的字段检索。"),
    "empty_group": lazy_gettext("括号「%(text)s」里没有检索内容，已忽略。"),
}
# The notices of hybrid and semantic search (search.hybrid.NOTICE_CODES):
# how results were found, not how the query was read; %(text)s is a number.
MODE_NOTICE_WORDING = {
    "dense_results": lazy_gettext("其中 %(text)s 条结果是按语义找到的：文中缺少查询的词，但意思相近。"),
    "vectors_backlog": lazy_gettext("还有 %(text)s 篇报道尚未计算语义向量，暂时只能按词找到。"),
    "dense_rerank_only": lazy_gettext("已按语义重新排列前 %(text)s 条按词找到的结果；此索引不能只按语义查找报道。"),
}
# Semantic mode's own wording of a code: there every result is ranked by
# meaning and the plain words are not matched (what was typed exactly, such
# as a phrase or an exclusion, holds), so "dense_results" says nothing of
# whether the articles have the query's words (hybrid's wording does: a
# dense-only hit of hybrid is no word match, so it lacks some or all of them).
SEMANTIC_NOTICE_WORDING = {
    "dense_results": lazy_gettext("按语义检索：%(text)s 条结果按与查询意思的接近程度排列（查询中的普通词按意思检索，不按词匹配）。"),
}

# A run-together Latin word read as its words (search.wordbreak): %(text)s the
# word, %(words)s its words (``words_list``).
WORDS_NOTICE_WORDING = {
    "latin_words": lazy_gettext("「%(text)s」不是任何报道中的词，已按英文单词%(words)s检索。"),
}


def notice_text(notice: dict, mode: str = "lexical") -> str:
    """A notice ({code, text, message}; a ``latin_words`` one also has
    ``words``) as a sentence for the results page; ``mode``: the search's
    mode (``search.hybrid.MODES``), which words ``dense_results``."""
    code = notice.get("code", "")
    text = notice.get("text", "")
    if code in WORDS_NOTICE_WORDING:
        return str(WORDS_NOTICE_WORDING[code]) % {"text": text, "words": words_list(notice.get("words", []))}
    wording = (mode == "semantic" and SEMANTIC_NOTICE_WORDING.get(code)) or NOTICE_WORDING.get(code) \
        or MODE_NOTICE_WORDING.get(code)
    if wording is None:
        return notice.get("message", "")
    return str(wording) % {"text": text, "upper": text.upper()}


def _locale():
    return get_locale() or "zh_Hans"


def quoted(text: str) -> str:
    """The reader's text in the interface language's quotation marks: 「香港」, “香港”."""
    return gettext("「%(text)s」", text=text)


def words_list(words: list[str], style: str = "standard") -> str:
    """Quoted words as a list in the interface language (CLDR patterns):
    「香港」、「选举」和「立法会」; style "or": 「香港」或「选举」."""
    return format_list([quoted(w) for w in words], style=style, locale=_locale())


def relaxed_text(total_full: int, grouped: bool, missing: list[str] = ()) -> str:
    """The note above a result list whose full matches are followed by
    partial ones: how many match every word (``total_full``, in the unit of
    the total: near-duplicate groups when ``grouped``), then what the
    partial ones lack (``missing``: the words the listed partial hits do
    not mention, in the order the hits first show them; each hit also
    says its own).  Two
    sentences, each one message."""
    if grouped:
        first = (ngettext("只有 %(num)d 条结果同时包含全部关键词，排在最前。",
                          "只有 %(num)d 条结果同时包含全部关键词，排在最前。", total_full)
                 if total_full else gettext("没有同时包含全部关键词的结果。"))
        rest = (gettext("其后的结果只包含部分关键词，未提及%(words)s；每条下方注明了它缺少的词。",
                        words=words_list(list(missing), "or"))
                if missing else gettext("其后的结果只包含部分关键词；每条下方注明了它缺少的词。"))
    else:
        first = (ngettext("只有 %(num)d 篇报道同时包含全部关键词，排在最前。",
                          "只有 %(num)d 篇报道同时包含全部关键词，排在最前。", total_full)
                 if total_full else gettext("没有同时包含全部关键词的报道。"))
        rest = (gettext("其后的报道只包含部分关键词，未提及%(words)s；每篇下方注明了它缺少的词。",
                        words=words_list(list(missing), "or"))
                if missing else gettext("其后的报道只包含部分关键词；每篇下方注明了它缺少的词。"))
    return gettext("%(first)s%(rest)s", first=first, rest=rest)


def missing_text(missing: list[str]) -> str:
    """What a partial hit lacks (its ``match.missing``): 未提及「立法会」."""
    return gettext("未提及%(words)s", words=words_list(missing))


def meaning_text(mode: str, similarity: float | None) -> str:
    """How a hit found by meaning (``match.by`` "dense") was found, for the
    page: in hybrid mode a dense-only hit, which is no match of the query's
    words, so it lacks some of them (all, or, when the search was not
    relaxed to partial matches, at least one: 按语义找到（文中缺少查询的词）);
    in semantic mode every hit, ranked by
    meaning with its plain words not matched, so nothing is said of them:
    按语义找到（相似度 0.87）, ``similarity`` (``match.similarity``, the
    cosine, -1..1) to two decimals, or 按语义找到 when it is None."""
    if mode != "semantic":
        return gettext("按语义找到（文中缺少查询的词）")
    if similarity is None:
        return gettext("按语义找到")
    return gettext("按语义找到（相似度 %(similarity)s）", similarity=f"{similarity:.2f}")


# ---- the understood tree -----------------------------------------------------------
# Where a clause looks: None (title or body) or a part of the article,
# named in the interface language (``labels.FIELD_LABELS``).
_TEXT_WHERE = {("title", "body"): None, ("title",): "title", ("body",): "body"}


def _where(name: str | None) -> str | None:
    return None if name is None else label(FIELD_LABELS, name)


def _has(kind: tuple, terms: str, how: str) -> str:
    """A clause of ``kind`` ((where, phrase)) with ``terms`` already joined;
    ``how``: "one" (含), "all" (同时含) or "none" (不含)."""
    where, phrase = kind
    place = _where(where)
    if place is None:
        if phrase:
            return {"one": gettext("含短语%(terms)s", terms=terms),
                    "all": gettext("同时含短语%(terms)s", terms=terms),
                    "none": gettext("不含短语%(terms)s", terms=terms)}[how]
        return {"one": gettext("含%(terms)s", terms=terms),
                "all": gettext("同时含%(terms)s", terms=terms),
                "none": gettext("不含%(terms)s", terms=terms)}[how]
    if phrase:
        return {"one": gettext("%(where)s含短语%(terms)s", where=place, terms=terms),
                "all": gettext("%(where)s同时含短语%(terms)s", where=place, terms=terms),
                "none": gettext("%(where)s不含短语%(terms)s", where=place, terms=terms)}[how]
    return {"one": gettext("%(where)s含%(terms)s", where=place, terms=terms),
            "all": gettext("%(where)s同时含%(terms)s", where=place, terms=terms),
            "none": gettext("%(where)s不含%(terms)s", where=place, terms=terms)}[how]


def _quoted(node: dict) -> str:
    text = quoted(node.get("text", ""))
    return gettext("%(term)s（整词）", term=text) if node.get("whole_word") else text


def _simple(node: dict, lead: bool = False) -> tuple[tuple, list[str]] | None:
    """A clause that reads as a kind ((where, phrase)) and alternative
    quoted terms ((("title", False), ["「香港」", "「澳门」"])); else None."""
    op = node.get("op")
    if op in ("word", "phrase"):
        where = "lead" if lead else _TEXT_WHERE.get(tuple(node.get("fields", ())))
        return ((where, op == "phrase"), [_quoted(node)])
    if op == "field":
        return ((node.get("field"), False), [quoted(node.get("value", ""))])
    if op == "lead":
        return _simple(node.get("clause", {}), lead=True)
    if op == "or":
        parts = [_simple(o, lead) for o in node.get("clauses", [])]
        if parts and all(p is not None and p[0] == parts[0][0] for p in parts):
            return (parts[0][0], [t for p in parts for t in p[1]])
    return None


def _joined(terms: list[str], style: str) -> str:
    return format_list(terms, style=style, locale=_locale())


def _listed(kind: tuple, terms: list[str]) -> str:
    """含「香港」; 同时含「香港」、「选举」和「立法会」."""
    if len(terms) == 1:
        return _has(kind, terms[0], "one")
    return _has(kind, _joined(terms, "standard"), "all")


def _side(terms: list[dict]) -> str:
    """One side of a proximity clause: 「香港」 or （「香港」或「澳门」）."""
    inner = _joined([_quoted(t) for t in terms], "or")
    return inner if len(terms) == 1 else gettext("（%(text)s）", text=inner)


def _chain(parts: list[str], pattern) -> str:
    return reduce(lambda left, right: pattern(left, right), parts)


def _conditions(clauses: list[dict]) -> list[str]:
    """Each clause as a condition; neighbours of the same kind share it
    (同时含「香港」和「选举」)."""
    out: list[str] = []
    run_kind, run = None, []
    for clause in clauses:
        simple = _simple(clause)
        if simple is not None and len(simple[1]) > 1:
            simple = None  # 含「香港」或「澳门」 stands alone: never 同时含「香港」或「澳门」和「选举」
        if simple is not None and simple[0] == run_kind:
            run.extend(simple[1])
            continue
        if run:
            out.append(_listed(run_kind, run))
        run_kind, run = (simple[0], simple[1]) if simple is not None else (None, [])
        if simple is None:
            out.append(_condition(clause))
    if run:
        out.append(_listed(run_kind, run))
    return out


def _condition(node: dict) -> str:
    simple = _simple(node)
    if simple is not None:
        return _has(simple[0], _joined(simple[1], "or"), "one")
    op = node.get("op")
    if op == "near":
        left, right = _side(node.get("left", [])), _side(node.get("right", []))
        unit = node.get("unit")
        if unit == "sentence":
            return gettext("%(left)s与%(right)s在同一句中", left=left, right=right)
        if unit == "paragraph":
            return gettext("%(left)s与%(right)s在同一段中", left=left, right=right)
        n = node.get("distance")
        if node.get("ordered"):
            return ngettext("%(left)s在前、%(right)s在后，相距不超过 %(num)d 个词",
                            "%(left)s在前、%(right)s在后，相距不超过 %(num)d 个词", n, left=left, right=right)
        return ngettext("%(left)s与%(right)s相距不超过 %(num)d 个词",
                        "%(left)s与%(right)s相距不超过 %(num)d 个词", n, left=left, right=right)
    if op == "atleast":
        return ngettext("%(term)s至少出现 %(num)d 次", "%(term)s至少出现 %(num)d 次", node.get("count"),
                        term=_quoted(node.get("clause", {})))
    if op == "lead":
        return gettext("导语中%(condition)s", condition=_condition(node.get("clause", {})))
    if op == "or":
        return _chain([_condition(o) for o in node.get("clauses", [])],
                      lambda a, b: gettext("%(left)s，或%(right)s", left=a, right=b))
    if op == "and":
        parts = _conditions(node.get("clauses", [])) + [_excluded(n) for n in node.get("not", [])]
        if len(parts) == 1:
            return parts[0]
        return gettext("（%(text)s）", text=_chain(parts, lambda a, b: gettext("%(left)s，且%(right)s", left=a, right=b)))
    return node.get("text") or str(op)


def _excluded(node: dict) -> str:
    """An excluded clause: 不含「体育」; -(体育 OR 娱乐): 不含「体育」，也不含「娱乐」."""
    simple = _simple(node)
    if simple is not None:
        kind, terms = simple
        return _has(kind, _chain(terms, lambda a, b: gettext("%(left)s，也不含%(right)s", left=a, right=b)), "none")
    return gettext("排除%(condition)s的报道", condition=_condition(node))


def understood_text(tree: dict | None) -> str:
    """The understood tree as one line: 「香港」与「选举」相距不超过 5 个词；
    标题含「疫苗」；不含「体育」.  "" for an empty tree."""
    if not tree:
        return ""
    if tree.get("op") != "and":
        return _condition(tree)
    parts = _conditions(tree.get("clauses", [])) + [_excluded(n) for n in tree.get("not", [])]
    return _chain(parts, lambda a, b: gettext("%(left)s；%(right)s", left=a, right=b)) if parts else ""
