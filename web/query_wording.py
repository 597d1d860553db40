"""The query language in the results page's Chinese: one wording per notice
code (``search.query.Notice``), the partial-match note, what a partial hit
lacks, and the understood tree (``search/plan.py`` ``describe()``) as one
readable line.

Everything returned is plain text with the user's own text inside 「」:
the templates escape it (never mark it safe)."""

from __future__ import annotations

# One wording per notice code; {text} is the part of the query concerned,
# as typed, {upper} the same in upper case.  A code missing here (a new one
# in search/query/) falls back to the engine's English message.
NOTICE_WORDING = {
    "malformed_operator": "「{text}」不是有效的运算符，未按运算符处理。词距要写明词数，如 w/5、pre/5；"
                          "同一句写 w/s，同一段写 w/p；出现次数写作 atleast3:疫苗。",
    "unclosed_quote": "「{text}」的引号没有配对，已把引号后直到末尾的内容当作一个短语。",
    "distance_out_of_range": "「{text}」的词距只能是 1 到 100 个词，已按最接近的有效值检索。",
    "count_out_of_range": "「{text}」的次数只能是 1 到 100 次，已按最接近的有效值检索。",
    "dangling_operator": "「{text}」一侧缺少检索词，已忽略。",
    "leading_not": "查询以「{text}」开头，已把紧随其后的内容当作排除词（与“-”相同）。",
    "proximity_operand": "「{text}」两侧只能是词、带引号的短语或（甲 OR 乙），这里不符合，已改为两侧同时包含（AND）。",
    "unbalanced_parenthesis": "括号「{text}」没有配对：缺少的右括号视为加在查询末尾，多出的右括号不予理会。",
    "field_group": "「{text}」后面不能跟括号分组，括号里的内容已在标题和正文中检索。",
    "lowercase_operator": "「{text}」按普通词检索；如要作为运算符，请全部大写：{upper}。",
    "empty_field": "「{text}」后面没有检索内容，已忽略。",
    "unknown_field": "「{text}」中的字段名拼写有误，已按最接近的字段检索。",
    "empty_group": "括号「{text}」里没有检索内容，已忽略。",
}


def notice_text(notice: dict) -> str:
    """A notice ({code, text, message}) as a sentence for the results page."""
    wording = NOTICE_WORDING.get(notice.get("code", ""))
    if wording is None:
        return notice.get("message", "")
    text = notice.get("text", "")
    return wording.format(text=text, upper=text.upper())


def relaxed_text(total_full: int, grouped: bool) -> str:
    """The note above a result list whose full matches are followed by
    partial ones (``total_full``: how many match every word, in the unit
    of the total: near-duplicate groups when ``grouped``)."""
    unit, each = ("条结果", "条") if grouped else ("篇报道", "篇")
    rest = "结果" if grouped else "报道"
    if not total_full:
        return f"没有同时包含全部关键词的{rest}；以下{rest}只包含部分关键词，各{each}下方注明了未提及的词。"
    return (f"只有 {total_full} {unit}同时包含全部关键词，排在最前；其后的{rest}只包含部分关键词，"
            f"各{each}下方注明了未提及的词。")


def missing_text(missing: list[str]) -> str:
    """What a partial hit lacks (its ``match.missing``): 未提及「立法会」."""
    return "未提及" + "、".join(f"「{m}」" for m in missing)


# ---- the understood tree -----------------------------------------------------------
_TEXT_PREFIX = {("title", "body"): "含", ("title",): "标题含", ("body",): "正文含"}
_VALUE_PREFIX = {"author": "作者含", "source": "来源含", "category": "栏目含", "tag": "标签含"}


def _quoted(node: dict) -> str:
    text = f"「{node.get('text', '')}」"
    return text + "（整词）" if node.get("whole_word") else text


