"""Read compound segments with positional reads (``os.pread``), not mmap.

whoosh3 maps each compound ``.seg`` file and, in ``BufferFile``, copies its
slice into ``io.BytesIO``: every gunicorn worker held a private copy of the
whole index (4.8 GB resident for our 2.2 GB index).  Even without the copy,
every mapped page a worker touches counts in its resident memory, so a
busy worker grew towards the index size.  Reading with ``pread`` leaves the
index's bytes in the operating system's page cache, shared by all workers
and counted in none: a worker holds only what it decodes (bounded by the
postings cache).  ``pread`` carries its own offset, so threads share a file
without a lock.
"""

from __future__ import annotations

import io
import os
from array import array

from whoosh.filedb import compound
from whoosh.filedb.structfile import _SIZEMAP, IS_LITTLE, StructFile


class SharedDescriptor:
    """A file descriptor closed only when its last reader is gone, so a
    search still running on an old view never reads through a descriptor
    that was closed and reused for another file."""

    def __init__(self, fd: int):
        self.fd = os.dup(fd)

    def __del__(self):
        try:
            os.close(self.fd)
        except OSError:
            pass


class _PreadStream(io.RawIOBase):
    """Sequential reads within [base, base + length) for the file's owner."""

    def __init__(self, handle: SharedDescriptor, base: int, length: int):
        self._handle, self._base, self._length, self._pos = handle, base, length, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = max(0, min(len(b), self._length - self._pos))
        data = os.pread(self._handle.fd, n, self._base + self._pos)
        b[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def seek(self, pos: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET:
            self._pos = pos
        elif whence == os.SEEK_CUR:
            self._pos += pos
        else:
            self._pos = self._length + pos
        return self._pos

    def tell(self) -> int:
        return self._pos


class PreadFile(StructFile):
    """A file inside a compound segment.  Random access (``get`` and every
    ``get_*`` built on it) is one ``pread`` and safe to share between
    threads."""

    def __init__(self, handle: SharedDescriptor, base: int, length: int, name: str | None = None):
        StructFile.__init__(self, io.BufferedReader(_PreadStream(handle, base, length)), name=name)
        self.is_real = False
        self._handle, self._base, self._length = handle, base, length

    def get(self, position: int, length: int) -> bytes:
        """``length`` bytes from ``position`` (offsets within this file),
        fewer at its end: one ``pread``."""
        length = max(0, min(length, self._length - position))
        return os.pread(self._handle.fd, length, self._base + position)

    def get_array(self, position: int, typecode: str, length: int) -> array:
        """``length`` big-endian items of ``typecode`` from ``position``, as
        a native ``array`` (what ``StructFile.get_array`` returns)."""
        a = array(typecode)
        a.frombytes(self.get(position, length * _SIZEMAP[typecode]))
        if IS_LITTLE:
            a.byteswap()
        return a

    def subset(self, position: int, length: int, name: str | None = None) -> "PreadFile":
        """The ``length`` bytes from ``position`` as a file of their own,
        sharing this file's descriptor."""
        return PreadFile(self._handle, self._base + position, length, name=name or self._name)


_original_init = compound.CompoundStorage.__init__


def _init(self, dbfile, use_mmap=True, basepos=0):
    _original_init(self, dbfile, use_mmap=False, basepos=basepos)
    self._shared = SharedDescriptor(self._file.fileno())
    self._file.close()  # the duplicate descriptor is all readers need
    self._file = None


def _open_file(self, name, *args, **kwargs):
    if self.is_closed:
        raise compound.StorageError("Storage was closed")
    offset, length = self.range(name)
    return PreadFile(self._shared, offset, length, name=name)


def _close(self):
    if self.is_closed:
        raise Exception("Already closed")
    self.is_closed = True
    self._shared = None  # the descriptor closes when its last reader is gone


def install() -> None:
    """Route every compound segment whoosh opens through ``PreadFile``."""
    if compound.CompoundStorage.__init__ is not _init:
        compound.CompoundStorage.__init__ = _init
        compound.CompoundStorage.open_file = _open_file
        compound.CompoundStorage.close = _close
