"""Page furniture in scraped article text: what is not the story.

News often arrives as the text of a scraped page: the story, photo credits
glued into its paragraphs (``图片来源：某官微``), and blocks listing other
stories' headlines under headings such as 您可能也感兴趣, 为您推荐, 排行,
最近更新, 相关阅读, 相關報道, 延伸閱讀.  ``strip`` takes them out of a body
(already cleaned by ``clean.clean_text``: one paragraph per line) and says
what it removed; ``records.to_article`` calls it, so every input path
(JSON Lines, CSV, the write API, saved HTML pages, the writer, rebuilds)
cleans the same way.

Precision first: a line is removed only when it is a heading of that class
(the whole line, optionally bracketed ``【相關閱讀】`` and followed by a
colon), a headline listed under such a heading, or a heading followed by a
colon and one headline (``相關報道： 某某事件　三大疑團``).  A list ends at
the first line that is not headline-shaped: prose (a ``。``, longer than
``MAX_HEADLINE``, ending ``：，；、``), a pull quote standing alone
(``「……」``, unless list-marked), or a credit or source line in either
script (``bylines.is_credit_line``, the byline extractor's own recogniser:
``文／李明``, ``記者 李明``, ``（本报记者 李明 报道）``, ``（责任编辑：某某）`` all
stay, so bylines are still read from them).  A list that prose follows
(mid-body) asks more of its items, since a subheading, a question or a
quote may open the next part of the story: a list mark, or a headline's
form (two parts set apart by a space, a ``【】`` / ``《》`` tag, a bar);
the list ends at the first line without one (``记者手记``,
``為什麼會這樣？``, ``「我們會繼續努力」`` stay).  All patterns are
Simplified only and are matched on the line folded one character at a time
to Simplified (``search.normalize.simplified_chars``: same length, so
positions stay); Traditional text needs no list of its own.

Photo credits (``图片来源：`` / ``圖片來源：`` / ``照片來源：`` / ``图源：`` ...
followed by a short name) are taken out of the text and returned as
metadata.  A credit ends at the end of the line, at a closing bracket (and
the bracket pair goes with it), at Chinese punctuation (``。，；！？、``), at a
full-width or double space, or, when it is glued to the next sentence, where
that sentence starts: a sentence opener (``据介绍``, ``近日``, a date
``3月18日`` ...).  A "credit" shorter than ``MIN_CREDIT`` or longer than
``MAX_CREDIT`` characters is not one, and the text is left alone.

Own code (the standard library's ``re``): no maintained library strips this
furniture from plain text (trafilatura and its kin work on HTML).  The
lengths below were chosen, not measured; ``eval/cleaning.py`` checks the
rules on the real corpora.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from search.normalize import simplified_chars

from .bylines import is_credit_line

MAX_HEADLINE = 80  # characters: a listed headline is shorter; longer is prose
MAX_CREDIT = 40  # characters: a photo credit is a short name (an outlet, a person, a site) ...
MIN_CREDIT = 2  # ... of at least two characters: "照片來源：醫。藥。人網站" is left alone, not cut at "醫"

#: Headings of the lists around a story, in Simplified form (Traditional
#: text is folded before matching).  Not 最新更新: 眾新聞 marks an update of
#: the story itself with 【最新更新】.
HEADINGS = (
    "您可能也感兴趣", "你可能也感兴趣", "您可能感兴趣", "你可能感兴趣", "您可能有兴趣", "你可能有兴趣",
    "为您推荐", "为你推荐", "猜你喜欢", "猜您喜欢", "编辑推荐", "精彩推荐", "热门推荐", "热点推荐", "今日推荐",
    "排行", "排行榜", "热门排行", "点击排行", "阅读排行", "新闻排行", "热文排行",
    "最近更新", "最新文章", "热门文章", "热门新闻", "热点新闻", "更多新闻", "更多阅读",
    "相关阅读", "相关新闻", "相关报道", "相关报导", "相关文章", "相关链接", "相关专题",
    "延伸阅读", "推荐阅读", "扩展阅读",
)
_HEADING_ALT = "|".join(sorted(map(re.escape, HEADINGS), key=len, reverse=True))
_MARKS = r"[\s*＊#＃>]*"  # Markdown emphasis / quote marks a scraper left around a heading
_HEADING_LINE = re.compile(
    rf"^{_MARKS}(?:[【\[〔［](?P<b>{_HEADING_ALT})[】\]〕］]|(?P<h>{_HEADING_ALT})(?P<colon>\s*[:：﹕])?)"
    rf"\s*(?(h)|[:：﹕]?)\s*(?P<rest>.*?){_MARKS}$")
_HEADING_START = re.compile(rf"^{_MARKS}[【\[〔［]?(?:{_HEADING_ALT})")
_LIST_MARK = re.compile(r"^(?:[-–—•·●○◆◇■□▪▶►>*＊]|\d{1,2}\s*[.、)）]|[（(]\d{1,2}[)）])\s*")
# Patterns below are Simplified only: they are matched on the line folded one
# character at a time (``simplified_chars``: same length, same offsets).
_PHOTO_LABEL = r"(?:图片|照片|图像)(?:来源|提供|来自)|图源"
_PHOTO_HINT = re.compile("[图圖照]")  # every photo label holds one: other lines are not folded
_PHOTO = re.compile(rf"(?:(?<=^)|(?<=[。！？!?；;）)】」』\s]))(?P<open>[（(【\[])?\s*(?:{_PHOTO_LABEL})\s*[:：﹕]\s*")
_CREDIT_STOP = re.compile(r"[。，；！？、\u3000]| {2,}|$")
_CLOSE = {"（": "）", "(": ")", "【": "】", "[": "]"}
# Where a sentence glued to a credit starts (chosen, not measured): a
# reporting verb after 据, a time word, a connective, or a date.
_OPENER = re.compile(
    r"据(?:介绍|了解|悉|报道|报导|统计|称|说|新华社|媒体|官方|消息|记者|调查|通报|初步|报)"
    r"|近日|日前|今天|今日|昨天|昨日|当天|当日|目前|此前|此外|另外|另据|同时|随后"
    r"|与此同时|本报讯|\d{1,2}月\d{1,2}日")
_WHOLE_QUOTE = re.compile(r"^[「『“\"].*[」』”\"]$")
# What gives a short line the form of a listed headline rather than a
# subheading or a line of the story: two parts set apart by a space
# (醫管局外判請護士　中介公司為兩大集團), a tag in 【】 / 《》, a bar.
_HEADLINE_FORM = re.compile(r"\S[ \u3000]+\S|【[^】]+】|《[^》]+》|[|｜]")


@dataclass(frozen=True)
class Removal:
    """One piece taken out of a body: ``kind`` is ``"photo_credit"``,
    ``"related_list"`` (a heading and the headlines under it) or
    ``"related_link"`` (a heading and one headline on one line);
    ``lines``: whole lines removed (0 for a credit inside a line);
    ``chars``: characters removed."""

    kind: str
    lines: int
    chars: int


@dataclass
class Stripped:
    """``strip``'s answer: the ``body`` without furniture, the
    ``photo_credits`` found (text order, distinct) and what was ``removed``."""

    body: str
    photo_credits: list[str] = field(default_factory=list)
    removed: list[Removal] = field(default_factory=list)


_folded = simplified_chars  # ``line`` with each character in its Simplified form (same length)


def _headline_text(text: str) -> bool:
    """Could ``text`` be a headline: short, no ``。``, not ending as a clause
    does (``：，；、``), not a credit, source or photo credit line
    (``bylines.is_credit_line``, ``_photo_credit_line``)?"""
    text = text.strip()
    return (0 < len(text) <= MAX_HEADLINE and "。" not in text
            and not text.endswith(("：", ":", "，", ",", "；", ";", "、")) and not is_credit_line(text)
            and not _photo_credit_line(text))


def _photo_credit_line(text: str) -> bool:
    """Does ``text`` hold a photo credit (图片来源：…)?  It ends a list like
    any credit, and its credit goes to the metadata."""
    return bool(_PHOTO_HINT.search(text)) and _PHOTO.search(_folded(text)) is not None


def _headline_like(line: str) -> bool:
    """Has ``line`` (a whole line, list mark included) the shape of a listed
    headline: ``_headline_text``, and not a quotation alone (``「……」``, a
    pull quote of the story) unless list-marked?"""
    text = line.strip()
    item = _LIST_MARK.sub("", text).strip()
    return _headline_text(item) and (bool(_LIST_MARK.match(text)) or not _WHOLE_QUOTE.match(item))


def _headline_form(line: str) -> bool:
    """The stricter shape asked of the items of a list that prose follows
    (where a subheading, a question or a quote may open the next part of the
    story): headline-shaped, and list-marked or in a headline's form
    (``_HEADLINE_FORM``); a line ending ``？`` ``！`` or a quote needs the
    mark, a space between parts or a tag, not a colon alone."""
    text = line.strip()
    if not _headline_like(text):
        return False
    return bool(_LIST_MARK.match(text) or _HEADLINE_FORM.search(_LIST_MARK.sub("", text)))


def _heading(line: str):
    """(is a heading line, the headline on it or "") for a line; (False, None)
    when the line is no heading.  Only short prefixes are folded: headings
    start the line."""
    if not _HEADING_START.match(_folded(line[:16])):
        return False, None
    m = _HEADING_LINE.match(_folded(line))
    if not m:
        return False, None
    rest = line[m.start("rest"):m.end("rest")].strip() if m.group("rest") else ""
    if not rest:
        return True, ""
    # a heading word that starts prose ("相關新聞如煙花般綻放") has no
    # colon or bracket before the rest: not a heading
    if m.group("h") and not m.group("colon"):
        return False, None
    return (True, rest) if _headline_text(rest) else (False, None)


def _photo_credits(line: str) -> tuple[str, list[str], int]:
    """``line`` without its photo credits, the credits, and the characters removed."""
    credits: list[str] = []
    if not _PHOTO_HINT.search(line):
        return line.strip(), credits, 0
    folded = _folded(line)  # patterns match the folded line; text is cut from ``line``
    out, pos, removed = [], 0, 0
    for m in _PHOTO.finditer(folded):
        if m.start() < pos:
            continue
        start = m.end()
        stop = _CREDIT_STOP.search(line, start)
        end = stop.start()
        opener = _OPENER.search(folded, start + 1, end)  # a credit has at least one character
        if opener:
            end = opener.start()
        close = _CLOSE.get(m.group("open") or "")
        if close:  # the bracket's content ends the credit: （圖片來源：某某Facebook)
            closing = min((i for i in (line.find(close, start), line.find(")" if close == "）" else "）", start))
                           if i != -1), default=-1)
            if closing == -1 or closing > stop.start() + 1:
                continue
            end = closing
        credit = line[start:end].strip(" \t,.;:·")
        if len(credit) < MIN_CREDIT or len(credit) > MAX_CREDIT:
            if not credit and end == len(line.rstrip()):  # a bare label at the end of the line
                out.append(line[pos:m.start()])
                removed += len(line) - m.start()
                pos = len(line)
            continue
        cut_end = end + 1 if close else end
        if not close and not opener and cut_end < len(line) and line[cut_end] in "。；，":
            cut_end += 1  # the credit's own full stop
        out.append(line[pos:m.start()])
        removed += cut_end - m.start()
        pos = cut_end
        if credit not in credits:
            credits.append(credit)
    out.append(line[pos:])
    return "".join(out).strip(), credits, removed


def _list_end(lines: list[str], start: int) -> int:
    """Where the list whose first item is ``lines[start]`` ends (an index into
    ``lines``): at the first line that is not headline-shaped (``_headline_like``;
    further headings continue the list).  When prose follows the list (it is
    mid-body, not ended by the body's end or a credit line), its items must
    also have a headline's form (``_headline_form``): the list ends at the
    first line that has not, so a subheading, a question or a quote that opens
    the next part of the story stays."""
    def end(shape) -> int:
        j = start
        while j < len(lines) and (_heading(lines[j].strip())[0] or shape(lines[j])):
            j += 1
        return j

    j = end(_headline_like)
    if j < len(lines) and not is_credit_line(lines[j]):
        j = end(_headline_form)
    return j


def strip(body: str) -> Stripped:
    """``body`` (paragraphs on their own lines, as ``clean.clean_text``
    gives it) without photo credits, related-story lists and related-story
    links; see the module's docstring for the rules.  Never raises."""
    result = Stripped(body="")
    kept: list[str] = []
    lines = body.split("\n") if body else []
    i = 0
    while i < len(lines):
        line = lines[i]
        is_heading, rest = _heading(line.strip())
        if is_heading and rest:
            result.removed.append(Removal("related_link", 1, len(line)))
            i += 1
            continue
        if is_heading:
            j = _list_end(lines, i + 1)
            result.removed.append(Removal("related_list", j - i, sum(len(x) for x in lines[i:j])))
            i = j
            continue
        text, credits, removed = _photo_credits(line)
        if credits or removed:
            result.removed.append(Removal("photo_credit", 0 if text else 1, removed))
            result.photo_credits.extend(c for c in credits if c not in result.photo_credits)
        if text:
            kept.append(text)
        i += 1
    result.body = "\n".join(kept)
    return result


__all__ = ["HEADINGS", "MAX_CREDIT", "MAX_HEADLINE", "MIN_CREDIT", "Removal", "Stripped", "strip"]
