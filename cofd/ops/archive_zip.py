"""``archive``'s zip, laid out as git's ``archive --format=zip`` lays it out.

Per member, as git: a plain file or directory carries MS-DOS attributes (0, or 0x10
for a directory) and "made by" 0; an executable or a symlink its Unix mode, "made
by" Unix 2.3. Every member has the MS-DOS time (local time, as git writes it) and
Info-ZIP's extended-timestamp field (UTC), the internal "text" bit when its first
8000 bytes hold no NUL, and "version needed" 1.0. A file is deflated at the level
asked (``-1`` to ``-9``; 6 by default) unless that does not make it smaller, or it
is empty, or the level is 0: then it is stored. The archive's comment is the id of
the commit archived, if one was.

Sizes and CRC are in each local header, as git writes them, so they are known
before the data: a file is deflated once, into a spool (memory up to
``BUFFERED_BYTES``, then an unnamed file in ``.cof/tmp``: no file is held whole), and
the spool is copied out after the header; a file deflate does not shrink is read
again from the store and stored (a 256 MiB file that deflates to 58%: 9.0 s, git
8.8 s; deflating it twice took 16.7 s). Above ``BIG_FILE_BYTES`` git streams a file
(deflated whatever it gives, sizes and CRC in a data descriptor after the data); so
does this. ZIP64 fields appear where git writes
them: for a streamed file over 2 GiB, and for sizes, offsets and counts past the
32- and 16-bit fields.
"""

from __future__ import annotations

import io
import struct
import tempfile
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO

from cofd.objects.model import Kind, TreeEntry
from cofd.ops.content_io import OUTPUT_BUFFER_BYTES
from cofd.ops.repository import Repository

STORED, DEFLATED = 0, 8
FLAG_DATA_DESCRIPTOR = 1 << 3
FLAG_UTF8 = 1 << 11  # the name is UTF-8 (set, as git, only for a name that is not ASCII)
VERSION_NEEDED = 10  # git's "1.0" whatever the method
VERSION_ZIP64 = 45
UNIX_CREATOR = 0x0317  # made by Unix, zip 2.3: git's for a member with a Unix mode
DOS_DIRECTORY = 0x10
MTIME_TAG = 0x5455  # "UT": Info-ZIP's extended timestamp (flags 1: mtime only)
ZIP64_TAG = 0x0001
LIMIT32, LIMIT16 = 0xFFFFFFFF, 0xFFFF
STREAMED_ZIP64_SIZE = 0x7FFFFFFF  # git gives a streamed file ZIP64 fields past this
BIG_FILE_BYTES = 512 * 1024 * 1024  # git's core.bigFileThreshold default
BUFFERED_BYTES = OUTPUT_BUFFER_BYTES  # files up to this are read once and kept
BINARY_PROBE_BYTES = 8000  # git's buffer_is_binary: a NUL among these many first bytes
RAW_DEFLATE = -zlib.MAX_WBITS  # a zip member's data is deflate without zlib's wrapping

_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")
_END64 = struct.Struct("<IQHHIIQQQQ")
_LOCATOR64 = struct.Struct("<IIQI")
_DESCRIPTOR = struct.Struct("<IIII")
_DESCRIPTOR64 = struct.Struct("<IIQQ")
_LOCAL_SIG, _CENTRAL_SIG, _DESCRIPTOR_SIG = 0x04034B50, 0x02014B50, 0x08074B50
_END_SIG, _END64_SIG, _LOCATOR64_SIG = 0x06054B50, 0x06064B50, 0x07064B50


@dataclass(slots=True)
class _Member:
    """One member's header fields, filled in as they become known."""

    name: bytes
    flags: int
    method: int
    creator: int = 0
    attr: int = 0  # external attributes: MS-DOS's, or a Unix mode in the high half
    text: bool = False
    crc: int = 0
    size: int = 0
    packed: int = 0  # the size of the data as stored
    offset: int = 0
    version: int = VERSION_NEEDED


def _clamp32(n: int) -> int:
    return min(n, LIMIT32)


