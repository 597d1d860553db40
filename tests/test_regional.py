"""The regional vocabulary table (search/regional.py, data made by
tools/build_regional_variants.py): both directions, whole words only, and
never an alternative that would rewrite mainland text, checked on the
sample's real CCTV and Hong Kong articles."""

import importlib.util
import json
import os

import pytest

from conftest import ROOT
from search import regional
from search.regional import alternatives


def tool():
    spec = importlib.util.spec_from_file_location("build_regional_variants",
                                                  os.path.join(ROOT, "tools", "build_regional_variants.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def groups():
    """The table's groups as written (comments left out)."""
    out = []
    with open(regional.VARIANTS_PATH, encoding="utf-8") as f:
        for line in f:
            fields = []
            for field in line.rstrip("\n").split("\t"):
                if field.startswith("#"):
                    break
                fields.append(field)
            if fields and fields != [""]:
                out.append(fields)
    return out


@pytest.mark.parametrize("regional_form, mainland", [
    ("软体", "软件"), ("网际网路", "互联网"), ("川普", "特朗普"), ("欧巴马", "奥巴马"), ("普丁", "普京"),
    ("雪梨", "悉尼"), ("纽西兰", "新西兰"), ("硬体", "硬件"), ("义大利", "意大利"), ("肯亚", "肯尼亚"),
    ("北卡罗莱纳", "北卡罗来纳"), ("文翠珊", "特蕾莎·梅"), ("质素", "质量")])
def test_alternatives_both_ways(regional_form, mainland):
    assert mainland in alternatives(regional_form)
    assert regional_form in alternatives(mainland)


def test_the_issue_examples_exactly():
    assert alternatives("软体") == ("软件",)
    assert alternatives("软件") == ("软体",)
    assert alternatives("川普") == ("特朗普",)
    assert alternatives("特朗普") == ("川普",)
    assert alternatives("网际网路")[0] == "互联网"
    assert alternatives("布什") == ("布殊", "布希")  # a group of three: each has the other two
    assert alternatives("布希") == ("布殊", "布什")


@pytest.mark.parametrize("word", ["软体动物", "建立", "文件", "核心", "创建", "文档", "内核", "消息", "程序",
                                  "互联网公司", "软件园", "特朗普政府", "香港", ""])
def test_no_alternatives_for_other_words(word):
    """Whole words only, and nothing for mainland words that OpenCC's
    Taiwan table maps to other mainland words (建立->创建, 文件->文档)."""
    assert alternatives(word) == ()


@pytest.mark.parametrize("word", ["创建", "文档", "内核", "文件", "建立", "核心", "消息", "地址"])
def test_mainland_words_are_never_an_alternative(word):
    """No word of the table leads to these: searching anything never adds
    them (the rewrites tw2sp made of CCTV text)."""
    table = regional.load()
    assert not [w for w, alts in table.items() if word in alts]


def test_input_must_be_normalised():
    """Traditional or upper-case input is not looked up: the caller folds
    query text first (search.normalize), as for every other lookup."""
    assert alternatives("網際網路") == () and alternatives("軟體") == ()
    assert alternatives("SQL注入") == () and alternatives("sql注入")


def test_the_table_is_in_index_form_and_symmetric():
    import opencc

    t2s = opencc.OpenCC("t2s")
    table = regional.load()
    assert len(table) > 1000
    for word, alts in table.items():
        assert word == word.lower() == t2s.convert(word), word
        assert alts and word not in alts
        for alt in alts:
            assert word in table[alt], (word, alt)


def test_every_line_comes_from_opencc_or_the_reviewed_hand_list():
    """Provenance: each OpenCC line is an entry of OpenCC's regional phrase
    tables (in index form), not excluded; each other line is HAND's."""
    t = tool()
    pairs = {(m, r) for m, r, _ in t.opencc_pairs()}
    hand = [(t.index_form(m), tuple(t.index_form(r) for r in rs)) for m, rs in t.HAND]
    hand_lines = [[*rs, m] for m, rs in hand]
    for g in groups():
        if g in hand_lines:
            continue
        assert len(g) == 2 and (g[1], g[0]) in pairs, g
        assert (g[1], g[0]) not in t.EXCLUDE, g
    assert all(line in groups() for line in hand_lines)


@pytest.fixture(scope="module")
def sample_words(sample_records):
    """Per script, the articles of the sample using each table form as whole
    words (starting and ending at jieba word boundaries)."""
    t = tool()
    forms = sorted({f for g in groups() for f in g})
    t._init(forms, [])
    out = {}
    for lang in ("zh-Hans", "zh-Hant"):
        lines = [json.dumps(r, ensure_ascii=False) for r in sample_records if r["lang"] == lang]
        out[lang], _ = t._count_batch(lines)
    return out


def test_no_regional_form_is_a_word_of_mainland_text(sample_words):
    """The sample's 1,000 CCTV items: not one uses a regional form of the
    table as a word, so no alternative adds a mainland article that does
    not have the mainland word itself."""
    regional_forms = {f for g in groups() for f in g[:-1]}
    assert {f: n for f, n in sample_words["zh-Hans"].items() if f in regional_forms} == {}
    mainland_forms = {g[-1] for g in groups()}
    assert sum(sample_words["zh-Hans"][f] > 0 for f in mainland_forms) >= 100


def test_hong_kong_articles_use_the_regional_forms(sample_words):
    """... while the sample's Hong Kong articles do (the table is about text we have)."""
    used = {f for f, n in sample_words["zh-Hant"].items() if n and f in {x for g in groups() for x in g[:-1]}}
    assert {"质素", "澳洲", "北韩", "的士", "网路", "纽西兰", "软体"} <= used


def test_malformed_tables_are_refused(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("# comment\n\n软体\t软件\t# a comment\n网路\t网络\n", encoding="utf-8")
    assert regional.load(str(path)) == {"软体": ("软件",), "软件": ("软体",), "网路": ("网络",), "网络": ("网路",)}
    path.write_text("软体\n", encoding="utf-8")
    with pytest.raises(ValueError, match="two different forms"):
        regional.load(str(path))
