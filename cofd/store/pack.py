"""Pack file format: a header, self-describing records, and a footer once sealed.

Layout (all integers little-endian; full description in docs/format.md)::

    header   b"COFPACK" + version byte (1)
    record   magic b"\\xc0\\xfb", codec u8, count u16, stored_len u32,
             count x (block id 32 bytes, raw_len u32), stored bytes
    footer   b"COFFOOT" + version, count u32, count x record offset u64,
             footer_len u32, b"COFEND1"

Every record names the blocks it holds, so the index can be rebuilt by scanning
packs alone. A sealed pack is never modified; the active pack of a tier is appended
to and, after a crash, truncated back to the length the index last committed.
"""

from __future__ import annotations

import enum
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from cofd.store.ids import ID_LEN, BlockId
from protocol.errors import IntegrityError

PACK_MAGIC = b"COFPACK\x01"
RECORD_MAGIC = b"\xc0\xfb"
FOOTER_MAGIC = b"COFFOOT\x01"
END_MAGIC = b"COFEND1"

_RECORD_HEAD = struct.Struct("<2sBHI")  # magic, codec, count, stored_len
_MEMBER = struct.Struct(f"<{ID_LEN}sI")  # block id, raw_len
_FOOTER_TAIL = struct.Struct("<I7s")  # footer_len, END_MAGIC

# A frame holds at most this many blocks (1 MiB of 4 KiB blocks); the decoder
# refuses larger counts before allocating anything.
MAX_FRAME_BLOCKS = 256
# Largest stored record: a frame of incompressible data plus zstd overhead.
MAX_STORED_LEN = MAX_FRAME_BLOCKS * 65536 + 65536
# A pack is sealed when it reaches this size: big enough that a 10 GiB repository
# has ~40 packs (few file descriptors), small enough that compaction of one pack
# is a bounded amount of work.
PACK_TARGET_BYTES = 256 * 1024 * 1024


class Codec(enum.IntEnum):
    RAW = 0
    ZSTD = 1


class Tier(enum.IntEnum):
    HOT = 0
    WARM = 1
    COLD = 2

    @property
    def dirname(self) -> str:
        return self.name.lower()


class Member(NamedTuple):
    block_id: BlockId
    raw_len: int


@dataclass(frozen=True, slots=True)
class Record:
    """A record's header as found in a pack; ``data_offset`` is where its bytes start."""

    offset: int
    data_offset: int
    codec: Codec
    stored_len: int
    members: tuple[Member, ...]

    @property
    def end(self) -> int:
        return self.data_offset + self.stored_len


def encode_record(codec: Codec, members: list[Member], stored: bytes | memoryview) -> bytes:
    head = _RECORD_HEAD.pack(RECORD_MAGIC, codec, len(members), len(stored))
    return head + b"".join(_MEMBER.pack(m.block_id, m.raw_len) for m in members)


def record_header_len(count: int) -> int:
    return _RECORD_HEAD.size + count * _MEMBER.size


def pack_path(objects_dir: Path, tier: Tier, number: int) -> Path:
    return objects_dir / tier.dirname / f"{number:08d}.pack"


def parse_record_header(fd: int, offset: int, limit: int, where: str) -> Record:
    """Read and validate the record header at ``offset``; never reads past ``limit``."""
    head = os.pread(fd, _RECORD_HEAD.size, offset)
    if len(head) < _RECORD_HEAD.size:
        raise IntegrityError(f"{where}: truncated record header at offset {offset}")
    magic, codec, count, stored_len = _RECORD_HEAD.unpack(head)
    if magic != RECORD_MAGIC or codec not in (0, 1) or not 1 <= count <= MAX_FRAME_BLOCKS:
        raise IntegrityError(f"{where}: bad record header at offset {offset}")
    if stored_len > MAX_STORED_LEN:
        raise IntegrityError(f"{where}: record at offset {offset} claims {stored_len} bytes")
    members_len = count * _MEMBER.size
    data_offset = offset + _RECORD_HEAD.size + members_len
    if data_offset + stored_len > limit:
        raise IntegrityError(f"{where}: record at offset {offset} runs past end of pack")
    raw = os.pread(fd, members_len, offset + _RECORD_HEAD.size)
    members = tuple(Member(BlockId(bid), raw_len) for bid, raw_len in _MEMBER.iter_unpack(raw))
    return Record(offset, data_offset, Codec(codec), stored_len, members)


def scan_records(fd: int, length: int, where: str) -> Iterator[Record]:
    """Walk records from the header to ``length`` (the end of data, before any footer)."""
    if os.pread(fd, len(PACK_MAGIC), 0) != PACK_MAGIC:
        raise IntegrityError(f"{where}: not a cof pack (bad header)")
    offset = len(PACK_MAGIC)
    while offset < length:
        record = parse_record_header(fd, offset, length, where)
        yield record
        offset = record.end


def encode_footer(offsets: list[int]) -> bytes:
    body = FOOTER_MAGIC + struct.pack("<I", len(offsets))
    body += struct.pack(f"<{len(offsets)}Q", *offsets)
    return body + _FOOTER_TAIL.pack(len(body) + _FOOTER_TAIL.size, END_MAGIC)


def read_footer(fd: int, size: int, where: str) -> tuple[int, list[int]] | None:
    """Return (end of record data, record offsets) for a sealed pack, None if unsealed."""
    if size < len(PACK_MAGIC) + _FOOTER_TAIL.size:
        return None
    footer_len, end = _FOOTER_TAIL.unpack(os.pread(fd, _FOOTER_TAIL.size, size - _FOOTER_TAIL.size))
    if end != END_MAGIC:
        return None
    start = size - footer_len
    if footer_len < len(FOOTER_MAGIC) + 4 + _FOOTER_TAIL.size or start < len(PACK_MAGIC):
        raise IntegrityError(f"{where}: bad footer length")
    body = os.pread(fd, footer_len - _FOOTER_TAIL.size, start)
    if body[: len(FOOTER_MAGIC)] != FOOTER_MAGIC:
        raise IntegrityError(f"{where}: bad footer magic")
    (count,) = struct.unpack_from("<I", body, len(FOOTER_MAGIC))
    if len(body) != len(FOOTER_MAGIC) + 4 + 8 * count:
        raise IntegrityError(f"{where}: footer length does not match its record count")
    offsets = list(struct.unpack_from(f"<{count}Q", body, len(FOOTER_MAGIC) + 4))
    return start, offsets


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
