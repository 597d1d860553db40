"""Did you mean: a corrected query for Chinese typed with a slip.

Most Chinese typos come from the input method: a character with the same
pinyin (侧试 for 测试, 韩国国惠 for 韩国国会, 习近凭 for 习近平).  Each
Chinese run of the query is read back as toneless pinyin and re-read as the
words of our articles (``PinyinLexicon.convert``: the same readings as
pinyin input, ranked by how many articles use them).  A word of that
reading replaces what was typed under it only if

* what was typed there is not a word of ours: as a word (and each typed
  word of two or more characters it touches) it is in no more than
  ``NOISE_RATE`` of the articles (2 in 100,000: 2 articles of the full
  corpora, none of a 2,000-article index) - 景点 is a word of its own,
  never a slip for 经典, however much more common 经典 is;
* the new word differs from what was typed in one character (one in
  three for longer words): input-method slips pick one wrong character;
  a typed word all of whose characters differ (王珂 / 网课, 黎姿 / 例子)
  is another word, usually a name our articles do not have;
* and the new word is used by at least ``MIN_GAIN`` times as many articles
  as the typed text, counting the typed text as at least ``PRIOR_RATE``
  of the articles (1 in 100,000) so that on a large index a correction
  needs real support (22 articles of the full corpora) while on a small
  one any article of its own is support.

Both limits are shares of the index, not article counts, so the same
rules hold for the 2,000-article sample and the 108,000 of the full
corpora.  When to ask and what to do with the answer (show the corrected
results, or offer the correction) is ``SearchEngine._with_correction``.
"""

from __future__ import annotations

import re

from .normalize import fold_case, normalize, normalize_query
from .pinyin import PinyinLexicon, word_pinyin
from .script import script_of, to_traditional

CJK_RUN = re.compile(r"[\u3400-\u9fff]{2,12}")
MIN_GAIN = 20  # a new word needs this many times the articles of what was typed (chosen, not measured)
# Runs longer than this are not read back (reading a run through the lexicon
# costs article counts of every homophone of its pieces: 20-60 ms cold for
# runs of 9+ characters on the full corpora, most of the query latency
# benchmark's p95; slips are looked for in the words a reader types).
MAX_RUN = 6
# A slip is one wrong character of a word (at most one in three): a whole
# word read differently is another word (a name, a brand), not a slip.
# Typed text in at most NOISE_RATE of the articles is a slip, not a word of
# ours, and counts as in at least PRIOR_RATE of them (a large index asks for
# more support).  Both chosen, not measured.
NOISE_RATE = 2e-5
PRIOR_RATE = 1e-5


def mistyped_runs(text: str, cut, is_word) -> list[str]:
    """The Chinese runs of ``text`` that could hold an input-method slip even
    though the query finds articles: runs that do not read as dictionary
    words of two or more characters (a piece is a single character:
    习近凭 -> 习近 + 凭, 火箭单 -> 火箭 + 单; or no dictionary word).
    ``cut(text)`` -> [(word, start, end)]: the query segmenter; ``is_word``:
    its dictionary.  No index lookups."""
    return [m.group() for m in CJK_RUN.finditer(fold_case(normalize_query(text)))
            if any(e - s == 1 or not is_word(w) for w, s, e in cut(m.group()))]


def looks_mistyped(text: str, cut, is_word) -> bool:
    """Does ``text`` have a run ``mistyped_runs`` finds?  It only decides
    whether ``corrected_query`` (which asks the index) is worth running."""
    return bool(mistyped_runs(text, cut, is_word))


def noise_articles(doc_count: int) -> int:
    """Articles a typed run may be in and still count as a slip
    (``NOISE_RATE`` of the index)."""
    return int(doc_count * NOISE_RATE)


