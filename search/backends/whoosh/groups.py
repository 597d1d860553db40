"""Near-duplicate groups on disk, next to the Whoosh segments.

* the signatures: every document's publication time and MinHash
  signature, in the segment's docinfo file (``docinfo.py``);
* ``dupgroups_<generation>.npz``: the groups of one committed generation,
  as (segment, docnum) of each member and of its representative.  The
  writer computes it when a build or a deletion finishes, and writes it
  before the table of contents naming that generation, so a reader that
  sees the generation also sees its groups.  Between intermediate commits
  of a long build a reader uses the newest older groups file; members or
  representatives deleted since are ignored.
"""

from __future__ import annotations

import io
import os
import re

import numpy as np

from ... import dedupe
from . import docinfo

_GROUPS = re.compile(r"^dupgroups_(\d+)\.npz$")


def compute(storage, pairs) -> dict:
    """Group the live documents of (segment, deleted docnums) ``pairs``
    (``WriteSession.snapshot``); the arrays of a groups file."""
    parts_ts, parts_sig, parts_inst, seg_of, doc_of = [], [], [], [], []
    segments = [seg for seg, _ in pairs]
    for si, (seg, deleted) in enumerate(pairs):
        info = docinfo.read(storage, seg)
        ts, sigs = info["published"], info["minhash"]
        live = np.ones(len(ts), bool)
        deleted = list(deleted)
        if deleted:
            live[np.asarray(deleted, np.int64)] = False
        docs = np.flatnonzero(live)
        parts_ts.append(ts[docs])
        parts_sig.append(sigs[docs])
        parts_inst.append(info.get("installment", np.zeros(len(ts), np.int64))[docs])
        seg_of.append(np.full(len(docs), si, np.int32))
        doc_of.append(docs.astype(np.int32))
    if not parts_ts:
        rep = np.empty(0, np.int64)
        seg_all = doc_all = np.empty(0, np.int32)
    else:
        seg_all, doc_all = np.concatenate(seg_of), np.concatenate(doc_of)
        rep = dedupe.group(np.concatenate(parts_ts), np.concatenate(parts_sig), np.concatenate(parts_inst))
    members = np.flatnonzero(rep != np.arange(len(rep)))
    return {
        "segments": np.array([s.segment_id() for s in segments], dtype=str),
        "member": np.stack([seg_all[members], doc_all[members]], axis=1).astype(np.int32),
        "rep": np.stack([seg_all[rep[members]], doc_all[rep[members]]], axis=1).astype(np.int32),
    }


def remap(arrays: dict, moved: dict) -> dict:
    """A groups file's arrays after a merge (``segmerge.py``) moved
    documents: ``moved`` maps each merged segment's id to (the merged
    segment's id, an int array: old docnum -> new docnum, -1 for a
    document the merge dropped).  Pairs with a dropped member or
    representative are left out (readers ignore deleted ones anyway);
    segments the merge did not touch keep their pairs; the grouping of the
    live documents is unchanged."""
    old_names = [str(s) for s in arrays["segments"]]
    names: list[str] = []
    seg_map = []  # per old segment: (new segment index, docnum map or None)
    for name in old_names:
        new_name, docs = moved.get(name, (name, None))
        if new_name not in names:
            names.append(new_name)
        seg_map.append((names.index(new_name), docs))

    def convert(pairs: np.ndarray):
        seg = np.empty(len(pairs), np.int64)
        doc = np.empty(len(pairs), np.int64)
        for si, (new_si, docs) in enumerate(seg_map):
            rows = pairs[:, 0] == si
            seg[rows] = new_si
            doc[rows] = pairs[rows, 1] if docs is None else docs[pairs[rows, 1]]
        return seg, doc

    member, rep = np.asarray(arrays["member"]).reshape(-1, 2), np.asarray(arrays["rep"]).reshape(-1, 2)
    mseg, mdoc = convert(member)
    rseg, rdoc = convert(rep)
    ok = (mdoc >= 0) & (rdoc >= 0)
    return {
        "segments": np.array(names, dtype=str),
        "member": np.stack([mseg[ok], mdoc[ok]], axis=1).astype(np.int32),
        "rep": np.stack([rseg[ok], rdoc[ok]], axis=1).astype(np.int32),
    }


def write(path: str, generation: int, arrays: dict) -> None:
    """Write atomically (temporary file, then rename)."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    final = os.path.join(path, f"dupgroups_{generation}.npz")
    tmp = final + f".tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(buf.getvalue())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, final)


def remove_other_generations(path: str, keep: int) -> None:
    """Delete the group files of every generation but ``keep`` in the index
    directory ``path`` (a file already gone is no error)."""
    for name in os.listdir(path):
        m = _GROUPS.match(name)
        if m and int(m.group(1)) != keep:
            try:
                os.remove(os.path.join(path, name))
            except OSError:
                pass


def exists(path: str) -> bool:
    """Does the index directory ``path`` hold group files of any generation?"""
    try:
        return any(_GROUPS.match(name) for name in os.listdir(path))
    except OSError:
        return False


def load(path: str, generation: int) -> dict | None:
    """The groups file of ``generation``, or of the newest one before it."""
    best = None
    try:
        names = os.listdir(path)
    except OSError:
        return None
    for name in names:
        m = _GROUPS.match(name)
        if m and int(m.group(1)) <= generation and (best is None or int(m.group(1)) > best[0]):
            best = (int(m.group(1)), name)
    if best is None:
        return None
    try:
        with np.load(os.path.join(path, best[1]), allow_pickle=False) as data:
            return {k: data[k] for k in ("segments", "member", "rep")}
    except (OSError, ValueError, KeyError):
        return None  # removed or half-written by a concurrent writer: no groups this time
