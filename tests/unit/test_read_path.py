"""The restore read path: record-wise index lookups, verified spans, writing files.

Everything runs on a real BlockStore (and a real Repository for the file writes);
damage is done to the pack or index files themselves, as a disk or a crash would.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from cofd.objects.model import MODE_FILE
from cofd.objects.odb import ObjectStore
from cofd.ops import materialize
from cofd.ops.repository import Repository, create_layout
from cofd.ops.trees import FlatEntry
from cofd.store.blockstore import BlockStore
from cofd.store.fsck import check_packs
from cofd.store.ids import BlockId, hash_block
from cofd.store.index import BlockRow, Index
from cofd.store.pack import (
    MAX_FRAME_BLOCKS,
    Codec,
    Member,
    Tier,
    pack_path,
    record_header_len,
)
from protocol.errors import IntegrityError
from tests.unit.conftest import BLOCK_SIZE, StoreOpener

FRAMES = 3
COUNT = FRAMES * MAX_FRAME_BLOCKS - 20  # two full frames and a partial one


def block(seed: int, size: int = BLOCK_SIZE) -> bytes:
    return random.Random(seed).randbytes(size)


def stored(
    store: BlockStore, count: int = COUNT, seed: int = 0
) -> tuple[list[BlockId], list[bytes]]:
    """``count`` blocks written in one put_many: frames of up to 256 blocks."""
    blocks = [block(seed + i) for i in range(count)]
    with store.transaction() as txn:
        ids = txn.put_many(blocks)
    return ids, blocks


def runs(store: BlockStore, ids: list[BlockId], blocks: list[bytes]) -> list[bytes | memoryview]:
    return list(store.get_runs(ids, [len(b) for b in blocks]))


def flip(path: Path, position: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[position] ^= 0x01
    path.write_bytes(bytes(raw))


class Counting:
    """Counts calls of an Index method (and makes them)."""

    def __init__(self, index: Index, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = getattr(index, name)

        def counted(*args: object) -> object:
            self.calls += 1
            return real(*args)

        monkeypatch.setattr(index, name, counted)


# -- reading ---------------------------------------------------------------------------


def test_runs_are_whole_frames_and_agree_with_get_many(store: BlockStore) -> None:
    ids, blocks = stored(store)
    pieces = runs(store, ids, blocks)
    assert b"".join(pieces) == b"".join(blocks)
    assert len(pieces) == FRAMES  # one view per frame: nothing split, nothing copied
    assert all(isinstance(p, memoryview) for p in pieces)
    assert list(store.get_many(ids)) == blocks


def test_frames_are_looked_up_record_by_record(
    store: BlockStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids, blocks = stored(store)
    alone = Counting(store.index, "lookup_row", monkeypatch)
    batched = Counting(store.index, "lookup_rows", monkeypatch)
    assert list(store.get_many(ids)) == blocks
    assert alone.calls == FRAMES  # the first block of each record
    assert batched.calls == 0


def test_scattered_ids_fall_back_to_batched_lookups(
    store: BlockStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = 4
    ids, blocks = stored(store, frames * MAX_FRAME_BLOCKS)
    # One block of each frame in turn: every record fetched serves one id next.
    order = [f * MAX_FRAME_BLOCKS + k for k in range(40) for f in range(frames)]
    alone = Counting(store.index, "lookup_row", monkeypatch)
    batched = Counting(store.index, "lookup_rows", monkeypatch)
    assert list(store.get_many([ids[i] for i in order])) == [blocks[i] for i in order]
    assert batched.calls == 1  # the rest in one IN batch
    assert alone.calls == 3  # records fetched before giving up on them
    # In order, the same blocks need no batched lookup at all.
    assert list(store.get_many(sorted(ids[i] for i in order))) is not None
    assert list(store.get_many([ids[i] for i in sorted(order)])) == [
        blocks[i] for i in sorted(order)
    ]
    assert batched.calls == 1 + 1  # sorted ids are scattered too: the one above
    assert alone.calls == 3 + 3 + frames


def test_repeated_empty_and_short_blocks(store: BlockStore) -> None:
    data = [b"", b"\x00" * BLOCK_SIZE, block(1), block(2, 100)]
    with store.transaction() as txn:
        ids = txn.put_many(data)
    order = [1, 1, 1, 2, 1, 0, 3, 3, 2, 0]
    wanted = [data[i] for i in order]
    assert b"".join(runs(store, [ids[i] for i in order], wanted)) == b"".join(wanted)
    assert list(store.get_many([ids[i] for i in order])) == wanted


def test_wrong_expected_size_is_an_integrity_error(store: BlockStore) -> None:
    ids, blocks = stored(store, 10)
    sizes = [len(b) for b in blocks]
    sizes[4] -= 1
    with pytest.raises(IntegrityError, match=f"block {ids[4].hex()} has the wrong length"):
        list(store.get_runs(ids, sizes))


def test_flipped_byte_inside_a_span_names_its_block_and_pack(store: BlockStore) -> None:
    ids, blocks = stored(store)
    victim = MAX_FRAME_BLOCKS + 17  # in the middle of the second frame
    loc = store.location(ids[victim])
    flip(pack_path(store.objects_dir, loc.tier, loc.pack), loc.offset + loc.frame_off + 999)
    for read in (lambda: list(store.get_many(ids)), lambda: runs(store, ids, blocks)):
        with pytest.raises(IntegrityError) as info:
            read()
        message = str(info.value)
        assert ids[victim].hex() in message
        assert f"pack {loc.pack:08d}" in message
        assert "does not match its id" in message
    # The blocks before it were handed out (verified) before the error.
    got = bytearray()
    with pytest.raises(IntegrityError):
        for piece in store.get_runs(ids, [len(b) for b in blocks]):
            got += piece
    assert bytes(got) == b"".join(blocks[:victim])
    others = ids[:victim] + ids[victim + 1 :]
    assert list(store.get_many(others)) == blocks[:victim] + blocks[victim + 1 :]


def test_missing_id_among_frames_raises_and_the_others_still_read(store: BlockStore) -> None:
    ids, blocks = stored(store)
    gone = MAX_FRAME_BLOCKS + 3
    # As gc leaves a frame: one member no longer mapped, its bytes still in the record.
    store.index.conn.execute("DELETE FROM block_map WHERE id = ?", (ids[gone],))
    with pytest.raises(IntegrityError, match=f"block {ids[gone].hex()} is missing"):
        list(store.get_many(ids))
    with pytest.raises(IntegrityError, match=f"block {ids[gone].hex()} is missing"):
        runs(store, ids, blocks)
    scattered = list(reversed(ids))  # also through the batched lookups
    with pytest.raises(IntegrityError, match=f"block {ids[gone].hex()} is missing"):
        list(store.get_many(scattered))
    others = ids[:gone] + ids[gone + 1 :]
    expected = blocks[:gone] + blocks[gone + 1 :]
    assert list(store.get_many(others)) == expected
    assert b"".join(runs(store, others, expected)) == b"".join(expected)


def test_unmapped_member_is_missing_even_when_the_record_count_matches(
    store: BlockStore,
) -> None:
    ids, blocks = stored(store)
    gone = MAX_FRAME_BLOCKS + 3
    row = store._rows([ids[gone]])[ids[gone]]
    # Another row in its place: the index maps as many blocks to the record as its
    # header lists, so the header is used, yet the dropped member must stay missing.
    stranger = bytes(32)
    with store.index.conn:
        store.index.conn.execute("DELETE FROM block_map WHERE id = ?", (ids[gone],))
        store.index.conn.execute(
            "INSERT INTO block_map VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (stranger, *row[1:])
        )
    with pytest.raises(IntegrityError, match=f"block {ids[gone].hex()} is missing"):
        list(store.get_many(ids))
    with pytest.raises(IntegrityError, match=f"block {stranger.hex()} in pack"):
        list(store.get_many([*ids[:gone], BlockId(stranger)]))
    assert list(store.get_many(ids[:gone])) == blocks[:gone]


def _second_record(store: BlockStore, ids: list[BlockId]) -> tuple[Path, int, int]:
    """(pack path, record start, member count) of the frame holding ids[256]."""
    loc = store.location(ids[MAX_FRAME_BLOCKS])
    path = pack_path(store.objects_dir, loc.tier, loc.pack)
    count = sum(1 for i in ids if store.location(i).offset == loc.offset)
    return path, loc.offset - record_header_len(count), count


@pytest.mark.parametrize("where", ["magic", "member id", "member length"])
def test_damaged_record_header_never_yields_wrong_data(store: BlockStore, where: str) -> None:
    ids, blocks = stored(store)
    path, start, _ = _second_record(store, ids)
    position = {"magic": start, "member id": start + 9 + 36 * 5, "member length": start + 9 + 32}
    # A header member's raw_len 4096 -> 4097 shifts every later member's position.
    flip(path, position[where])
    assert list(store.get_many(ids)) == blocks
    assert b"".join(runs(store, ids, blocks)) == b"".join(blocks)


def test_stale_rows_reread_blocks_that_moved(store: BlockStore) -> None:
    ids, blocks = stored(store, 40)
    rows = store._rows(ids)
    old = store.location(ids[0])
    with store.transaction() as txn:  # as compaction does: rewrite, switch, drop
        txn.seal_pack(next(p for p in store.index.packs() if p.pack == old.pack))
        members = [Member(i, len(b)) for i, b in zip(ids, blocks, strict=True)]
        new_rows = txn.write_record(Tier.HOT, Codec.RAW, members, b"".join(blocks), frame=True)
        txn.relocate(new_rows)
        txn.drop_pack(old.pack)
    assert not pack_path(store.objects_dir, old.tier, old.pack).exists()
    assert store.location(ids[0]).pack != old.pack
    sizes = [len(b) for b in blocks]
    assert b"".join(store._verified(ids, rows, sizes)) == b"".join(blocks)
    assert list(store._verified(ids, rows, None)) == blocks


def test_stale_row_into_other_bytes_rereads_or_names_the_block(store: BlockStore) -> None:
    ids, blocks = stored(store, 8)
    rows = store._rows(ids)
    # A row pointing one block off (as a stale or damaged one might): the bytes there
    # belong to another block, so the hash fails and the index is asked again.
    bid, tier, pack, offset, stored_len, codec, frame_off, raw_len = rows[ids[2]]
    shifted: BlockRow = (bid, tier, pack, offset, stored_len, codec, frame_off + raw_len, raw_len)
    rows[ids[2]] = shifted
    sizes = [len(b) for b in blocks]
    assert b"".join(store._verified(ids, rows, sizes)) == b"".join(blocks)
    # The same damage in the index: harmless for a member found through its record's
    # header, reported (block and pack named) for the one looked up alone.
    for victim in (ids[2], ids[0]):
        off = rows[victim][6]
        store.index.conn.execute(
            "UPDATE block_map SET frame_off = ? WHERE id = ?", (off + BLOCK_SIZE, victim)
        )
    assert list(store.get_many(ids[1:])) == blocks[1:]
    with pytest.raises(IntegrityError, match=f"block {ids[0].hex()} in pack {pack:08d}"):
        list(store.get_runs(ids, sizes))
    with pytest.raises(IntegrityError, match=f"block {ids[0].hex()} in pack {pack:08d}"):
        store.get(ids[0])


def test_unreadable_pack_names_the_block(store: BlockStore) -> None:
    ids, blocks = stored(store, 8)
    loc = store.location(ids[0])
    path = pack_path(store.objects_dir, loc.tier, loc.pack)
    store.forget_pack(loc.pack)
    os.truncate(path, loc.offset + BLOCK_SIZE)  # shorter than the index says
    with pytest.raises(IntegrityError, match=ids[1].hex()):
        runs(store, ids, blocks)
    assert list(store.get_runs(ids[:1], [BLOCK_SIZE])) == [blocks[0]]


# -- writing -----------------------------------------------------------------------------


def test_put_many_rows_match_the_pack_and_reopen(open_store: StoreOpener) -> None:
    store = open_store()
    blocks = [block(i, BLOCK_SIZE - (i % 3)) for i in range(300)]
    with store.transaction() as txn:
        ids = txn.put_many(blocks)  # a frame of 256 and one of 44
        single = txn.put(block(9999))  # a record of its own
        again = txn.put_many([blocks[0], block(9999), blocks[299]])  # all known
        assert txn.new_blocks == 301
    assert again == [ids[0], single, ids[299]]
    report = check_packs(store, full=True)
    assert report.problems == []
    assert report.blocks_checked == 301
    loc = store.location(ids[257])
    assert (loc.tier, loc.codec, loc.frame_off, loc.raw_len) == (
        Tier.HOT,
        Codec.RAW,
        sum(len(b) for b in blocks[256:257]),
        len(blocks[257]),
    )
    assert store.location(single).frame_off == -1
    with store.transaction() as txn:  # each record waited for a generation
        assert txn.assign_generation(1) == 3
    assert store.index.generation_of(ids[100]) == store.index.generation_of(single) == 1
    store.close()
    reopened = open_store()
    assert list(reopened.get_many([*ids, single])) == [*blocks, block(9999)]


def test_index_rows_are_plain_ints(store: BlockStore) -> None:
    ids, _ = stored(store, 3)
    types = store.index.conn.execute(
        "SELECT DISTINCT typeof(tier), typeof(codec), typeof(frame_off) FROM block_map"
    ).fetchall()
    assert types == [("integer", "integer", "integer")]
    rows = store.index.lookup_rows(ids)
    assert all(type(v) is int for row in rows.values() for v in row[1:])


def test_record_ids_lists_exactly_the_mapped_members(store: BlockStore) -> None:
    ids, _ = stored(store, 300)
    assert any(0 in i for i in ids)  # NUL bytes inside ids survive the concatenation
    loc = store.location(ids[0])
    assert store.index.record_ids(loc.pack, loc.offset) == set(ids[:MAX_FRAME_BLOCKS])
    assert store.index.record_ids(loc.pack, loc.offset + 1) == set()
    with store.index.conn:  # a damaged row with a short id: still listed, row by row
        store.index.conn.execute(
            "INSERT INTO block_map VALUES (?, 0, ?, ?, 0, 0, 0, 0)",
            (b"short", loc.pack, loc.offset),
        )
    assert store.index.record_ids(loc.pack, loc.offset) == {*ids[:MAX_FRAME_BLOCKS], b"short"}


# -- files -------------------------------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repository]:
    create_layout(tmp_path)
    opened = Repository.open(tmp_path)
    yield opened
    opened.close()


def _store_file(objects: ObjectStore, repo: Repository, data: bytes) -> FlatEntry:
    with repo.blocks.transaction() as txn:
        writer = objects.content_writer(txn)
        for at in range(0, len(data), 300_000):  # uneven writes
            writer.write(data[at : at + 300_000])
        content_id, size = writer.finish()
    return FlatEntry(MODE_FILE, content_id, size)


@pytest.mark.parametrize("size", [0, 1, BLOCK_SIZE, 3 * 1024 * 1024 + 5])
def test_write_entry_writes_the_content(repo: Repository, size: int) -> None:
    data = random.Random(size).randbytes(size)
    entry = _store_file(repo.objects, repo, data)
    reported: list[int] = []
    materialize.write_entry(repo, "dir/f.bin", entry, reported.append)
    assert (repo.root / "dir" / "f.bin").read_bytes() == data
    assert sum(reported) == size
    pieces = list(repo.objects.iter_content_runs(entry.id, entry.size))
    assert b"".join(pieces) == data


def test_short_writes_of_a_file_are_completed(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = random.Random(3).randbytes(2 * 1024 * 1024 + 123)
    entry = _store_file(repo.objects, repo, data)
    real = os.writev
    calls = []

    def short_writev(fd: int, buffers: list[bytes | memoryview]) -> int:
        calls.append(len(buffers))
        first = memoryview(buffers[0])
        return real(fd, [first[:1000]] if len(first) > 1000 else [first])

    monkeypatch.setattr(os, "writev", short_writev)
    materialize.write_entry(repo, "f.bin", entry)
    monkeypatch.undo()
    assert len(calls) > 2000
    assert (repo.root / "f.bin").read_bytes() == data


@pytest.mark.parametrize(
    ("size", "error"),
    [(100, "has the wrong length"), (3 * BLOCK_SIZE, "does not match its parent")],
)
def test_restored_content_is_checked_against_its_size(
    repo: Repository, size: int, error: str
) -> None:
    data = random.Random(4).randbytes(size)
    entry = _store_file(repo.objects, repo, data)
    with pytest.raises(IntegrityError, match=error):
        list(repo.objects.iter_content_runs(entry.id, entry.size + 1))
    assert b"".join(repo.objects.iter_content_runs(entry.id, entry.size)) == data


def test_many_small_records_restore_byte_identical(repo: Repository) -> None:
    # A file whose blocks were stored one or two at a time (edits, small pushes):
    # scattered single-block and tiny records, then read back in file order.
    data = random.Random(6).randbytes(200 * BLOCK_SIZE)
    chunks = [data[i : i + BLOCK_SIZE] for i in range(0, len(data), BLOCK_SIZE)]
    order = list(range(len(chunks)))
    random.Random(7).shuffle(order)
    with repo.blocks.transaction() as txn:
        for k in range(0, len(order), 3):
            picked = order[k : k + 3]
            txn.put_many([chunks[i] for i in picked[:1]])
            txn.put_many([chunks[i] for i in picked[1:]])
    assert repo.blocks.stats().blocks == len(chunks)
    entry = _store_file(repo.objects, repo, data)
    materialize.write_entry(repo, "f.bin", entry)
    assert (repo.root / "f.bin").read_bytes() == data


def test_put_many_absent_skips_the_lookup_and_a_present_id_keeps_its_first_copy(
    open_store: StoreOpener,
) -> None:
    """``absent=True`` (a fetch that already dropped the ids it has) stores as usual;
    an id that is present after all (listed twice, far apart) keeps the location it
    had: the transaction commits, every block reads back, fsck finds nothing wrong."""
    store = open_store()
    ids, blocks = stored(store, count=300)
    fresh = [block(10_000 + i) for i in range(300)]
    with store.transaction() as txn:
        new_ids = txn.put_many(fresh, absent=True)
    assert list(store.get_many(new_ids)) == fresh
    before = store.location(ids[7])
    with store.transaction() as txn:
        txn.put_many([block(20_000), blocks[7], block(20_001)], absent=True)
    assert store.location(ids[7]) == before
    assert store.get(hash_block(block(20_000))) == block(20_000)
    assert store.get(hash_block(block(20_001))) == block(20_001)
    assert list(store.get_many(ids)) == blocks
    report = check_packs(store, full=True)
    assert not report.problems and not report.corrupt, report


def test_index_is_empty_until_the_first_block(open_store: StoreOpener) -> None:
    """A fetch into an empty store skips its existence lookups on this answer."""
    store = open_store()
    assert store.index.is_empty()
    stored(store, count=1)
    assert not store.index.is_empty()


def test_no_tree_path_is_written_inside_git_or_cof_directories() -> None:
    """A hostile or old tree naming ``.git/hooks/...`` is refused before any write."""
    from cofd.ops.paths import check_writable, reserved_component
    from protocol.errors import PathError

    assert reserved_component("a/.git/hooks/post-checkout") == ".git"
    assert reserved_component(".Cof/x") == ".Cof"
    assert reserved_component("a/.gitignore") is None and reserved_component("git/x") is None
    check_writable(["a/b", ".gitattributes", "x.git/y"])
    with pytest.raises(PathError, match=r"refusing to write '\.git/hooks/post-checkout'"):
        check_writable(["ok", ".git/hooks/post-checkout"])
