"""Per-segment sidecar files: data a segment carries beside Whoosh's files.

A *sidecar kind* (``SidecarKind``) is data built from a segment's prepared
documents (or from its inverted fields: ``build_inverted``) and kept in one
file per segment, ``<segment id><suffix>``, a numpy ``.npz`` archive of
named arrays plus its format version (``VERSION_KEY``).  The archive is
uncompressed and each array's data starts at a multiple of 64 bytes in the
file (``npzfile.py``), so a reader may map the file and view its arrays in
place (``npzfile.member_offsets``: ``rawpostings.py`` does, sharing the
pages between processes); ``np.load`` reads it as any ``.npz``.  Kinds are registered once per process (``register``);
the built-in ones by their modules, which the package's ``__init__``
imports (``docinfo``: dates, signatures, lead, sentence, paragraph and
word boundaries).  The mechanism gives every kind the same life cycle:

* **written with its segment**: ``segwriter.write_segment`` calls
  ``write_all`` after assembling the segment, with its documents and its
  fields' postings (``codec.Inverted``), so every path that writes a
  segment (a build, the writer's steps, rebuilds) writes every registered
  kind; a merge (``segmerge.py``: ``indexer optimize``, the writer's
  background merges) calls ``write_merged``, which builds each kind from
  the merged postings (``build_inverted``) or from the merged segments'
  files by its ``merge`` hook (a kind with neither cannot be merged);
* **removed with its segment**: the name starts with the segment id and
  the suffix matches Whoosh's segment-file pattern (``[.][A-Za-z0-9_.]+``,
  checked by ``register``), so Whoosh's file cleaning deletes it when a
  merge or a delete drops the segment;
* **checked on open** (``problem``, called by ``integrity.py`` for every
  segment it opens): a missing, truncated or unreadable file, or one whose
  version is outside ``oldest..version``, is, per kind, either damage
  (``required=True``: the index is refused with ``IndexCorrupt`` naming the
  file; ``python -m indexer rebuild`` writes it again) or absent data
  (``required=False``: ``read`` returns ``fallback(n)`` and the feature
  that needs the kind does without);
* **read lazily** (``read``): from an index directory each array is loaded
  when first asked for (``LazyArrays``).

A new kind (raw postings for speed, vectors for meaning) is one
``register(SidecarKind(...))`` call in its own module, imported by the
package's ``__init__``.
"""

from __future__ import annotations

import dataclasses
import io
import os
import re
import threading
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..base import IndexCorrupt
from .npzfile import write_archive

# The array holding a file's format version (one int64); a file without it
# was written before versions were recorded and counts as version 1.
VERSION_KEY = "sidecar_version"
# What Whoosh's TOC._segment_pattern accepts after the segment id: a file
# named so is cleaned with its segment.
_SUFFIX = re.compile(r"[.][A-Za-z0-9_.]+\Z")
_ZIP_END = b"PK\x05\x06"  # the end-of-central-directory record's signature
_ZIP_END_SIZE = 22  # numpy writes no archive comment: the record ends the file


@dataclass(frozen=True)
class SidecarKind:
    """One kind of per-segment sidecar file.

    name: unique key ("docinfo"); suffix: the file name after the segment
    id (".docinfo.npz"); label: how messages name the file ("document data
    file"); version: the format version written now; oldest: the oldest
    version ``read`` still understands; build(docs) -> {array name: numpy
    array} from the segment's ``PreparedDoc`` list in docnum order (names
    must not be ``VERSION_KEY``); required: a missing, damaged or too old
    file is damage (True) or means "no data" (False); fallback(n) -> the
    arrays of a segment of ``n`` documents without the file (None: such a
    segment cannot be read); adapt(name, array, names) -> the array as the
    current version means it (``names``: every array the file holds), for
    older versions read in place; merge(parts) -> the arrays of a segment
    merged from others (``write_merged``): ``parts`` holds, per source
    segment in merge order, (its arrays of this kind, the sorted local doc
    numbers it keeps), or None (``required=False`` kinds only) when the
    merged segment gets no file; None: the kind cannot be merged.  A kind
    with ``build`` None and ``required=False`` is not written with its
    segment at all: its files are written later, for committed segments
    (``vectors.py``).  build_inverted(inverted) -> the arrays from {field:
    ``codec.Inverted``}, built field by field: the arrays of several fields
    are the union of each field's alone (a merge builds each field's arrays
    as soon as that field is merged and frees its postings:
    ``write_merged``)."""

    name: str
    suffix: str
    label: str
    version: int
    build: Callable[[Sequence], dict] | None
    oldest: int = 1
    required: bool = True
    fallback: Callable[[int], dict] | None = None
    adapt: Callable[[str, np.ndarray, frozenset], np.ndarray] | None = None
    merge: Callable[[list[tuple[Mapping, np.ndarray]]], dict] | None = None
    build_inverted: Callable[[dict], dict] | None = None

    def filename(self, segment) -> str:
        """The sidecar's file name for ``segment`` (a Whoosh Segment)."""
        return segment.segment_id() + self.suffix


