"""Relevance evaluation (QBQTC and, later, related articles and known items)."""
