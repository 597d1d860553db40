"""The text an article's dense vector is made from (issue 20): its title
and its lead, the first paragraph of the body.

Dense retrieval embeds one short passage per article, not the whole body:
the lead of a news article says who, what and where, and a passage that
fits the model's window is embedded whole (the bundled model averages
longer texts over windows, ONNX models truncate them).  The lead is the
first paragraph (line) of at least ``MIN_LEAD_CHARS`` characters once
stripped of surrounding white space, else the first non-blank one: CCTV
bodies often open with a dateline alone ("央视网消息(新闻联播)："; 338 of
the 2,000 sample articles open with a line under 20 characters), which
says nothing of the story.  The same rule as ``bench.embed_speed``'s and
tests/test_embedding.py's passages, so the measured speed is this text's.

The passage is capped at ``max_chars`` characters (callers give the
model's ``max_tokens``): the XLM-R vocabulary of multilingual e5 holds
every common Chinese character, so a Chinese text takes about one token
per character or fewer, and the cap keeps a passage within the window
(in the sample of 2,000 articles, one lead of 584 characters is longer
than 500; the median is 78).  Texts are taken as stored, in their own
script: Traditional articles are not converted.
"""

from __future__ import annotations

# A shorter first line (a dateline, a subheading) is skipped for the next
# paragraph this long (see the module docstring for the count it is from).
MIN_LEAD_CHARS = 20


def lead(body: str | None) -> str:
    """The first paragraph (line) of ``body`` of at least
    ``MIN_LEAD_CHARS`` characters, stripped; else its first non-blank
    one; "" when there is none."""
    lines = [line.strip() for line in (body or "").split("\n") if line.strip()]
    return next((line for line in lines if len(line) >= MIN_LEAD_CHARS), lines[0] if lines else "")


def passage(title: str | None, body: str | None, max_chars: int) -> str:
    """``title + "\\n" + lead(body)`` (either part left out when empty),
    cut to at most ``max_chars`` characters (a positive int).  Raises
    ValueError for ``max_chars`` < 1."""
    if max_chars < 1:
        raise ValueError(f"max_chars must be at least 1, got {max_chars}")
    text = "\n".join(part for part in ((title or "").strip(), lead(body)) if part)
    return text[:max_chars]