def _simple(node: dict, lead: bool = False) -> tuple[str, list[str]] | None:
    """A clause that reads as a prefix and alternative quoted terms
    ("标题含", ["「香港」", "「澳门」"]); else None."""
    op = node.get("op")
    if op in ("word", "phrase"):
        prefix = "导语含" if lead else _TEXT_PREFIX.get(tuple(node.get("fields", ())), "含")
        return (prefix + ("短语" if op == "phrase" else ""), [_quoted(node)])
    if op == "field":
        return (_VALUE_PREFIX.get(node.get("field"), f"{node.get('field')}含"), [f"「{node.get('value', '')}」"])
    if op == "lead":
        return _simple(node.get("clause", {}), lead=True)
    if op == "or":
        parts = [_simple(o, lead) for o in node.get("clauses", [])]
        if parts and all(p is not None and p[0] == parts[0][0] for p in parts):
            return (parts[0][0], [t for p in parts for t in p[1]])
    return None


def _listed(prefix: str, terms: list[str]) -> str:
    """含「香港」; 同时含「香港」、「选举」和「立法会」."""
    if len(terms) == 1:
        return prefix + terms[0]
    return prefix.replace("含", "同时含", 1) + "、".join(terms[:-1]) + "和" + terms[-1]


def _side(terms: list[dict]) -> str:
    """One side of a proximity clause: 「香港」 or （「香港」或「澳门」）."""
    inner = "或".join(_quoted(t) for t in terms)
    return inner if len(terms) == 1 else f"（{inner}）"


def _conditions(clauses: list[dict]) -> list[str]:
    """Each clause as a condition; neighbours with the same prefix share it
    (同时含「香港」和「选举」)."""
    out: list[str] = []
    run_prefix, run = None, []
    for clause in clauses:
        simple = _simple(clause)
        if simple is not None and len(simple[1]) > 1:
            simple = None  # 含「香港」或「澳门」 stands alone: never 同时含「香港」或「澳门」和「选举」
        if simple is not None and simple[0] == run_prefix:
            run.extend(simple[1])
            continue
        if run:
            out.append(_listed(run_prefix, run))
        run_prefix, run = (simple[0], simple[1]) if simple is not None else (None, [])
        if simple is None:
            out.append(_condition(clause))
    if run:
        out.append(_listed(run_prefix, run))
    return out


def _condition(node: dict) -> str:
    simple = _simple(node)
    if simple is not None:
        return simple[0] + "或".join(simple[1])
    op = node.get("op")
    if op == "near":
        left, right = _side(node.get("left", [])), _side(node.get("right", []))
        unit = node.get("unit")
        if unit == "sentence":
            return f"{left}与{right}在同一句中"
        if unit == "paragraph":
            return f"{left}与{right}在同一段中"
        if node.get("ordered"):
            return f"{left}在前、{right}在后，相距不超过 {node.get('distance')} 个词"
        return f"{left}与{right}相距不超过 {node.get('distance')} 个词"
    if op == "atleast":
        return f"{_quoted(node.get('clause', {}))}至少出现 {node.get('count')} 次"
    if op == "lead":
        return "导语中" + _condition(node.get("clause", {}))
    if op == "or":
        return "，或".join(_condition(o) for o in node.get("clauses", []))
    if op == "and":
        parts = _conditions(node.get("clauses", [])) + [_excluded(n) for n in node.get("not", [])]
        return parts[0] if len(parts) == 1 else "（" + "，且".join(parts) + "）"
    return node.get("text") or str(op)


def _excluded(node: dict) -> str:
    """An excluded clause: 不含「体育」; -(体育 OR 娱乐): 不含「体育」，也不含「娱乐」."""
    simple = _simple(node)
    if simple is not None:
        prefix, terms = simple
        return prefix.replace("含", "不含", 1) + "，也不含".join(terms)
    return f"排除{_condition(node)}的报道"


def understood_text(tree: dict | None) -> str:
    """The understood tree as one line: 「香港」与「选举」相距不超过 5 个词；
    标题含「疫苗」；不含「体育」.  "" for an empty tree."""
    if not tree:
        return ""
    if tree.get("op") != "and":
        return _condition(tree)
    parts = _conditions(tree.get("clauses", [])) + [_excluded(n) for n in tree.get("not", [])]
    return "；".join(parts)
