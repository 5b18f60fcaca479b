"""Pack file format: records, footers, and the decoder's refusal of bad headers."""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from cofd.store import pack as pack_mod
from cofd.store.blockstore import BlockStore
from cofd.store.ids import hash_block
from cofd.store.pack import (
    MAX_FRAME_BLOCKS,
    MAX_STORED_LEN,
    PACK_MAGIC,
    RECORD_MAGIC,
    Codec,
    Member,
    Tier,
    encode_footer,
    encode_record,
    pack_path,
    read_footer,
    record_header_len,
    scan_records,
)
from protocol.errors import IntegrityError

HEAD = struct.Struct("<2sBHI")


def member(data: bytes) -> Member:
    return Member(hash_block(data), len(data))


def build_pack(path: Path, records: list[tuple[Codec, list[bytes]]]) -> list[int]:
    """Write a pack of the given records by hand; return their offsets."""
    out = bytearray(PACK_MAGIC)
    offsets = []
    for codec, blocks in records:
        offsets.append(len(out))
        stored = b"".join(blocks)
        out += encode_record(codec, [member(b) for b in blocks], stored)
        out += stored
    path.write_bytes(bytes(out))
    return offsets


@pytest.fixture
def fd_of(tmp_path: Path) -> Iterator[object]:
    fds: list[int] = []

    def opener(path: Path) -> int:
        fd = os.open(path, os.O_RDONLY)
        fds.append(fd)
        return fd

    yield opener
    for fd in fds:
        os.close(fd)


def test_records_round_trip_through_scan(tmp_path: Path, fd_of) -> None:
    blocks = [b"", b"a", b"hello" * 800, bytes(range(256)) * 16]
    path = tmp_path / "00000001.pack"
    offsets = build_pack(
        path, [(Codec.RAW, [blocks[0]]), (Codec.RAW, [blocks[1]]), (Codec.ZSTD, blocks[2:])]
    )
    fd = fd_of(path)
    records = list(scan_records(fd, path.stat().st_size, str(path)))
    assert [r.offset for r in records] == offsets
    assert [r.codec for r in records] == [Codec.RAW, Codec.RAW, Codec.ZSTD]
    assert records[2].members == (member(blocks[2]), member(blocks[3]))
    for record, expected in zip(records, [[blocks[0]], [blocks[1]], blocks[2:]], strict=True):
        assert record.data_offset == record.offset + record_header_len(len(record.members))
        assert os.pread(fd, record.stored_len, record.data_offset) == b"".join(expected)
    assert records[-1].end == path.stat().st_size


def test_footer_round_trip_and_unsealed_pack(tmp_path: Path, fd_of) -> None:
    path = tmp_path / "p.pack"
    offsets = build_pack(path, [(Codec.RAW, [b"x" * 100]), (Codec.RAW, [b"y" * 7])])
    data_end = path.stat().st_size
    fd = fd_of(path)
    assert read_footer(fd, data_end, "p") is None  # not sealed yet
    with path.open("ab") as fh:
        fh.write(encode_footer(offsets))
    fd2 = fd_of(path)
    assert read_footer(fd2, path.stat().st_size, "p") == (data_end, offsets)
    assert [r.offset for r in scan_records(fd2, data_end, "p")] == offsets


def test_empty_footer(tmp_path: Path, fd_of) -> None:
    path = tmp_path / "p.pack"
    path.write_bytes(PACK_MAGIC + encode_footer([]))
    assert read_footer(fd_of(path), path.stat().st_size, "p") == (len(PACK_MAGIC), [])


def test_bad_footer_length_and_magic(tmp_path: Path, fd_of) -> None:
    path = tmp_path / "p.pack"
    offsets = build_pack(path, [(Codec.RAW, [b"z" * 10])])
    footer = bytearray(encode_footer(offsets))
    lying = footer[:-11] + struct.pack("<I", 10**6) + footer[-7:]
    path.write_bytes(path.read_bytes() + bytes(lying))
    with pytest.raises(IntegrityError, match="bad footer length"):
        read_footer(fd_of(path), path.stat().st_size, "p")

    path2 = tmp_path / "q.pack"
    build_pack(path2, [(Codec.RAW, [b"z" * 10])])
    footer[0:1] = b"X"
    path2.write_bytes(path2.read_bytes() + bytes(footer))
    with pytest.raises(IntegrityError, match="bad footer magic"):
        read_footer(fd_of(path2), path2.stat().st_size, "q")


