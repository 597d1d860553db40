"""Read compound segments without copying them into memory.

whoosh3's ``BufferFile`` (used for every file inside a compound ``.seg``)
wraps its memoryview slice of the mmap in ``io.BytesIO``, and BytesIO copies
a memoryview: opening an index made each gunicorn worker hold a private copy
of the whole index (4.8 GB resident for our 2.2 GB index).  This replaces
that BytesIO with a small read-only file object over the memoryview, so the
operating system's page cache is shared by all workers.
"""

from __future__ import annotations

import io
import os

from whoosh.filedb import structfile


class MemoryReader(io.RawIOBase):
    """Read-only, seekable file over a buffer; never copies the buffer."""

    def __init__(self, buf):
        self._buf = memoryview(buf)
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        end = len(self._buf) if n is None or n < 0 else min(len(self._buf), self._pos + n)
        data = self._buf[self._pos:end].tobytes()
        self._pos = end
        return data

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def seek(self, pos: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET:
            self._pos = pos
        elif whence == os.SEEK_CUR:
            self._pos += pos
        else:
            self._pos = len(self._buf) + pos
        return self._pos

    def tell(self) -> int:
        return self._pos

    def getvalue(self) -> bytes:
        return self._buf.tobytes()

    def close(self) -> None:
        if not self.closed:
            self._buf.release()  # let the parent mmap close cleanly
        super().close()


_original_init = structfile.BufferFile.__init__


def _init(self, buf, name=None, onclose=None):
    _original_init(self, b"", name=name, onclose=onclose)
    self._buf = buf
    self.file = MemoryReader(buf)


def install() -> None:
    if structfile.BufferFile.__init__ is not _init:
        structfile.BufferFile.__init__ = _init