_KINDS: dict[str, SidecarKind] = {}


def register(kind: SidecarKind) -> SidecarKind:
    """Add ``kind`` to the kinds every new segment is written with; returns
    it.  Raises ValueError for a suffix Whoosh would not clean with its
    segment, or a name or suffix already registered by another kind."""
    if not _SUFFIX.match(kind.suffix):
        raise ValueError(f"sidecar suffix {kind.suffix!r} must match [.][A-Za-z0-9_.]+ "
                         "(Whoosh removes such files with their segment)")
    for other in _KINDS.values():
        if other.name != kind.name and other.suffix == kind.suffix:
            raise ValueError(f"sidecar suffix {kind.suffix!r} is already {other.name!r}'s")
    if kind.name in _KINDS and _KINDS[kind.name] is not kind:
        raise ValueError(f"sidecar kind {kind.name!r} is already registered")
    _KINDS[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    """Forget the kind ``name`` (tests' own kinds); unknown names are ignored."""
    _KINDS.pop(name, None)


def kinds() -> tuple[SidecarKind, ...]:
    """The registered kinds, in registration order."""
    return tuple(_KINDS.values())


# ---- writing ------------------------------------------------------------------
def write(storage, segment, kind: SidecarKind, docs: Sequence | None, inverted: dict | None = None) -> None:
    """Write ``kind``'s file for ``segment`` from its prepared ``docs``, or
    from ``inverted`` ({field: ``codec.Inverted``}) for a kind with
    ``build_inverted``.  Raises ValueError when the kind's input is None."""
    if kind.build_inverted is not None and inverted is not None:
        arrays = kind.build_inverted(inverted)
    elif kind.build is not None and docs is not None:
        arrays = kind.build(docs)
    else:
        raise ValueError(f"sidecar kind {kind.name!r} is built from "
                         f"{'the inverted fields' if kind.build_inverted else 'the documents'}, not given")
    arrays[VERSION_KEY] = np.array([kind.version], np.int64)
    f = storage.create_file(kind.filename(segment))
    try:
        write_archive(f, arrays)
    finally:
        f.close()


def write_all(storage, segment, docs: Sequence | None, inverted: dict | None = None) -> None:
    """Write every registered kind's file for ``segment`` (after the
    segment's own files: Whoosh's compound file takes every file of the
    segment that exists when it is assembled).  ``docs``: its PreparedDocs
    in docnum order (None: a merged segment); ``inverted``: {field:
    ``codec.Inverted``} of every indexed field, what kinds with
    ``build_inverted`` are built from (None: such kinds are built from
    ``docs`` when they have ``build``; an optional kind with neither input
    is not written and reads as absent).  Raises ValueError when a
    required kind's input is missing."""
    for kind in kinds():
        buildable = ((kind.build_inverted is not None and inverted is not None)
                     or (kind.build is not None and docs is not None))
        if not buildable and not kind.required:
            continue  # an optional kind without its input: read as absent (its fallback)
        write(storage, segment, kind, docs, inverted)


def write_merged(storage, segment, parts_by_kind: Mapping, built: Mapping) -> None:
    """Write every registered kind's file for ``segment``, merged from
    other segments (``segmerge.py``): a kind with ``build_inverted`` from
    ``built[kind.name]``, the arrays its ``build_inverted`` made field by
    field from the merged postings (``build_fields``), any other by its
    ``merge`` hook from ``parts_by_kind[kind.name]`` (see ``SidecarKind``;
    an optional kind's hook may return None: no file, the merged segment
    reads as without the data).  Raises ValueError for a kind with neither
    (nothing is written for it: the merged segment would be unreadable)."""
    for kind in kinds():
        if getattr(kind, "build_inverted", None) is not None:
            arrays = built[kind.name]
        elif kind.merge is not None:
            arrays = kind.merge(parts_by_kind[kind.name])
            if arrays is None and not kind.required:
                continue  # none of the merged segments had this optional kind's data: no file
        else:
            raise ValueError(f"sidecar kind {kind.name!r} has no merge hook: segments carrying it cannot be merged")
        # written as ``write`` writes every kind, from the arrays at hand
        write(storage, segment, dataclasses.replace(kind, build=lambda _docs, arrays=arrays: arrays,
                                                    build_inverted=None), ())


def build_fields(built: dict, field: str, inv) -> None:
    """Add one field's arrays (from its ``codec.Inverted`` ``inv``) to
    ``built`` ({kind name: arrays}) for every kind with ``build_inverted``:
    what a merge calls after each field, so that only one field's postings
    exist whole at a time."""
    for kind in kinds():
        if getattr(kind, "build_inverted", None) is not None:
            built.setdefault(kind.name, {}).update(kind.build_inverted({field: inv}))


# ---- checking -----------------------------------------------------------------
def _version(npz) -> int:
    return int(npz[VERSION_KEY][0]) if VERSION_KEY in npz.files else 1


def problem(path: str, segment, kind: SidecarKind, check_version: bool = True) -> str | None:
    """Why ``kind``'s file of ``segment`` in the index directory ``path``
    cannot be used (missing, unreadable, truncated, or of a version this
    release does not read), as a sentence naming the file; None when it is
    fine.  ``check_version``: also open the archive to read its version (a
    segment being opened; later checks of an open segment only look for
    damage, a seek and a 22-byte read)."""
    name = kind.filename(segment)
    n = segment.doc_count_all()
    full = os.path.join(path, name)
    try:
        with open(full, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - _ZIP_END_SIZE))
            tail = f.read(_ZIP_END_SIZE)
    except FileNotFoundError:
        return f"{kind.label} {name} ({n} documents) is missing"
    except OSError as exc:
        return f"{kind.label} {name} ({n} documents) cannot be read: {exc}"
    if len(tail) < _ZIP_END_SIZE or not tail.startswith(_ZIP_END):
        return f"{kind.label} {name} ({n} documents) is truncated ({size} bytes)"
    if check_version:
        try:
            # Opened here so that the file is closed whatever np.load raises.
            with open(full, "rb") as fh, np.load(fh, allow_pickle=False) as npz:
                version = _version(npz)
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            return f"{kind.label} {name} ({n} documents) cannot be read: {exc}"
        if not kind.oldest <= version <= kind.version:
            return (f"{kind.label} {name} ({n} documents) is of version {version}; this release reads "
                    f"versions {kind.oldest} to {kind.version}")
    return None


