"""Every plan clause class has one entry in each backend's execution table
(Whoosh: ``clauses.EVALUATORS``, OpenSearch: ``clauses.BUILDERS``), found by
introspection of search/plan.py: a new clause class without its entries
fails here, not on the first query that uses it."""

import dataclasses
import inspect

import pytest

from search import plan
from search.backends.opensearch.clauses import BUILDERS, ClauseBuilder
from search.backends.whoosh.clauses import EVALUATORS, ClauseEvaluator

CLAUSE_CLASSES = sorted((c for name, c in inspect.getmembers(plan, inspect.isclass)
                         if c.__module__ == plan.__name__ and name.endswith("Clause") and dataclasses.is_dataclass(c)),
                        key=lambda c: c.__name__)


def test_the_plan_has_clause_classes():
    names = {c.__name__ for c in CLAUSE_CLASSES}
    assert {"WordClause", "PhraseClause", "NearClause", "AllClause", "AnyClause"} <= names


@pytest.mark.parametrize("table, owner", [(EVALUATORS, ClauseEvaluator), (BUILDERS, ClauseBuilder)],
                         ids=["whoosh", "opensearch"])
def test_each_backend_maps_every_clause_class(table, owner):
    assert set(table) == set(CLAUSE_CLASSES)
    for cls, fn in table.items():
        assert getattr(owner, fn.__name__) is fn, f"{cls.__name__}: not a method of {owner.__name__}"


def test_an_unknown_clause_is_a_type_error():
    class Unknown:
        pass

    with pytest.raises(TypeError):
        ClauseBuilder(lambda: True).build(Unknown())
