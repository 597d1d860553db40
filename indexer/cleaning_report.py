"""``indexer build --report-cleaning FILE``: what the cleaning took out of
each article, one JSON line per changed article:

    {"id": "...", "removed": [{"kind": "related_list", "lines": 6, "chars": 45}, ...],
     "photo_credits": 1}

``kind`` is a ``furniture.Removal`` kind; ``lines`` whole lines removed,
``chars`` characters removed; ``photo_credits`` how many credits were kept
as metadata.  No article text is written (the file may be shared)."""

from __future__ import annotations

import dataclasses
import json


class CleaningReport:
    """A callable for ``pipeline.build(cleaning=...)`` writing to ``path``
    (created or truncated; UTF-8).  Use as a context manager; ``changed``
    counts the lines written.  Raises OSError when ``path`` cannot be
    written."""

    def __init__(self, path: str):
        self._file = open(path, "w", encoding="utf-8")
        self.changed = 0

    def __call__(self, article, removed) -> None:
        credits = len((article.extra or {}).get("photo_credits") or [])
        line = {"id": article.id, "removed": [dataclasses.asdict(r) for r in removed], "photo_credits": credits}
        self._file.write(json.dumps(line, ensure_ascii=False) + "\n")
        self.changed += 1

    def close(self) -> None:
        """Flush and close the file (the report is complete)."""
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
