"""The news search engine: analysis, query parsing, ranking, highlighting,
related articles.  Free of any web framework; see ``engine.SearchEngine``."""