def _probe(head: bytes, chunk: bytes | memoryview) -> bytes:
    """``head`` grown by ``chunk`` up to the bytes git looks at for a NUL."""
    missing = BINARY_PROBE_BYTES - len(head)
    return head + bytes(chunk[:missing]) if missing > 0 else head


def is_text(head: bytes) -> bool:
    """git's test (buffer_is_binary): no NUL among the first ``BINARY_PROBE_BYTES``."""
    return b"\0" not in head[:BINARY_PROBE_BYTES]


class ZipWriter:
    """A zip of members added in order, dated ``mtime``, written to ``out``."""

    def __init__(
        self, repo: Repository, out: io.BufferedIOBase, mtime: int, comment: bytes, level: int
    ) -> None:
        self.repo, self._out, self._level, self._comment = repo, out, level, comment
        local = time.localtime(mtime)
        self._dos_time = (local.tm_hour << 11 | local.tm_min << 5 | local.tm_sec // 2) & LIMIT16
        self._dos_date = ((local.tm_year - 1980) << 9 | local.tm_mon << 5 | local.tm_mday) & LIMIT16
        self._mtime_field = struct.pack("<HHBI", MTIME_TAG, 5, 1, mtime & LIMIT32)
        self._offset = 0
        self._directory = bytearray()
        self._count = 0
        self._max_creator = 0

    # -- members ----------------------------------------------------------------------

    def add(self, name: str, entry: TreeEntry) -> None:
        raw = name.encode("utf-8", "surrogateescape")
        member = _Member(raw, 0 if raw.isascii() else FLAG_UTF8, STORED)
        if entry.kind == Kind.DIR:
            member.attr = DOS_DIRECTORY
            self._write_known(member, [])
            return
        if entry.kind == Kind.SYMLINK or entry.mode & 0o111:
            member.creator = UNIX_CREATOR
            mode = 0o120777 if entry.kind == Kind.SYMLINK else entry.mode
            member.attr = mode << 16
        if entry.kind == Kind.FILE and entry.size > 0 and self._level != 0:
            member.method = DEFLATED
        member.size = entry.size
        if entry.kind == Kind.FILE and entry.size > BIG_FILE_BYTES:
            self._write_streamed(member, entry)
            return
        # The deflated bytes wait in memory, or on disk past BUFFERED_BYTES (in .cof,
        # unnamed: nothing is left behind), until the header that gives their size.
        with tempfile.SpooledTemporaryFile(BUFFERED_BYTES, dir=str(self.repo.temp_dir)) as spool:
            kept = [b"".join(self._runs(entry))] if entry.size <= BUFFERED_BYTES else None
            self._measure(member, kept or self._runs(entry), spool)
            if member.method == DEFLATED:
                spool.seek(0)
                self._write_known(member, iter(lambda: spool.read(BUFFERED_BYTES), b""))
            else:
                self._write_known(member, kept or self._runs(entry))

    def _runs(self, entry: TreeEntry) -> Iterator[bytes | memoryview]:
        return self.repo.objects.iter_content_runs(entry.id, entry.size)

    def _measure(
        self, member: _Member, chunks: Iterable[bytes | memoryview], spool: IO[bytes]
    ) -> None:
        """Fill in the CRC, the text bit and how the data is stored: deflated (into
        ``spool``) only if that makes it smaller, as git."""
        crc, head, packed = 0, b"", 0
        deflate = self._deflater() if member.method == DEFLATED else None
        for chunk in chunks:
            crc, head = zlib.crc32(chunk, crc), _probe(head, chunk)
            if deflate is not None:
                packed += spool.write(deflate.compress(chunk))
                if packed >= member.size:  # it can only grow: stored, whatever follows
                    deflate = None
        if deflate is not None:
            packed += spool.write(deflate.flush())
        if member.method == DEFLATED and packed >= member.size:
            member.method = STORED
        member.crc, member.text = crc, is_text(head)
        member.packed = packed if member.method == DEFLATED else member.size

    def _write_known(self, member: _Member, data: Iterable[bytes | memoryview]) -> None:
        """A member whose sizes and CRC are in its local header."""
        member.offset = self._offset
        self._write_local(member, member.crc, member.packed, member.size, zip64=False)
        written = sum(self._write(chunk) for chunk in data)
        if written != member.packed:  # a bug, not bad data: every block read is verified
            raise RuntimeError(f"zip member {member.name!r}: {written} bytes, not {member.packed}")
        self._record(member)

    def _write_streamed(self, member: _Member, entry: TreeEntry) -> None:
        """A big file as git streams it: CRC and sizes in a descriptor after it."""
        member.flags |= FLAG_DATA_DESCRIPTOR
        member.offset = self._offset
        zip64 = member.size > STREAMED_ZIP64_SIZE
        if zip64:
            member.version = VERSION_ZIP64
        placeholder = member.size if member.method == STORED else 0  # as git's header
        self._write_local(member, 0, placeholder, member.size, zip64)
        crc, head, written = 0, b"", 0
        deflate = self._deflater() if member.method == DEFLATED else None
        for chunk in self._runs(entry):
            crc, head = zlib.crc32(chunk, crc), _probe(head, chunk)
            written += self._write(deflate.compress(chunk) if deflate is not None else chunk)
        if deflate is not None:
            written += self._write(deflate.flush())
        member.crc, member.text, member.packed = crc, is_text(head), written
        if member.size >= LIMIT32 or member.packed >= LIMIT32:
            self._write(_DESCRIPTOR64.pack(_DESCRIPTOR_SIG, crc, member.packed, member.size))
        else:
            self._write(_DESCRIPTOR.pack(_DESCRIPTOR_SIG, crc, member.packed, member.size))
        self._record(member)

    def _deflater(self) -> zlib._Compress:
        return zlib.compressobj(self._level, zlib.DEFLATED, RAW_DEFLATE)

    # -- records ----------------------------------------------------------------------

    def _write(self, data: bytes | memoryview) -> int:
        self._out.write(data)
        self._offset += len(data)
        return len(data)

    def _write_local(self, member: _Member, crc: int, packed: int, size: int, zip64: bool) -> None:
        extra = self._mtime_field
        if zip64:
            extra += struct.pack("<HHQQ", ZIP64_TAG, 16, size, packed)
            packed = size = LIMIT32
        header = _LOCAL.pack(
            _LOCAL_SIG,
            member.version,
            member.flags,
            member.method,
            self._dos_time,
            self._dos_date,
            crc,
            packed,
            size,
            len(member.name),
            len(extra),
        )
        self._write(header + member.name + extra)

    def _record(self, member: _Member) -> None:
        """The member's central directory entry, kept for ``close``."""
        wide = [
            struct.pack("<Q", n)
            for n in (member.size, member.packed, member.offset)
            if n >= LIMIT32
        ]
        extra = self._mtime_field
        if wide:
            payload = b"".join(wide)
            extra += struct.pack("<HH", ZIP64_TAG, len(payload)) + payload
        self._directory += _CENTRAL.pack(
            _CENTRAL_SIG,
            member.creator,
            member.version,
            member.flags,
            member.method,
            self._dos_time,
            self._dos_date,
            member.crc,
            _clamp32(member.packed),
            _clamp32(member.size),
            len(member.name),
            len(extra),
            0,  # comment
            0,  # disk
            int(member.text),
            member.attr,
            _clamp32(member.offset),
        )
        self._directory += member.name + extra
        self._count += 1
        self._max_creator = max(self._max_creator, member.creator)

    def close(self) -> None:
        """The central directory and the end records (ZIP64 ones when counts or the
        directory's offset do not fit the classic fields), then the comment."""
        start, size = self._offset, len(self._directory)
        self._write(memoryview(self._directory))
        if self._count > LIMIT16 or start > LIMIT32:
            self._write(
                _END64.pack(
                    _END64_SIG,
                    _END64.size - 12,  # the record's size after its first two fields
                    self._max_creator,
                    VERSION_ZIP64,
                    0,
                    0,
                    self._count,
                    self._count,
                    size,
                    start,
                )
            )
            self._write(_LOCATOR64.pack(_LOCATOR64_SIG, 0, start + size, 1))
        count = min(self._count, LIMIT16)
        end = _END.pack(
            _END_SIG, 0, 0, count, count, _clamp32(size), _clamp32(start), len(self._comment)
        )
        self._write(end + self._comment)
