"""The text an article's dense vector is made from (issue 20): its title
and its lead, the first paragraph of the body.

Dense retrieval embeds one short passage per article, not the whole body:
the lead of a news article says who, what and where, and a passage that
fits the model's window is embedded whole (the bundled model averages
longer texts over windows, ONNX models truncate them).  The lead is the
body's text up to its first line break, as in the index's "lead:" queries
(``documents.prepare``'s ``lead_end``), except that blank lines before it
are skipped and the paragraph is stripped of surrounding white space.

The passage is capped at ``max_chars`` characters (callers give the
model's ``max_tokens``): the XLM-R vocabulary of multilingual e5 holds
every common Chinese character, so a Chinese text takes about one token
per character or fewer, and the cap keeps a passage within the window
(in the sample of 2,000 articles, one lead of 584 characters is longer
than 500; the median is 78).  Texts are taken as stored, in their own
script: Traditional articles are not converted.
"""

from __future__ import annotations


def lead(body: str | None) -> str:
    """The first non-blank paragraph (line) of ``body``, stripped; "" when
    there is none."""
    for line in (body or "").split("\n"):
        if line.strip():
            return line.strip()
    return ""


def passage(title: str | None, body: str | None, max_chars: int) -> str:
    """``title + "\\n" + lead(body)`` (either part left out when empty),
    cut to at most ``max_chars`` characters (a positive int).  Raises
    ValueError for ``max_chars`` < 1."""
    if max_chars < 1:
        raise ValueError(f"max_chars must be at least 1, got {max_chars}")
    text = "\n".join(part for part in ((title or "").strip(), lead(body)) if part)
    return text[:max_chars]
