"""Ingest news articles (JSON Lines, CSV) into the search index."""
