"""``archive``'s tar and tar.gz, as git writes them.

Members: files 0664 or 0775, directories 0775, symlinks 0777 (git's ``tar.umask`` of
002 applied), owned by root, dated the archive's time. An archive of a commit starts,
as git's, with a pax global header whose ``comment`` record is the commit's id: git's
``get-tar-commit-id`` reads it back (cof's 64-digit ids have the length of git's
SHA-256 ids, which it accepts). The header block is built here byte for byte as git
builds it (``tarfile`` would name it ``././@PaxHeader``, with mode 0 and no owner).

tar.gz is git's built-in filter: zlib's gzip wrapping (no name, time 0, OS Unix)
at the level asked (``-0`` to ``-9``; 6 by default).
"""

from __future__ import annotations

import io
import tarfile
import zlib
from typing import Any

from cofd.objects.model import Kind, TreeEntry
from cofd.ops.content_io import open_content
from cofd.ops.repository import Repository

TAR_UMASK = 0o002  # git's default tar.umask
GZIP_WINDOW = 16 + zlib.MAX_WBITS  # zlib's gzip wrapping, as git's built-in filter
GLOBAL_HEADER_NAME = b"pax_global_header"
GLOBAL_HEADER_MODE = 0o666
USTAR_MAX_MTIME = 8**11 - 1  # what 11 octal digits hold (in the year 2242)
# (offset, width) of the ustar header fields git fills in its global header.
_NAME = (0, 100)
_MODE = (100, 8)
_UID = (108, 8)
_GID = (116, 8)
_SIZE = (124, 12)
_MTIME = (136, 12)
_CHKSUM = (148, 8)
_TYPE = 156
_MAGIC = (257, 8)  # "ustar\0" and version "00"
_UNAME = (265, 32)
_GNAME = (297, 32)
_DEVMAJOR = (329, 8)
_DEVMINOR = (337, 8)


def pax_record(key: str, value: str) -> bytes:
    """``LEN KEY=VALUE\\n``, LEN counting the whole record, its own digits included."""
    body = f" {key}={value}\n".encode()
    length = len(body) + 1
    while len(str(length)) + len(body) != length:
        length += 1
    return str(length).encode() + body


def _field(header: bytearray, where: tuple[int, int], value: bytes) -> None:
    start, width = where
    header[start : start + len(value)] = value[:width]


def global_header(commit_hex: str, mtime: int) -> tuple[bytes, bytes]:
    """The 512-byte header and the records of git's pax global header for a commit."""
    records = pax_record("comment", commit_hex)
    header = bytearray(tarfile.BLOCKSIZE)
    _field(header, _NAME, GLOBAL_HEADER_NAME)
    _field(header, _MODE, b"%07o\0" % GLOBAL_HEADER_MODE)
    _field(header, _UID, b"%07o\0" % 0)
    _field(header, _GID, b"%07o\0" % 0)
    _field(header, _SIZE, b"%011o\0" % len(records))
    _field(header, _MTIME, b"%011o\0" % min(mtime, USTAR_MAX_MTIME))
    header[_TYPE] = ord(tarfile.XGLTYPE)
    _field(header, _MAGIC, b"ustar\x0000")
    _field(header, _UNAME, b"root\0")
    _field(header, _GNAME, b"root\0")
    _field(header, _DEVMAJOR, b"%07o\0" % 0)
    _field(header, _DEVMINOR, b"%07o\0" % 0)
    _field(header, _CHKSUM, b" " * 8)  # counted as spaces, as the format says
    _field(header, _CHKSUM, b"%07o\0" % sum(header))
    return bytes(header), records


class _GlobalHeader(tarfile.TarInfo):
    """A member whose header is git's global header, so that ``tarfile`` writes it
    (and pads it, and counts it towards the final record) like any other."""

    def __init__(self, commit_hex: str, mtime: int) -> None:
        self._block, self.records = global_header(commit_hex, mtime)
        super().__init__(GLOBAL_HEADER_NAME.decode())
        self.type, self.size = tarfile.XGLTYPE, len(self.records)

    def tobuf(self, format: Any = None, encoding: Any = None, errors: Any = None) -> bytes:
        return self._block


class GzipFilter(io.RawIOBase):
    """Compresses what is written into ``out`` as a gzip stream; ``finish`` ends it."""

    def __init__(self, out: io.BufferedIOBase, level: int) -> None:
        super().__init__()
        self._out = out
        self._zlib = zlib.compressobj(level, zlib.DEFLATED, GZIP_WINDOW)

    def writable(self) -> bool:
        return True

    def write(self, data: Any, /) -> int:
        self._out.write(self._zlib.compress(data))
        return len(data)

    def finish(self) -> None:
        self._out.write(self._zlib.flush())


class TarWriter:
    """A tar (or with ``gzip_level``, tar.gz) of members added in order."""

    def __init__(
        self,
        repo: Repository,
        out: io.BufferedIOBase,
        mtime: int,
        commit_hex: str | None,
        gzip_level: int | None,
    ) -> None:
        self.repo, self.mtime = repo, mtime
        self._gzip = GzipFilter(out, gzip_level) if gzip_level is not None else None
        # Closed by close(), with the gzip filter behind it.
        self._tar = tarfile.open(  # noqa: SIM115
            fileobj=self._gzip or out, mode="w|", format=tarfile.PAX_FORMAT
        )
        if commit_hex is not None:
            header = _GlobalHeader(commit_hex, mtime)
            self._tar.addfile(header, io.BytesIO(header.records))

    def add(self, name: str, entry: TreeEntry) -> None:
        info = tarfile.TarInfo(name.rstrip("/"))
        info.mtime, info.uname, info.gname = self.mtime, "root", "root"
        if entry.kind == Kind.DIR:
            info.type, info.mode = tarfile.DIRTYPE, 0o777 & ~TAR_UMASK
            self._tar.addfile(info)
        elif entry.kind == Kind.SYMLINK:
            info.type, info.mode = tarfile.SYMTYPE, 0o777
            with open_content(self.repo, entry.id, entry.size) as reader:
                info.linkname = reader.read().decode("utf-8", "surrogateescape")
            self._tar.addfile(info)
        else:
            info.size = entry.size
            info.mode = (0o777 if entry.mode & 0o100 else 0o666) & ~TAR_UMASK
            with open_content(self.repo, entry.id, entry.size) as reader:
                self._tar.addfile(info, reader)

    def close(self) -> None:
        self._tar.close()
        if self._gzip is not None:
            self._gzip.finish()
