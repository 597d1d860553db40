"""Is this a Chinese person's name?  The name check of the byline extractor
(``indexer/bylines.py``): a known surname, 2-4 Han characters (4 only for a
compound or a Hong Kong double surname), no function word or verb inside,
or a transliteration joined by ``·``; honorifics, titles after a name and
job descriptors before it are stripped where a credit label says a person
follows.

Traditional names are checked against the Simplified lists (surnames,
stop words, honorifics, titles) through the project's OpenCC fold
(``simplified``: same length as the name, so offsets found on the fold cut
the name as written); no list holds Traditional forms of its own.  Only the
standard library's ``re`` is used.
"""

from __future__ import annotations

import functools
import re

from search.normalize import simplified_chars, to_simplified

# Common surnames (Simplified; Traditional names are folded before the check).
# Surnames that are everyday function words or verbs (但 由 都 来 和 时 ...) are
# left out on purpose: they begin many false "names" like 来到 or 时间.  于 and
# 向 stay (too common as surnames); the colon / line-end rules of the patterns
# keep "记者于今天……" and "记者向某某提问" out.
SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖萧田董"
    "袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟"
    "熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文"
    "牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒"
    "阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈"
    "饶解牟艾尤阳穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗"
    "瞿桂佟臧闵苟邬边卞姬师仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩佘池查麻苑迟邝官"
    "封谈匡鞠惠荆乐冀郁胥班储栗燕楚鄢劳谌奚皮粟冼蔺楼闻厉伊仝区郜阚权帅屠朴盖"
    "廉禹祖漆巴丰卿狄晋芮扈晁阙浦戈伏鹿薄邸雍辜裘亓邰赫杭况宿逯隆茹诸慕危银亢"
    "嵇湛宾戎勾茅揭尉冶檀昝幸奉衡尧见骞凤洪鄂鄞阴练井"
)
COMPOUND_SURNAMES = frozenset(
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 令狐 司徒 夏侯 轩辕 端木 独孤 南宫"
    " 西门 长孙 宇文 呼延 申屠 太史 澹台 公羊 万俟 闻人 钟离 濮阳 淳于 单于".split()
)

# Words that never occur inside a credited name but fill the 记者 sentences:
# 记者从国家医保局获悉 / 记者了解到 / 接受记者采访 / 记者在现场看到 ...
# (checked on the Simplified form, so 從 / 獲悉 / 採訪 are caught too).
STOP_WORDS = (
    "获悉", "了解", "看到", "采访", "专访", "提问", "表示", "发现", "走进", "跟随",
    "报道", "发回", "来到", "前往", "介绍", "告诉", "今天", "昨天", "近日", "日前",
    "当天", "现场", "出镜", "连线", "调查", "体验", "观察", "探访", "注意", "记者",
    "编辑", "通讯", "摄影", "撰文", "翻译", "新闻", "读者", "作者", "网友", "市民",
    "中心", "集团", "公司", "大学", "学生", "团队", "协会", "政府", "委员", "研究",
    "社工", "注册",
)
# Single characters that are function words or pronouns: rejected anywhere
# after the surname (从 在 了 ...).
STOP_CHARS = frozenset("从在了到对把被的是与及也都就又还已这那们您我你他她说称问吗呢吧啊将为向于和等")
# Institution and place suffixes (社 台 网 部 局 市 镇 ...; 林記 鹿米館: shops):
# rejected as a token's last character, or before 长 (王镇长 is a title).
# Inside a name they are ordinary characters (黃鎮忠, 周村英); a name ending
# in one (李國台) is still lost, the price of precision.
SUFFIX_CHARS = frozenset("社台网报部局厅署委办组团队协盟省市县州镇村馆店记")

HAN = "\u3400-\u9fff\uf900-\ufaff"
_DOTS = re.compile("[・•‧･∙⋅]")  # other middle dots used in transliterations
_HAN_NAME = re.compile(f"[{HAN}]{{2,4}}")
_FOREIGN_NAME = re.compile(f"[{HAN}]{{1,8}}(?:·[{HAN}]{{1,8}}){{1,3}}")
_LATIN_TOKEN = re.compile(r"[A-Za-z][A-Za-z.'’\-]*")

# Job titles that may precede a name in a credit: "實習記者陳某" -> "陳某".
_TITLE_PREFIX = re.compile(
    r"^.*?(?:见习记者|見習記者|实习记者|實習記者|特约记者|特約記者|记者|記者|主笔|主筆|编辑|編輯|"
    r"主任|工程师|工程師|研究员|研究員|特派员|特派員|律师|律師|医生|醫生|教授)"
)


@functools.lru_cache(maxsize=65536)
def simplified(text: str) -> str:
    """``text`` folded to Simplified for the name checks, always of
    ``text``'s length: OpenCC's conversion of the whole text, or one
    character at a time when that changes the length (a phrase mapping
    would misalign the characters checked)."""
    converted = to_simplified(text)
    return converted if len(converted) == len(text) else simplified_chars(text)