def corrected_query(text: str, lexicon: PinyinLexicon | None, doc_count: int, cut,
                    written=None) -> str | None:
    """``text`` with the slips of its Chinese runs replaced by the words
    our articles use (see the module docstring), or None if nothing
    changes.  The rest of ``text`` stays as typed and a replaced run is
    written in the script it was typed in (``in_script_of``).  ``doc_count``: live articles in the index; ``cut(text)`` ->
    [(word, start, end)]: the query segmenter; the lexicon's
    ``article_df`` gives how many articles use a word (one batch per run).
    ``written(run)``: articles with the run as written; when given, a run
    that occurs in more than the noise share of them is left as typed
    (asked only for runs with a correction: one search each)."""
    if lexicon is None or not len(lexicon) or doc_count <= 0:
        return None
    noise = noise_articles(doc_count)
    prior = doc_count * PRIOR_RATE
    mapped = normalize(text)
    norm = fold_case(mapped.text)
    if len(norm) != len(mapped.text) or norm != fold_case(normalize_query(text)):
        mapped = None  # no way back to the typed text: answer in the normalised form
        norm = fold_case(normalize_query(text))
    out, last, changed = [], 0, False
    for m in CJK_RUN.finditer(norm):
        run = m.group()
        if len(run) > MAX_RUN:
            continue  # a sentence typed as one run: its readings cost more than a slip is likely
        conv = lexicon.convert(word_pinyin(run))
        if conv is None:
            continue
        candidate = "".join(conv[0])
        if candidate == run or len(candidate) != len(run):
            continue  # the same text, or a reading that does not align character by character
        spans, start = [], 0
        for word in conv[0]:
            spans.append((start, start + len(word), word))
            start += len(word)
        typed_words = [(w, s, e) for w, s, e in cut(run) if e - s >= 2]
        asked = {run[s:e] for s, e, _ in spans} | {w for w, _, _ in typed_words} | set(conv[0])
        df = lexicon.article_df(list(asked))
        fixed = list(run)
        for s, e, word in spans:
            if run[s:e] == word:
                continue
            diff = [i for i in range(s, e) if run[i] != word[i - s]]
            if len(diff) > max(1, (e - s) // 3):
                continue  # a slip picks one wrong character, not a different word (王珂 is no slip for 网课)
            # What was typed under this word: as one word, and each typed
            # word of two or more characters that a change touches.
            typed = max([df.get(run[s:e], 0)] + [df.get(w, 0) for w, ws, we in typed_words
                                                  if any(ws <= i < we for i in diff)])
            if typed > noise or df.get(word, 0) < MIN_GAIN * max(typed, prior):
                continue  # a word of ours, or a reading without the support to replace it
            fixed[s:e] = word
        fixed_run = "".join(fixed)
        if fixed_run == run or (written is not None and written(run) > noise):
            continue
        if mapped is None:
            out.append(norm[last:m.start()])
            out.append(fixed_run)
            last, changed = m.end(), True
            continue
        # Written into the text as typed: the rest of the query untouched,
        # the corrected run in the script the reader typed it in.
        start, end = mapped.span(m.start(), m.end())
        out.append(text[last:start])
        out.append(in_script_of(text[start:end], run, fixed_run))
        last, changed = end, True
    if not changed:
        return None
    out.append((text if mapped is not None else norm)[last:])
    return "".join(out)


def in_script_of(typed: str, run: str, fixed: str) -> str:
    """``fixed`` (a corrected run, normalised: Simplified) as the reader
    would have typed it: the characters that were not changed as typed
    (``run``: ``typed`` normalised, character by character when the two
    align), the changed ones in ``typed``'s script (Traditional when
    ``typed`` is: 選據 -> 選舉, never 选举)."""
    traditional = script_of(typed) == "traditional"
    if len(typed) != len(run):
        return to_traditional(fixed) if traditional else fixed
    out = []
    for was, now, shown in zip(run, fixed, typed):
        out.append(shown if was == now else (to_traditional(now) if traditional else now))
    return "".join(out)
