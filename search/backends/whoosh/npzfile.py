"""Aligned ``.npz`` archives: numpy arrays that can be read in place.

``np.savez`` puts each array wherever its zip entry happens to end, so a
memory-mapped view of it may be misaligned (``np.searchsorted`` then copies
the whole array).  ``write_archive`` writes an uncompressed archive whose
arrays each start on an ``ALIGN``-byte boundary (padding in the zip
entries' extra field, as Android's zipalign does; the ``.npy`` header is
already a multiple of 64 bytes), and ``member_offsets`` says where each
array lies, for memory maps and positional reads.  ``np.load`` reads these
archives as any ``.npz``.  The sidecar files are written with it
(``sidecars.py``).
"""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Mapping

import numpy as np

# Each array's data starts at a multiple of this many bytes in the file.
ALIGN = 64
# The extra-field id of the alignment padding (Android's zipalign uses it;
# zip readers skip extra fields they do not know).
_PAD_ID = 0xD935
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # a zip local file header (30 bytes)


def write_archive(f, arrays: Mapping) -> None:
    """Write ``arrays`` ({name: numpy array}) to the writable binary file
    ``f`` as an uncompressed ``.npz`` archive whose arrays' data each start
    at a multiple of ``ALIGN`` bytes from the file's start (where ``f``'s
    position is now; ``np.load`` reads it as any ``.npz``)."""
    base = f.tell()
    out = _Counting(f)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, value in arrays.items():
            arr = np.ascontiguousarray(value)
            head = _npy_header(arr)
            size = len(head) + arr.nbytes
            zip64 = size > 0x7FFFFFFF  # what zipfile decides for a member of this size
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            info.file_size = size
            start = out.pos + _LOCAL_HEADER.size + len(info.filename.encode("utf-8")) + 4 + (20 if zip64 else 0)
            # The npy header is a multiple of 64 bytes long: pad the entry so
            # that the header, and so the data, starts on an ALIGN boundary.
            pad = (-(base + start)) % ALIGN
            info.extra = struct.pack("<HH", _PAD_ID, pad) + bytes(pad)
            with zf.open(info, "w", force_zip64=zip64) as member:
                if (base + out.pos) % ALIGN:
                    raise AssertionError(f"sidecar array {name} not aligned: zipfile wrote another header")
                member.write(head)
                if arr.nbytes:
                    member.write(memoryview(arr.reshape(-1)).cast("B"))


def _npy_header(arr: np.ndarray) -> bytes:
    """The ``.npy`` magic and header of ``arr`` (version 1.0 when it fits;
    numpy pads it to a multiple of 64 bytes)."""
    fmt = np.lib.format
    header = io.BytesIO()
    try:
        fmt.write_array_header_1_0(header, fmt.header_data_from_array_1_0(arr))
    except ValueError:
        header = io.BytesIO()
        fmt.write_array_header_2_0(header, fmt.header_data_from_array_1_0(arr))
    return header.getvalue()


class _Counting(io.RawIOBase):
    """A write-only stream over ``f`` that knows its position (zipfile
    asks ``tell`` of a stream that may be a Whoosh StructFile)."""

    def __init__(self, f):
        self._f = f
        self.pos = 0

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self._f.write(b)
        n = memoryview(b).nbytes
        self.pos += n
        return n

    def tell(self) -> int:
        return self.pos

    def flush(self) -> None:
        pass


def member_offsets(f, size: int) -> dict[str, tuple[int, np.dtype, tuple]]:
    """Where each array of the archive in the binary file ``f`` (``size``
    bytes long) lies: {name: (offset of its data in the file, dtype,
    shape)}, ``VERSION_KEY`` included, for reading arrays in place (a
    memory map, positional reads).  Only uncompressed C-order arrays are
    accepted.  Raises ValueError naming what is wrong (not an archive, a
    compressed or Fortran-order array, an array past the end of the file)."""
    try:
        infos = zipfile.ZipFile(f).infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, struct.error) as exc:
        raise ValueError(f"not a readable archive ({exc})") from exc
    out = {}
    for info in infos:
        name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
        if info.compress_type != zipfile.ZIP_STORED:
            raise ValueError(f"array {name} is compressed")
        f.seek(info.header_offset)
        head = f.read(_LOCAL_HEADER.size)
        if len(head) < _LOCAL_HEADER.size or head[:4] != b"PK\x03\x04":
            raise ValueError(f"array {name}'s entry is damaged")
        fields = _LOCAL_HEADER.unpack(head)
        start = info.header_offset + _LOCAL_HEADER.size + fields[-2] + fields[-1]
        f.seek(start)
        try:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        except ValueError as exc:
            raise ValueError(f"array {name}'s header is damaged ({exc})") from exc
        if fortran or dtype.hasobject:
            raise ValueError(f"array {name} is not a plain C-order array")
        offset = f.tell()
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if offset + nbytes > size or start + info.file_size > size:
            raise ValueError(f"array {name} ends past the end of the file ({size} bytes)")
        out[name] = (offset, dtype, tuple(shape))
    return out