# "劉先生", "黎太": a surname and an honorific is how some readers sign, but
# it is no name (and would merge every Mr Lau into one facet value).
# Simplified only: checked on the folded name (劉師傅 -> 刘师傅).
_HONORIFICS = ("先生", "小姐", "女士", "太太", "师傅", "老师", "妈妈", "爸爸", "婆婆",
               "伯伯", "博士", "医生", "教授", "律师", "太", "生", "姐", "哥", "伯", "婆", "嫂", "仔",
               "君")  # 吳君: "Mr Ng", a pen name


def clean_name(token: str) -> str | None:
    """The name in ``token`` if it is one, else None (see module docstring)."""
    token = _DOTS.sub("·", token.strip())
    if "·" in token:
        if not _FOREIGN_NAME.fullmatch(token) or len(token) > 16:
            return None
        simple = simplified(token.replace("·", ""))
        if any(w in simple for w in STOP_WORDS) or any(c in STOP_CHARS | SUFFIX_CHARS for c in simple):
            return None  # 註冊社工小·社工 is a pen name, not a transliteration
        return token
    if not _HAN_NAME.fullmatch(token):
        return None
    simple = simplified(token)
    if any(w in simple for w in STOP_WORDS) or any(c in STOP_CHARS for c in simple[1:]):
        return None
    if simple[-1] in SUFFIX_CHARS or (simple[-1] == "长" and simple[-2] in SUFFIX_CHARS):
        return None
    for h in _HONORIFICS:
        rest = simple[: -len(h)]
        if simple.endswith(h) and (rest in SURNAMES or rest in COMPOUND_SURNAMES):
            return None
    if len(simple) >= 3 and simple[:2] in COMPOUND_SURNAMES:
        return token
    if simple[0] not in SURNAMES:
        return None
    if len(simple) == 4 and simple[1] not in SURNAMES:  # only 陳方安生-style double surnames
        return None
    return token


# Titles and honorifics written after a name in a credit: 張某師傅, 吳某醫生,
# 馮某博士 (the name stays; a surname alone with one is no name: 朱老師).
# Simplified only: compared with the folded token (張某師傅 -> 张某师傅).
_TRAILING_TITLES = ("医生", "医师", "师傅", "姑娘", "博士", "教授", "律师",
                    "牧师", "神父", "先生", "女士", "小姐", "老师", "议员")
# What a descriptor before a name ends with: a job or office (註冊藥劑師劉某,
# 深水埗區議員何某, 專科吳某, 前主席陳某), checked on the Simplified form.
_DESCRIPTOR_END = re.compile(r"(?:师|员|长|科|生|士|家|人|者|席|事|官|授|委|导|编|笔)$")


def _strip_title(token: str, *, described: bool = False) -> str:
    """``實習記者陳某`` -> ``陳某`` when what follows the title is a name.

    ``described`` (labelled credit lines only, where the label already says
    a person follows): also drop a title after the name (``張某師傅``) and a
    descriptor before it that ends in a job or office (``註冊藥劑師劉某``);
    what is left must pass ``clean_name``."""
    m = _TITLE_PREFIX.match(token)
    if m and clean_name(token[m.end():]):
        return token[m.end():]
    if not described:
        return token
    core = token
    simple = simplified(token)  # same length: its offsets are the token's
    for title in _TRAILING_TITLES:
        if simple.endswith(title) and len(core) > len(title) + 1:
            core = core[: -len(title)]
            break
    if clean_name(core):
        return core
    for n in (3, 2):  # the name ends the token; prefer the longer reading
        if len(core) > n + 1 and clean_name(core[-n:]) and _DESCRIPTOR_END.search(simplified(core[:-n])):
            return core[-n:]
    return token


# Separators between names in one credit: 、，, / spaces & and.
_NAME_SPLIT = re.compile(r"[、，,;；／/|｜&＆\s]+")
# A parenthetical after a name: 李某 (Billy Li), 陳某（攝影）.
_PARENTHETICAL = re.compile(r"[（(][^（()）\n]*[)）]")


def split_names(text: str, *, strict: bool, described: bool = False) -> list[str] | None:
    """Split a list of names.  Latin tokens and parentheticals are skipped
    (not judged); any other token that is no name makes the whole list
    invalid (None) when ``strict``, and is dropped otherwise.  ``described``:
    see ``_strip_title``."""
    names = []
    for token in _NAME_SPLIT.split(_PARENTHETICAL.sub(" ", text).strip(" \t\u3000：:。.")):
        if not token or _LATIN_TOKEN.fullmatch(token):
            continue
        name = clean_name(_strip_title(token, described=described))
        if name:
            names.append(name)
        elif strict:
            return None
    return names
