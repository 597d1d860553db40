"""The query compiler (search/compiler.py) and the plan clauses
(search/plan.py): for each node type of the query tree, the clause it
compiles to (fields, grams, describe(), label(), needles()); every clause
class answering the clause protocol itself; the relaxation questions."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from search import plan, query as q
from search.query import tree
from search.analysis import Analyzer
from search.compiler import _COMPILE, FUNCTION_WORDS, QueryCompiler
from search.plan import (AllClause, AnyClause, Clause, LeadClause, MentionsClause, NearClause, PhraseClause,
                         ValueClause, WordClause)
from search.segmenter import get_segmenter

BOTH = ("title", "body")


@pytest.fixture(scope="module")
def compiler():
    return QueryCompiler(Analyzer(get_segmenter()))


def compiled(compiler, *nodes, must_not=(), fields="all"):
    return compiler.compile(q.Query(list(nodes), list(must_not)), fields)


# ---- one test per node type --------------------------------------------------------------
def test_words_compile_to_one_word_clause_per_content_word(compiler):
    must, must_not = compiled(compiler, q.Words("香港的选举"))
    assert must_not == []
    assert must == [WordClause("香港", [("香港", 0)], BOTH), WordClause("选举", [("选举", 0)], BOTH)]
    assert "的" in FUNCTION_WORDS  # dropped next to content words ...
    assert [c.describe() for c in must] == [{"op": "word", "text": "香港", "fields": ["title", "body"]},
                                           {"op": "word", "text": "选举", "fields": ["title", "body"]}]
    assert [c.label() for c in must] == ["香港", "选举"] and [c.needles() for c in must] == [["香港"], ["选举"]]
    # ... but kept when it is all there is.
    assert compiled(compiler, q.Words("的"))[0] == [WordClause("的", [("的", 0)], BOTH)]


def test_a_long_word_keeps_its_parts_and_grams(compiler):
    [clause], _ = compiled(compiler, q.Words("齐齐哈尔市"))
    assert clause.grams == [("齐齐", 0), ("齐哈", 1), ("哈尔", 2), ("尔市", 3)]
    assert clause.parts == ("齐齐", "哈尔") and clause.fields == BOTH and not clause.whole


def test_a_word_with_regional_alternatives_is_an_or_of_whole_words(compiler):
    [clause], _ = compiled(compiler, q.Words("软件"))
    assert clause == AnyClause([WordClause("软件", [("软件", 0)], BOTH),
                                WordClause("软体", [("软体", 0)], BOTH, whole=True)])
    assert clause.describe() == {"op": "or", "clauses": [
        {"op": "word", "text": "软件", "fields": ["title", "body"]},
        {"op": "word", "text": "软体", "fields": ["title", "body"], "whole_word": True}]}
    assert clause.label() == "软件 OR 软体" and clause.needles() == ["软件", "软体"]


def test_title_restriction(compiler):
    [clause], _ = compiled(compiler, q.Words("香港", "title"))
    assert clause.fields == ("title",) and clause.label() == "title:香港"
    assert clause.describe() == {"op": "word", "text": "香港", "fields": ["title"]}


def test_a_titles_only_search_restricts_unrestricted_words_and_phrases(compiler):
    """``SearchRequest.fields="title"`` (``python -m search run --field
    title``): plain words and phrases are looked up in titles only; a field
    the query names keeps its own (lead: stays in the body)."""
    must, _ = compiled(compiler, q.Words("香港"), q.Phrase("特别行政区"), fields="title")
    assert [c.fields for c in must] == [("title",), ("title",)]
    [lead], _ = compiled(compiler, q.Words("香港", "lead"), fields="title")
    assert lead.inner.fields == ("body",)


def test_phrase(compiler):
    [clause], _ = compiled(compiler, q.Phrase("香港特别"))
    assert clause == PhraseClause("香港特别", [("香港", 0), ("港特", 1), ("特别", 2)], BOTH)
    assert clause.describe() == {"op": "phrase", "text": "香港特别", "fields": ["title", "body"]}
    assert clause.label() == '"香港特别"' and clause.needles() == ["香港特别"]
    [clause], _ = compiled(compiler, q.Phrase("香港", "title"))
    assert clause.label() == 'title:"香港"' and clause.fields == ("title",)
    assert compiled(compiler, q.Phrase("，。"))[0] == []  # nothing searchable


def test_lead_wraps_the_body_clauses(compiler):
    [clause], _ = compiled(compiler, q.Words("疫苗", "lead"))
    assert clause == LeadClause(WordClause("疫苗", [("疫苗", 0)], ("body",)), ["疫苗"])
    assert clause.describe() == {"op": "lead", "clause": {"op": "word", "text": "疫苗", "fields": ["body"]}}
    assert clause.label() == "lead:疫苗" and clause.needles() == ["疫苗"]
    [clause], _ = compiled(compiler, q.Phrase("疫苗 接种", "lead"))
    # the break typed between the runs is a break in the text: 苗 ends a run there
    assert clause.inner == PhraseClause("疫苗 接种", [("疫苗", 0), ("苗", 1), ("接种", 3)], ("body",))
    assert clause.label() == 'lead:"疫苗 接种"'


def test_at_least(compiler):
    [clause], _ = compiled(compiler, q.AtLeast(3, q.Words("疫苗")))
    assert clause == MentionsClause(PhraseClause("疫苗", [("疫苗", 0)], BOTH, ("疫苗",)), 3)
    assert clause.describe() == {"op": "atleast", "count": 3,
                                 "clause": {"op": "phrase", "text": "疫苗", "fields": ["title", "body"]}}
    assert clause.label() == 'atleast3:"疫苗"' and clause.needles() == ["疫苗"]
    assert compiled(compiler, q.AtLeast(3, q.Words("，")))[0] == []


def test_near(compiler):
    node = q.Near(q.AnyOf((q.Words("香港"), q.Words("澳门"))), q.Phrase("选举"), "word", 5, True)
    [clause], _ = compiled(compiler, node)
    assert clause == NearClause([PhraseClause("香港", [("香港", 0)], BOTH, ("香港",)),
                                 PhraseClause("澳门", [("澳门", 0)], BOTH, ("澳门",))],
                                [PhraseClause("选举", [("选举", 0)], BOTH, ("选举",))], "word", 5, True)
    assert all(t.fields == BOTH and t.words == (t.text,) for t in clause.left + clause.right)
    assert clause.label() == '("香港" OR "澳门") pre/5 "选举"'
    assert clause.needles() == ["香港", "澳门", "选举"]
    assert clause.describe() == {"op": "near", "operator": "pre/5", "unit": "word", "distance": 5, "ordered": True,
                                 "left": [{"op": "phrase", "text": "香港", "fields": ["title", "body"]},
                                          {"op": "phrase", "text": "澳门", "fields": ["title", "body"]}],
                                 "right": [{"op": "phrase", "text": "选举", "fields": ["title", "body"]}]}
    [same], _ = compiled(compiler, q.Near(q.Words("香港"), q.Words("选举"), "sentence"))
    assert same.label() == '"香港" w/s "选举"' and "distance" not in same.describe()
    assert compiled(compiler, q.Near(q.Words("，"), q.Words("选举")))[0] == []  # a side with nothing


def test_field_value(compiler):
    [clause], _ = compiled(compiler, q.FieldValue("author", "张三"))
    assert clause == ValueClause("author", "张三")
    assert clause.describe() == {"op": "field", "field": "author", "value": "张三"}
    assert clause.label() == "author:张三" and clause.needles() == []


def test_any_of(compiler):
    node = q.AnyOf((q.AllOf((q.Words("香港"), q.Words("选举"))), q.Words("澳门"), q.Words("，")))
    [clause], _ = compiled(compiler, node)
    assert clause == AnyClause([AllClause([WordClause("香港", [("香港", 0)], BOTH), WordClause("选举", [("选举", 0)], BOTH)]),
                                WordClause("澳门", [("澳门", 0)], BOTH)])
    assert clause.label() == "(香港 选举) OR 澳门" and clause.needles() == ["香港", "选举", "澳门"]
    assert compiled(compiler, q.AnyOf((q.Words("，"),)))[0] == []


def test_all_of(compiler):
    [clause], _ = compiled(compiler, q.AllOf((q.Words("香港"),), (q.Words("选举"),)))
    assert clause == AllClause([WordClause("香港", [("香港", 0)], BOTH)], [WordClause("选举", [("选举", 0)], BOTH)])
    assert clause.describe() == {"op": "and", "clauses": [{"op": "word", "text": "香港", "fields": ["title", "body"]}],
                                 "not": [{"op": "word", "text": "选举", "fields": ["title", "body"]}]}
    assert clause.label() == "(香港 -选举)" and clause.needles() == ["香港"]
    # One child and no exclusion: the child itself; exclusions only: nothing to match.
    assert compiled(compiler, q.AllOf((q.Words("香港"),)))[0] == [WordClause("香港", [("香港", 0)], BOTH)]
    assert compiled(compiler, q.AllOf((), (q.Words("选举"),)))[0] == []


def test_must_not_becomes_one_clause_each(compiler):
    must, must_not = compiled(compiler, q.Words("香港"), must_not=[q.Words("香港选举"), q.Words("，")])
    assert must_not == [AllClause([WordClause("香港", [("香港", 0)], BOTH), WordClause("选举", [("选举", 0)], BOTH)])]


def test_proximity_grams_of_plain_unrestricted_words(compiler):
    parsed = q.Query([q.Words("香港选举"), q.Words("ab", "title"), q.Phrase("澳门")])
    assert compiler.proximity_grams(parsed) == ("香港", "港选", "选举")


def test_every_node_type_has_a_compile_function(compiler):
    """A node class the parser can produce without an entry in the table
    would silently compile to nothing."""
    nodes = {cls for _, cls in inspect.getmembers(tree, inspect.isclass)
             if dataclasses.is_dataclass(cls) and cls.__module__ == tree.__name__} - {q.Query, q.Notice}
    assert nodes and nodes == set(_COMPILE)
    assert compiler.node(object(), BOTH) == []


# ---- the clause protocol ----------------------------------------------------------------------
CLAUSE_CLASSES = sorted((cls for name, cls in inspect.getmembers(plan, inspect.isclass)
                         if name.endswith("Clause") and cls.__module__ == plan.__name__), key=lambda c: c.__name__)


def test_the_clause_classes_are_found():
    assert {c.__name__ for c in CLAUSE_CLASSES} >= {"WordClause", "PhraseClause", "LeadClause", "MentionsClause",
                                                    "NearClause", "ValueClause", "AllClause", "AnyClause"}


@pytest.mark.parametrize("cls", CLAUSE_CLASSES, ids=lambda c: c.__name__)
def test_every_clause_class_describes_itself(cls):
    """One home per clause: its highlight terms, its label and its node of
    the understood tree are its own methods (a new clause without them fails)."""
    assert issubclass(cls, Clause)
    for method in ("needles", "label", "describe"):
        assert method in vars(cls), f"{cls.__name__} does not define {method}()"
        assert vars(cls)[method].__doc__ or getattr(Clause, method).__doc__


def test_relaxation_questions():
    word = WordClause("香港", [], BOTH)
    char = WordClause("欧", [], BOTH)
    title = WordClause("香港", [], ("title",))
    phrase = PhraseClause("香港", [], BOTH)
    assert word.soft() and char.soft() and not title.soft() and not phrase.soft()
    assert word.soft() and not ValueClause("tag", "x").soft()
    assert AnyClause([word, char]).soft() and not AnyClause([word, phrase]).soft()
    assert AllClause([word, char]).soft() and not AllClause([word], [char]).soft()
    assert word.anchors() and not char.anchors() and phrase.anchors()
    assert AnyClause([char, word]).anchors() and not AllClause([char, char]).anchors()
    assert word.anchors() and not char.anchors()
    assert char.lone_character() == "欧" and word.lone_character() is None
    assert AnyClause([char]).lone_character() is None and char.lone_character() == "欧"
