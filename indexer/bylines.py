"""Bylines and datelines found in the text of Chinese news articles.

Many records carry no ``author`` (all of CCTV 新闻联播) although the text
names the people the outlet credited: a reporter's stand-up line
(``本台记者 李某：…``), an agency or newspaper dateline
(``新华社北京5月3日电（记者 李某）``, ``本报北京11月28日电（记者 李某 通讯员 王某）``),
a report line (``本报记者 李某 报道：…``, ``通讯员 王某 记者 李某 报道``), an
editor line (``（视频编辑：甲 文字编辑：乙）``) or a credit line or block
(``文／某某``, ``主筆 | 某某``, ``【撰文：註冊藥劑師某某】``, ``【撰文：某某／攝影：某某】``).
``extract`` reads those; ``is_credit_line`` says whether one line is such a
credit (the page-furniture cleaning, ``furniture.strip``, asks it so that it
never deletes one); ``enrich`` fills an article's empty ``author`` /
``source`` from them and never replaces a value the record carries.  A
dateline's place and day (``北京``, ``11月28日``) go to ``Credits.place`` /
``Credits.date``, never to the names.

Precision matters more than recall here (a wrong author becomes a facet
value that users click), so:

* only structural places are read: the first and last paragraphs of the body
  (where bylines sit), plus paragraph *starts* anywhere for the CCTV stand-up
  line ``本台记者 某某：`` (the reporter speaks mid-report);
* a candidate must look like a Chinese name: 2-4 Han characters starting with
  a known surname (4 only for a compound surname or a Hong Kong double
  surname such as 陳方安生), with no function word or verb in it (the many
  ``记者从……获悉`` / ``接受记者采访`` sentences name nobody), or a
  transliteration with ``·`` (``迈克尔·某某``);
* in a labelled credit line (``撰文：`` ``文／`` ``記者：`` ...), where the
  label already says a person follows, a title after the name (``師傅 醫生
  博士 姑娘``) and a descriptor before it ending in a job or office
  (``註冊藥劑師`` ``區議員`` ``專科``) are dropped, and what is left must still
  pass the name check; nowhere else;
* a report line is read only at a paragraph start or as a bracketed group
  (``据记者某某报道`` inside prose is a source, not a byline);
* Latin-script names (``Lewis Wong``) and pen names without a surname are
  skipped, and per-photo captions (``某某攝``) are not article credits.

Measured on 392 hand-labelled records of both corpora
(``eval/bylines_gold.py``): precision 1.0 and recall 0.926 per name before
the report-line, slash-label and title rules, 1.0 / 1.0 after (on the sample
that showed the misses; over the full corpora the new rules add 388 names,
drop one pen name (吳君), and a read sample of 60 of them was all correct).

Editors and photographers are credits (``（视频编辑：… 文字编辑：…）``,
``（责任编辑：…）``, ``攝影：…``), each kept with its role in
``Credits.found``, but never an article's ``author``: ``enrich`` fills the
author only from the roles in ``AUTHOR_ROLES`` (who reported or wrote the
story), since an editor shown as the byline is a wrong byline, and a wrong
byline is worse than none.

Only the standard library's ``re`` is used; the name check itself (surnames,
titles, the Traditional fold) is ``indexer/person_names.py``.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from search.models import Article
from .person_names import HAN, clean_name, split_names

#: Joins several names in ``Article.author``: the hkcnews records already
#: write co-authors that way (``記者林勵、鄭靖而``).
AUTHOR_SEPARATOR = "、"

HEAD_PARAGRAPHS = 3  # bylines and datelines sit in the first paragraphs ... (chosen, not measured)
TAIL_PARAGRAPHS = 3  # ... and credit / editor lines in the last ones
MAX_CREDIT_LINE = 120  # characters: an unbracketed credit line is short; longer is prose (chosen, not measured)


@dataclass(frozen=True)
class Credit:
    """One credited name, with how it was found (for evaluation and callers)."""

    name: str
    role: str  # reporter, correspondent, editor, writer, photographer, translator, contributor
    kind: str  # which pattern: standup, dateline, credit_line, editor_line, reporter_report


@dataclass(frozen=True)
class Credits:
    """What the text says about who made the article and where it came from."""

    authors: tuple[str, ...] = ()  # distinct names in text order
    source: str | None = None  # agency / outlet named by a dateline or lead
    dateline: str | None = None  # e.g. "新华社北京5月3日电"
    found: tuple[Credit, ...] = ()  # the names again, each with role and pattern
    place: str | None = None  # where the dateline says the story was filed ("北京"); never a person
    date: str | None = None  # the dateline's day as written ("5月3日", "3日")


# ---------------------------------------------------------------------------
# Patterns
# ---------------------------------------------------------------------------

# CCTV lead: "央视网消息（新闻联播）：" (an outlet label, not a byline).
_LEAD = re.compile(r"^\s*(?P<outlet>央视网|央視網|新华网|新華網|人民网|人民網|中新网|中新網|央广网|央廣網)?"
                   r"消息\s*(?:[（(]新闻联播[)）])?\s*[：:]\s*")

# Agency dateline at the start of the body:
#   新华社北京5月3日电（记者 李某）    新華社香港11月25日電    本报讯（记者 李某）
_AGENCY = (r"新华社|新華社|中新社|中新网|中新網|中通社|路透社|法新社|美联社|美聯社|共同社|塔斯社|"
           r"韩联社|韓聯社|德新社|埃菲社|安莎社|人民网|人民網|央视网|央視網")
_NUM = r"(?:\d{1,2}|[一二三四五六七八九十]{1,3})"
# The place is what lies between the outlet and the date (本报北京11月28日电:
# 北京); 本报讯 has neither.
_DATELINE = re.compile(
    r"^(?:"
    rf"(?P<dateline>(?P<agency>{_AGENCY})(?P<place>[{HAN}]{{0,10}}?)(?P<date>(?:{_NUM}月)?{_NUM}日)[电電讯訊])"
    rf"|(?P<ourdateline>(?:本报|本報)(?:(?P<ourplace>[{HAN}]{{0,10}}?)(?P<ourdate>(?:{_NUM}月)?{_NUM}日)[电電讯訊]|[讯訊]))"
    r")\s*(?:[（(](?P<credit>[^（()）\n]{1,60})[)）])?"
)

# Role labels of credit lines and dateline parentheses.
_ROLES = {
    "reporter": r"(?:本报|本報|本台|央视|央視|总台|總台|特约|特約|实习|實習|见习|見習)?[记記]者|采访|採訪|訪問",
    "correspondent": r"(?:本报|本報|特约|特約)?(?:通[讯訊]员|通訊員)|实习生|實習生",
    "editor": r"(?:视频|視頻|文字|责任|責任)?[编編][辑輯]",
    "writer": r"撰文|撰稿|譔稿|文字|主笔|主筆|文",
    "photographer": r"[摄攝]影|[摄攝]像|[摄攝]錄|(?:插|繪|绘)?[图圖]",  # photos, pictures, illustrations
    "translator": r"(?:中文)?[翻][译譯]",
    "contributor": r"协力|協力",
}
_ROLE_ALT = "|".join(f"(?P<{k}>{v})" for k, v in _ROLES.items())
_ROLE_LABEL = re.compile(  # one label, or combined ones like 文／圖 or 撰文、攝影;
    # never right after a Han character: in 陳大文／攝影： the label is 攝影, not 文／攝影
    rf"(?<![{HAN}])(?:{_ROLE_ALT})(?:[／/、及&＆](?:{'|'.join(_ROLES.values())}))*"
    r"(?P<sep>\s*[：:／/|｜]\s*|[ \t\u3000]+)"  # 文：某 / 文／某 / 文/某 / 主筆 | 某 / 記者 某
)

# Inside a dateline's parentheses the label may touch the name: （记者周某）.
_TIGHT_LABEL = re.compile(rf"(?:(?P<reporter>{_ROLES['reporter']})|(?P<correspondent>{_ROLES['correspondent']}))"
                          r"(?P<sep>\s*[：:]?\s*)")

# CCTV stand-up / caption line at a paragraph start, anywhere in the body:
#   本台记者 李某：我现在……    央视记者孙某：“……”    本台记者　张某
# Only the broadcaster's own reporters (本台 央视 总台 X台, or bare 记者), and
# the name must be followed by a colon or end the paragraph.  Foreign
# reporters asking questions (俄罗斯塔斯社记者 某某：) are not credits.
_STANDUP = re.compile(
    rf"^(?P<prefix>(?:本台|我台|央视|央視|总台|總台|总台央视|[{HAN}]{{2,3}}台|本报|本報)?"
    rf"(?:驻[{HAN}]{{1,6}}|駐[{HAN}]{{1,6}})?(?:特约|特約|见习|見習|实习|實習)?)(?P<ji>[记記])者"
    r"[ \t\u3000]*(?P<names>[^：:，,。；;！？!?“”\"「」（）()\n]{2,30}?)[ \t\u3000]*"
    r"(?P<tail>(?:[（(][^（()）\n]{0,40}[)）])?[ \t\u3000]*[：:]|$)"  # "本台记者 某某(地点：…)："
)
# In the Hong Kong corpus a bare "記者某某：" is a subheading quoting someone
# (記者陳某：唔捨得……), not a stand-up; there only a paragraph holding
# nothing but "記者 某某" is a byline.


def _standup_names(paragraph: str) -> list[str]:
    m = _STANDUP.match(paragraph)
    if not m:
        return []
    if not m.group("prefix") and m.group("ji") == "記" and m.group("tail"):
        return []
    return split_names(m.group("names"), strict=True) or []


# "记者 李某 报道" / "（本报记者李某、王某报道）" / "本报记者 李某 报道：正文" /
# "通讯员 甲 记者 乙 报道" as a unit of its own: at a paragraph start or a
# bracketed group, ending the paragraph or the group, or followed by a colon
# and the story.  Each name takes the role of the label before it.  A
# broadcaster's "央视记者巴格达报道" is a sign-off naming a place, so 本台 /
# 央视 / 总台 are not accepted here, and the shape is not read inside prose
# (据记者王某报道 is a source, not a byline).
_REPORT_LABEL = r"(?:本报|本報|特约|特約)?(?:[记記]者|通[讯訊]员|通訊員)"
_REPORT_NAMES = rf"[{HAN}·・]{{2,16}}(?:[、 \t\u3000][{HAN}·・]{{2,16}})*?"
_REPORTS = re.compile(
    rf"(?:^|[（(【\[])[ \t\u3000]*(?P<credit>{_REPORT_LABEL}[ \t\u3000]*{_REPORT_NAMES}"
    rf"(?:[ \t\u3000]*{_REPORT_LABEL}[ \t\u3000]*{_REPORT_NAMES})*)[ \t\u3000]*[报報][道導]"
    r"[ \t\u3000]*(?:[）)】\]]|[。.]?$|[：:])"
)

# Bracketed groups that may hold a credit: 【…】 […] （…） (…), with at most
# one level of parentheses inside (【撰文：李某 (Billy Li)】).
_BRACKETED = re.compile(r"[【\[（(](?P<inner>(?:[^【】\[\]（）()\n]|[（(][^【】\[\]（）()\n]*[)）]){2,120})[】\]）)]")


# A credit ending in 摄 / 攝 / 拍摄 (记者 周某 摄) names who took the photo.
_SHOT_BY = re.compile(r"[ \t\u3000]*(?:拍[摄攝]|[摄攝]|[摄攝]影)[ \t\u3000]*$")


def _parse_roles(text: str, *, bracketed: bool, tight: bool = False) -> list[tuple[str, str]] | None:
    """``视频编辑：甲 文字编辑：乙`` -> [(甲, editor), (乙, editor)].

    The text must start with a role label; the names are what lies between
    labels.  ``tight``: only reporter labels, which may touch the name
    (dateline parentheses).  Returns None if the text is not a credit."""
    text = text.strip()
    labels = list((_TIGHT_LABEL if tight else _ROLE_LABEL).finditer(text))
    if not labels or labels[0].start() != 0:
        return None
    out: list[tuple[str, str]] = []
    for i, m in enumerate(labels):
        role = next(k for k in _ROLES if k in m.groupdict() and m.group(k))
        if role == "writer" and m.group("writer") == "文" and not bracketed and not m.group("sep").strip():
            return None  # a bare "文 …" line is prose
        end = labels[i + 1].start() if i + 1 < len(labels) else len(text)
        chunk = text[m.end():end]
        shot = _SHOT_BY.search(chunk)
        if shot:  # 记者 周某 摄: the reporter took the photo; this credit is for the photo
            chunk, role = chunk[:shot.start()], "photographer"
        names = split_names(chunk, strict=not bracketed, described=not tight)
        if names is None:
            return None
        out.extend((n, role) for n in names)
    return out


def _credit_blocks(paragraph: str):
    """Candidate credit texts of one head/tail paragraph: bracketed groups,
    and the paragraph itself when it is a short unbracketed credit line."""
    for m in _BRACKETED.finditer(paragraph):
        yield m.group("inner"), True
    if len(paragraph) <= MAX_CREDIT_LINE and paragraph[:1] not in "【[（(":
        yield paragraph, False


# "作者：" is only trusted inside 【】 / [] (unbracketed, "作者：某某 某某出版社"
# names the author of a book under review), so it is not among _ROLES.
_AUTHOR_IN_BRACKETS = re.compile(r"[【\[]\s*作者\s*[：:]\s*(?P<names>[^】\]\n]{2,40})[】\]]")


def extract(title: str, body: str) -> Credits:
    """Credits stated in an article's text: a ``Credits`` with ``authors``
    (distinct names, text order, Traditional kept as written), ``found`` (the
    same names with role and pattern), ``source`` (an agency or outlet
    named by a lead or dateline), ``dateline`` / ``place`` / ``date`` (strings
    as written, or None).  ``body`` is plain text with ``\n`` between
    paragraphs; empty text gives an empty ``Credits``.  Raises nothing.

    ``title`` is accepted for symmetry with the record; headlines in our
    corpora carry column labels (记者调查：…) but never a byline, so it is not
    searched for names."""
    del title  # see docstring
    paragraphs = [p.strip() for p in (body or "").split("\n") if p.strip()]
    if not paragraphs:
        return Credits()
    found: list[Credit] = []
    source = dateline = place = date = None

    first = paragraphs[0]
    lead = _LEAD.match(first)
    if lead:
        if lead.group("outlet"):
            source = lead.group("outlet")
        first = first[lead.end():]
    paragraphs[0] = first

    # 1. agency dateline opening the body
    m = _DATELINE.match(first)
    if m:
        dateline = m.group("dateline") or m.group("ourdateline")
        place = m.group("place") or m.group("ourplace") or None
        date = m.group("date") or m.group("ourdate")
        if m.group("agency") not in (None, "本报", "本報"):
            source = m.group("agency")
        if m.group("credit"):
            for name, role in _parse_roles(m.group("credit"), bracketed=True, tight=True) or ():
                found.append(Credit(name, role, "dateline"))

    # 2. stand-up / caption lines at any paragraph start
    for p in paragraphs:
        for name in _standup_names(p):
            found.append(Credit(name, "reporter", "standup"))

    n = len(paragraphs)
    edge = sorted(set(range(min(HEAD_PARAGRAPHS, n))) | set(range(max(0, n - TAIL_PARAGRAPHS), n)))
    for i in edge:
        p = paragraphs[i]
        # 3. "记者 某某 报道"
        for r in _REPORTS.finditer(p):
            for name, role in _parse_roles(r.group("credit"), bracketed=False, tight=True) or ():
                found.append(Credit(name, role, "reporter_report"))
        # 4. credit lines and editor lines
        for block, bracketed in _credit_blocks(p):
            parsed = _parse_roles(block, bracketed=bracketed)
            if parsed:
                kind = "editor_line" if all(r == "editor" for _, r in parsed) else "credit_line"
                found.extend(Credit(name, role, kind) for name, role in parsed)
        for a in _AUTHOR_IN_BRACKETS.finditer(p):
            for name in split_names(a.group("names"), strict=False, described=True) or ():
                found.append(Credit(name, "writer", "credit_line"))

    seen: dict[str, None] = {}
    unique: list[Credit] = []
    for c in found:
        if c.name not in seen:
            seen[c.name] = None
            unique.append(c)
    return Credits(authors=tuple(seen), source=source, dateline=dateline, found=tuple(unique),
                   place=place, date=date)


# A labelled line that credits someone even when the name is not read as one
# (a Latin-script name, a pen name) or names a source: 記者 Lewis Wong,
# （來源：某報）.  Any role label of ``_ROLES`` (or 来源 / 出处) at the line's
# start, after an optional bracket, followed by a colon, slash or bar.
_LABELLED_LINE = re.compile(
    rf"^[（(【\[〔［]?[ \t\u3000]*(?:(?:{'|'.join(_ROLES.values())}|[来來]源|出[处處]|作者)"
    r"(?:[／/、及&＆](?:" + "|".join(_ROLES.values()) + r"))*)[ \t\u3000]*[：:／/|｜]")


def is_credit_line(line: str) -> bool:
    """Is ``line`` (one paragraph, either script) a credit or source line:
    one that ``extract`` reads a name from when it stands alone (``文／李明``,
    ``主筆 | 李明``, ``記者 李明``, ``（本报记者 李明 报道）``, ``撰稿：李明``,
    ``（责任编辑：易佳）``), or a line starting with a role / source label and a
    colon, slash or bar (``記者：Lewis Wong``, ``（來源：某報）``)?  The one
    recogniser shared with the page-furniture cleaning (``furniture.strip``
    never deletes such a line).  Raises nothing."""
    text = (line or "").strip()
    if not text:
        return False
    if _LABELLED_LINE.match(text):
        return True
    return bool(extract("", text).found)


#: The roles whose names become an article's author: who reported or wrote it.
AUTHOR_ROLES = ("reporter", "correspondent", "writer")


def enrich(article: Article, credits: Credits | None = None) -> Article:
    """A copy of ``article`` with ``author`` / ``source`` filled from the text
    where the record has none: the names credited in an ``AUTHOR_ROLES``
    role, in text order (an editor or photographer alone gives none).  A
    value the record carries is never replaced (the outlet's own metadata
    beats our reading of the text)."""
    if credits is None:
        credits = extract(article.title, article.body)
    changes = {}
    authors = list(dict.fromkeys(c.name for c in credits.found if c.role in AUTHOR_ROLES))
    if not (article.author or "").strip() and authors:
        changes["author"] = AUTHOR_SEPARATOR.join(authors)
    if not (article.source or "").strip() and credits.source:
        changes["source"] = credits.source
    return dataclasses.replace(article, **changes)


__all__ = ["AUTHOR_ROLES", "AUTHOR_SEPARATOR", "Credit", "Credits", "clean_name", "enrich", "extract", "is_credit_line"]