def problems(path: str, segment, check_version: bool = True) -> str | None:
    """The first ``problem`` of a required kind's file of ``segment`` (a
    kind with ``required=False`` falls back instead), or None."""
    for kind in kinds():
        if kind.required:
            found = problem(path, segment, kind, check_version)
            if found:
                return found
    return None


# ---- reading ------------------------------------------------------------------
def read(storage, segment, kind: SidecarKind) -> Mapping:
    """``kind``'s arrays for ``segment``: a mapping of array name -> numpy
    array (``VERSION_KEY`` left out), adapted to the current version.

    From a directory (``storage.folder``) each array is loaded on first use
    (``LazyArrays``); from other storages the whole file is read.  A file
    that is missing (or, for a kind with ``required=False``, damaged or of
    another version) gives ``kind.fallback(n)``; without a fallback it
    raises ``IndexCorrupt`` naming the file and the repair."""
    name = kind.filename(segment)
    folder = getattr(storage, "folder", None)
    if not kind.required and folder is not None:
        found = problem(folder, segment, kind)
        if found:
            return _fallback(kind, segment, found, folder)
    if not storage.file_exists(name):
        return _fallback(kind, segment, f"{kind.label} {name} is missing", folder)
    if folder is not None:
        return LazyArrays(os.path.join(folder, name), kind)
    f = storage.open_file(name)
    try:
        raw = f.read()
    finally:
        f.close()
    with np.load(io.BytesIO(raw), allow_pickle=False) as data:
        names = frozenset(data.files) - {VERSION_KEY}
        adapt = kind.adapt
        return {k: adapt(k, data[k], names) if adapt else data[k] for k in names}


def _fallback(kind: SidecarKind, segment, found: str, folder: str | None) -> dict:
    if kind.fallback is None:
        raise IndexCorrupt(f"{found}: rebuild the index (`python -m indexer rebuild --index {folder or 'DIR'}`)")
    return kind.fallback(segment.doc_count_all())


class LazyArrays:
    """One sidecar file's arrays, each read from the file when first asked
    for (a proximity query needs docinfo's word bitmaps, not the MinHash
    signatures that make up most of that file, ~5 MB a segment).  A
    read-only mapping: ``in``, ``[name]``, ``get``, ``keys``; thread-safe."""

    def __init__(self, path: str, kind: SidecarKind):
        self._npz = np.load(path, allow_pickle=False)
        self._names = frozenset(self._npz.files) - {VERSION_KEY}
        self._adapt = kind.adapt
        self._arrays: dict = {}
        self._lock = threading.Lock()

    def __del__(self):
        # The archive stays open while its segment is served; closed with
        # the last reference (a leak, and a ResourceWarning, before).
        npz = getattr(self, "_npz", None)
        if npz is not None:
            npz.close()

    def __contains__(self, name) -> bool:
        return name in self._names

    def __getitem__(self, name):
        with self._lock:
            if name not in self._arrays:
                if name not in self._names:
                    raise KeyError(name)
                value = self._npz[name]
                if self._adapt is not None:
                    value = self._adapt(name, value, self._names)
                self._arrays[name] = value
            return self._arrays[name]

    def get(self, name, default=None):
        """The array ``name``, or ``default`` when the file lacks it."""
        return self[name] if name in self._names else default

    def keys(self):
        """The names of the file's arrays (a set)."""
        return set(self._names)
