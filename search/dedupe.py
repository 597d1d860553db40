"""Near-duplicate articles: wire copy, republished and lightly edited stories.

When an article is indexed it gets a MinHash signature (datasketch) of the
character 5-grams of its normalised text.  After a build, ``group`` finds
candidate pairs with datasketch's LSH and forms groups:

* the earliest article of a group is its representative, and every other
  member must resemble the representative itself (estimated Jaccard
  similarity >= ``THRESHOLD``): groups never chain A~B~C with A !~ C;
* members are published within ``WINDOW_SECONDS`` of the representative,
  and beyond ``SAME_DAY_SECONDS`` they must be even closer
  (``THRESHOLD_LATER``): daily items sharing a template and a headline
  (国家卫生健康委通报最新疫情, 文献纪录片《…》今晚继续播出) stay separate
  stories, while a story re-filed the next day still groups;
* two parts of a series are different articles even when their text is
  nearly the same: headlines marking different installments ((上)/(下),
  第一次/第二次会议, 之一/之二) never group.

Normalisation first (Traditional -> Simplified, full-width -> half-width,
spacing and punctuation dropped) makes a republished copy with different
punctuation or script count as the same text.
"""

from __future__ import annotations

import re

import numpy as np

from .ranking import NO_DATE

NUM_PERM = 64  # MinHash slots per signature (chosen, not measured)
SHINGLE = 5  # characters per shingle (chosen, not measured)
THRESHOLD = 0.7  # estimated Jaccard similarity to the representative (chosen, not measured)
THRESHOLD_LATER = 0.85  # ... for a member more than SAME_DAY_SECONDS later (chosen, not measured)
SAME_DAY_SECONDS = 12 * 3600  # (chosen, not measured)
WINDOW_SECONDS = 2 * 86400  # members within this of the representative (chosen, not measured)
MIN_SHINGLES = 30  # shorter texts say too little to call them duplicates (chosen, not measured)
SEED = 1  # any fixed seed: signatures must be the same in every process
SCHEME = "affine32"  # datasketch's 32-bit permutation scheme (its default)
NO_SIGNATURE = np.uint32(0xFFFFFFFF)  # every slot at max: "never grouped"

_NON_RUN = re.compile(r"[\W_]+")
_PRIME = np.uint64(1_000_003)


def shingle_hashes(text: str) -> np.ndarray:
    """Distinct 32-bit hashes of the text's overlapping character 5-grams
    (letters, digits and ideographs only), computed with numpy."""
    squeezed = _NON_RUN.sub("", text)
    n = len(squeezed) - SHINGLE + 1
    if n <= 0:
        return np.empty(0, np.uint32)
    codes = np.frombuffer(squeezed.encode("utf-32-le"), dtype="<u4").astype(np.uint64)
    h = np.zeros(n, np.uint64)
    for k in range(SHINGLE):  # polynomial hash, wrapping in 64 bits
        h = h * _PRIME + codes[k : k + n]
    return np.unique((h ^ (h >> np.uint64(32))).astype(np.uint32))


# Installment markers in a headline: (上) (下) (一), 第二次 第3期 …, 之一.
_INSTALLMENT = re.compile(
    r"[（(]\s*[上中下一二三四五六七八九十0-9]{1,3}\s*[)）]"
    r"|第\s*[一二三四五六七八九十百零〇0-9]{1,4}\s*[次期集部篇回届章节]"
    r"|之\s*[一二三四五六七八九十]{1,3}")


def installment_key(title: str) -> int:
    """A number naming the installments a headline marks (0: none), so that
    part 1 and part 2 of a series are never grouped."""
    marks = sorted({re.sub(r"\s+", "", m.group()) for m in _INSTALLMENT.finditer(title)})
    if not marks:
        return 0
    import zlib

    return zlib.crc32("|".join(marks).encode("utf-8")) | 1


def _identity(value):
    return value


_permutations = None


def signature(text: str) -> np.ndarray:
    """MinHash signature (``NUM_PERM`` uint32) of ``text``; all slots at
    ``NO_SIGNATURE`` when the text is too short to judge."""
    from datasketch import MinHash

    global _permutations
    hashes = shingle_hashes(text)
    if len(hashes) < MIN_SHINGLES:
        return np.full(NUM_PERM, NO_SIGNATURE, np.uint32)
    if _permutations is None:  # derived from SEED: the same in every process
        _permutations = MinHash(num_perm=NUM_PERM, seed=SEED, scheme=SCHEME).permutations
    mh = MinHash(num_perm=NUM_PERM, seed=SEED, hashfunc=_identity, permutations=_permutations, scheme=SCHEME)
    mh.update_batch(hashes.tolist())
    return mh.hashvalues.astype(np.uint32)


def has_signature(signatures: np.ndarray) -> np.ndarray:
    """For signatures (numpy uint32 array of shape (n, NUM_PERM)), a bool array of shape (n,): False
    where every slot is ``NO_SIGNATURE`` (an article too short to be grouped)."""
    return ~(signatures == NO_SIGNATURE).all(axis=1)


def similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Estimated Jaccard similarity: the share of equal MinHash slots."""
    return (a == b).mean(axis=-1)


def group(timestamps: np.ndarray, signatures: np.ndarray, installments: np.ndarray | None = None) -> np.ndarray:
    """Representative of every document (its own index when it is alone or
    is itself a representative).

    ``timestamps``: seconds, or ``ranking.NO_DATE`` for undated
    articles (never grouped); ``signatures``: (n, NUM_PERM) uint32;
    ``installments``: ``installment_key`` of each headline (optional).
    """
    from datasketch import LeanMinHash, MinHashLSH

    n = len(timestamps)
    rep = np.arange(n, dtype=np.int64)
    usable = has_signature(signatures) & (timestamps != NO_DATE) if n else np.zeros(0, bool)
    candidates = np.flatnonzero(usable)
    if len(candidates) < 2:
        return rep
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    sketches = {}
    with lsh.insertion_session() as session:
        for i in candidates.tolist():
            m = LeanMinHash(seed=SEED, hashvalues=signatures[i].astype(np.uint64), scheme=SCHEME)
            sketches[i] = m
            session.insert(i, m, check_duplication=False)
    assigned = np.zeros(n, bool)
    # Earliest first, so a representative is always the group's first article.
    for i in candidates[np.argsort(timestamps[candidates], kind="stable")].tolist():
        if assigned[i]:
            continue
        assigned[i] = True
        found = [j for j in lsh.query(sketches[i]) if not assigned[j]]
        if not found:
            continue
        found = np.asarray(found, np.int64)
        gap = np.abs(timestamps[found] - timestamps[i])
        needed = np.where(gap <= SAME_DAY_SECONDS, THRESHOLD, THRESHOLD_LATER)
        similar = similarity(signatures[found], signatures[i]) >= needed
        ok = (gap <= WINDOW_SECONDS) & similar
        if installments is not None and installments[i]:
            ok &= (installments[found] == 0) | (installments[found] == installments[i])
        members = found[ok]
        rep[members] = i
        assigned[members] = True
    return rep
