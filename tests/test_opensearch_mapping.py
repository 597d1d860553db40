"""An OpenSearch index written before the folded facet keys and the body
vocabulary existed: read as before (values compared as written, a warning),
and folded as soon as a rebuild swaps the alias, without restarting."""

import logging
import os
import uuid

import pytest

from conftest import SAMPLE, load_jsonl
from search.models import SearchRequest

URL = os.environ.get("OPENSEARCH_URL")
NEW_FIELDS = ("category_key", "source_key", "author_key", "tags_key", "tags_form", "body_terms")


@pytest.fixture
def alias():
    if not URL:
        pytest.skip("no OpenSearch cluster (scripts/opensearch start, then OPENSEARCH_URL=...)")
    from opensearchpy import OpenSearch

    client = OpenSearch(URL, timeout=60)
    name = "news-mapping-" + uuid.uuid4().hex[:8]
    yield client, name
    if client.indices.exists_alias(name=name):
        for index in client.indices.get_alias(name=name):
            client.indices.delete(index=index)


def test_an_older_index_is_read_as_written_until_rebuilt(alias, caplog):
    from indexer import bylines
    from indexer.records import to_article
    from search.analysis import Analyzer
    from search.backends.opensearch.indexing import bulk_index, rebuild_alias
    from search.backends.opensearch.mapping import index_body, to_source
    from search.backends.opensearch.indexing import SourceDoc
    from search.documents import prepare
    from search.engine import SearchEngine
    from search.segmenter import get_segmenter

    client, name = alias
    analyzer = Analyzer(get_segmenter())
    docs = [prepare(bylines.enrich(to_article(r)), analyzer) for r in load_jsonl(SAMPLE)[1000:1200]]
    filed = sum(d.facets["category"] == "眾聞" for d in docs)
    assert filed >= 50
    old_body = index_body(shards=2, replicas=0)
    for field in NEW_FIELDS:
        del old_body["mappings"]["properties"][field]
    client.indices.create(index=name + "-old", body={**old_body, "aliases": {name: {}}})
    old = [SourceDoc(d.id, {k: v for k, v in to_source(d).items() if k not in NEW_FIELDS}) for d in docs]
    bulk_index(client, name, old)
    client.indices.refresh(index=name)
    engine = SearchEngine.open(name, backend="opensearch", opensearch_url=URL, refresh_interval=0,
                               synonyms_path=None)
    engine.backend.version_interval = 0
    try:
        with caplog.at_level(logging.WARNING):
            assert engine.search(SearchRequest(category=["眾聞"], size=1, group=False)).total == filed
            assert engine.search(SearchRequest(category=["众闻"], size=1, group=False)).total == 0  # as written
        assert "predates folded facet values" in caplog.text
        with pytest.raises(ValueError, match="no body vocabulary"):
            engine.backend.vocabulary("body", min_df=2)
        rebuild_alias(client, name, docs, shards=2, replicas=0)
        for value in ("眾聞", "众闻"):
            assert engine.search(SearchRequest(category=[value], size=1, group=False)).total == filed
        assert engine.backend.vocabulary("body", min_df=2)
    finally:
        engine.pinyin.get(wait=60)
        engine.suggester.get(wait=60)