def corrupt_at(path: Path, offset: int, data: bytes) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset : offset + len(data)] = data
    path.write_bytes(bytes(raw))


def test_bad_pack_header(tmp_path: Path, fd_of) -> None:
    path = tmp_path / "p.pack"
    build_pack(path, [(Codec.RAW, [b"abc"])])
    corrupt_at(path, 0, b"NOTPACK")
    with pytest.raises(IntegrityError, match="bad header"):
        list(scan_records(fd_of(path), path.stat().st_size, "p"))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("magic", b"\x00\x00", "bad record header"),
        ("codec", 7, "bad record header"),
        ("count", 0, "bad record header"),
        ("count", MAX_FRAME_BLOCKS + 1, "bad record header"),
        ("stored_len", MAX_STORED_LEN + 1, "claims"),
        ("stored_len", 1000, "runs past end of pack"),
    ],
)
def test_corrupted_record_header(tmp_path: Path, fd_of, field: str, value, message) -> None:
    path = tmp_path / "p.pack"
    build_pack(path, [(Codec.RAW, [b"abc"])])
    off = len(PACK_MAGIC)
    magic, codec, count, stored_len = HEAD.unpack_from(path.read_bytes(), off)
    values = {"magic": magic, "codec": codec, "count": count, "stored_len": stored_len}
    values[field] = value
    corrupt_at(
        path,
        off,
        HEAD.pack(values["magic"], values["codec"], values["count"], values["stored_len"]),
    )
    with pytest.raises(IntegrityError, match=message):
        list(scan_records(fd_of(path), path.stat().st_size, "p"))


def test_truncated_record_header(tmp_path: Path, fd_of) -> None:
    path = tmp_path / "p.pack"
    path.write_bytes(PACK_MAGIC + RECORD_MAGIC + b"\x00")
    with pytest.raises(IntegrityError, match="truncated record header"):
        list(scan_records(fd_of(path), path.stat().st_size, "p"))


class CountingPread:
    """Records the sizes requested from os.pread (spy only; reads still happen)."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self._real = os.pread

    def __call__(self, fd: int, n: int, offset: int) -> bytes:
        self.sizes.append(n)
        return self._real(fd, n, offset)


@pytest.mark.parametrize(
    ("count", "stored_len"),
    [(MAX_FRAME_BLOCKS + 1, 10), (65535, 10), (1, MAX_STORED_LEN + 1), (1, 0xFFFFFFFF)],
)
def test_limits_refused_before_reading_data(
    tmp_path: Path, fd_of, monkeypatch: pytest.MonkeyPatch, count: int, stored_len: int
) -> None:
    path = tmp_path / "p.pack"
    # A header that claims a huge count or length, in a file far larger than the
    # claim, so only the limit check (not the end-of-pack check) can refuse it.
    body = HEAD.pack(RECORD_MAGIC, Codec.RAW, count, stored_len)
    path.write_bytes(PACK_MAGIC + body + b"\0" * 64)
    spy = CountingPread()
    monkeypatch.setattr(pack_mod.os, "pread", spy)
    with pytest.raises(IntegrityError):
        list(scan_records(fd_of(path), 2**40, "p"))
    # Only the pack magic and the fixed record head were read: no member list, no data.
    assert spy.sizes == [len(PACK_MAGIC), HEAD.size]


def test_store_seals_pack_on_rollover_with_readable_footer(
    cof_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("cofd.store.blockstore.PACK_TARGET_BYTES", 3 * 4096)
    store = BlockStore(cof_dir, 4096, 1 << 20)
    try:
        blocks = [bytes([i]) * 4096 for i in range(8)]
        with store.transaction() as txn:  # one record per block: packs roll over often
            ids = [txn.put(b) for b in blocks]
        infos = store.index.packs()
        assert len(infos) >= 2
        assert all(i.sealed for i in infos[:-1]) and not infos[-1].sealed
        for info in infos[:-1]:
            path = pack_path(cof_dir / "objects", Tier.HOT, info.pack)
            assert path.stat().st_size == info.length
            fd = os.open(path, os.O_RDONLY)
            try:
                footer = read_footer(fd, info.length, str(path))
                assert footer is not None
                data_end, offsets = footer
                records = list(scan_records(fd, data_end, str(path)))
            finally:
                os.close(fd)
            assert [r.offset for r in records] == offsets
            assert len(records) >= 1
        assert list(store.get_many(ids)) == blocks
    finally:
        store.close()
