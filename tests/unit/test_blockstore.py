"""BlockStore on real files: dedup, verified reads, crash recovery, rollback, ENOSPC."""

from __future__ import annotations

import errno
import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cofd.store import blockstore as blockstore_mod
from cofd.store.blockstore import BlockStore
from cofd.store.fsck import check_packs
from cofd.store.ids import BlockId, hash_block
from cofd.store.pack import PACK_MAGIC, Tier, pack_path, read_footer, scan_records
from protocol.errors import IntegrityError, StorageFullError
from tests.unit.conftest import BLOCK_SIZE, CACHE_BYTES, StoreOpener
from tests.unit.faulty import PwriteFault, ShortPwrite, small_tmpfs

ROOT = Path(__file__).resolve().parents[2]


def block(seed: int, size: int = BLOCK_SIZE) -> bytes:
    return random.Random(seed).randbytes(size)


def snapshot(cof_dir: Path) -> dict[str, bytes]:
    """Every pack file's bytes, by path relative to ``objects``."""
    objects = cof_dir / "objects"
    return {p.relative_to(objects).as_posix(): p.read_bytes() for p in objects.rglob("*.pack")}


def test_put_get_edge_sizes_and_reopen(open_store: StoreOpener) -> None:
    store = open_store()
    data = [b"", b"\x00", block(1, 4095), block(2, 4096)]
    with store.transaction() as txn:
        ids = txn.put_many(data)
    assert ids == [hash_block(d) for d in data]
    assert [store.get(i) for i in ids] == data
    store.close()
    again = open_store()
    assert [again.get(i) for i in ids] == data
    assert list(again.get_many(ids)) == data
    assert again.stats().blocks == 4


def test_dedup_within_and_across_transactions(store: BlockStore) -> None:
    a, b = block(1), block(2, 100)
    with store.transaction() as txn:
        ids = txn.put_many([a, a, b, a])
        assert txn.new_blocks == 2
        assert txn.new_bytes == len(a) + len(b)
    assert ids[0] == ids[1] == ids[3] != ids[2]
    packs_before = snapshot(store.cof_dir)
    with store.transaction() as txn:
        txn.put(a)
        txn.put_many([b, b])
        assert txn.new_blocks == 0
    assert snapshot(store.cof_dir) == packs_before  # nothing was appended
    stats = store.stats()
    assert stats.blocks == 2
    assert stats.blocks_by_tier[Tier.HOT] == 2
    assert stats.unique_bytes == len(a) + len(b)
    assert stats.stored_bytes == sum(len(v) for v in packs_before.values())
    assert stats.stored_bytes > stats.unique_bytes  # headers add to the raw bytes


def test_missing_block_is_an_integrity_error(store: BlockStore) -> None:
    missing = hash_block(b"never stored")
    assert not store.has(missing)
    with pytest.raises(IntegrityError, match=missing.hex()):
        store.get(missing)
    with pytest.raises(IntegrityError, match=missing.hex()):
        list(store.get_many([missing]))


class PreadSpy:
    def __init__(self) -> None:
        self.calls = 0
        self._real = os.pread

    def __call__(self, fd: int, n: int, offset: int) -> bytes:
        self.calls += 1
        return self._real(fd, n, offset)


def test_get_many_coalesces_and_keeps_order(
    store: BlockStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocks = [block(i, 4096 - i) for i in range(64)]
    with store.transaction() as txn:
        ids = txn.put_many(blocks)
    spy = PreadSpy()
    monkeypatch.setattr(blockstore_mod.os, "pread", spy)
    assert list(store.get_many(ids)) == blocks
    assert spy.calls < 8  # one span read per run of adjacent blocks (plus opening)
    order = [5, 5, 0, 63, 62, 1, 2, 3, 3, 40]
    assert list(store.get_many([ids[i] for i in order])) == [blocks[i] for i in order]


def test_get_many_across_interleaved_packs(
    open_store: StoreOpener, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(blockstore_mod, "PACK_TARGET_BYTES", 5 * BLOCK_SIZE)
    store = open_store()
    blocks = [block(100 + i) for i in range(20)]
    ids: list[BlockId] = []
    # Two blocks per call: each call appends one frame record, and a record never
    # spans packs, so small frames are what makes the packs roll over often.
    with store.transaction() as txn:
        for k in range(0, 10, 2):
            ids += txn.put_many(blocks[k : k + 2])
    with store.transaction() as txn:
        for k in range(10, 20, 2):
            ids += txn.put_many(blocks[k : k + 2])
    packs = {store.location(i).pack for i in ids}
    assert len(packs) >= 4
    order = [0, 19, 1, 18, 0, 0, 7, 12, 8, 13, 19, 2, 3, 4, 5, 6]
    expected = [blocks[i] for i in order]
    assert list(store.get_many([ids[i] for i in order])) == expected
    store.close()
    assert list(open_store().get_many([ids[i] for i in order])) == expected


def test_rollover_seals_packs_with_readable_footers(
    open_store: StoreOpener, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(blockstore_mod, "PACK_TARGET_BYTES", 3 * BLOCK_SIZE)
    store = open_store()
    blocks = [block(200 + i) for i in range(7)]
    ids = []
    # One block per transaction: the pack that is sealed was begun by an earlier one.
    for b in blocks[:4]:
        with store.transaction() as txn:
            ids.append(txn.put(b))
    with store.transaction() as txn:  # and several seals inside one transaction
        ids += [txn.put(b) for b in blocks[4:]]
    infos = store.index.packs()
    assert [i.sealed for i in infos] == [True] * (len(infos) - 1) + [False]
    for info in infos:
        path = pack_path(store.objects_dir, info.tier, info.pack)
        assert path.stat().st_size == info.length
        fd = os.open(path, os.O_RDONLY)
        try:
            footer = read_footer(fd, info.length, str(path))
            if info.sealed:
                assert footer is not None
                end, offsets = footer
                assert [r.offset for r in scan_records(fd, end, str(path))] == offsets
            else:
                assert footer is None
        finally:
            os.close(fd)
    store.close()
    assert list(open_store().get_many(ids)) == blocks


# -- crash recovery ------------------------------------------------------------------

CRASH_SCRIPT = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from cofd.store import blockstore
    from cofd.store.blockstore import BlockStore

    cof_dir, target, blocks = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    checkpoint_after = int(sys.argv[4])  # blocks; -1: never
    blockstore.PACK_TARGET_BYTES = target
    store = BlockStore(cof_dir, 4096, 1 << 20)
    txn = store.transaction()
    txn.__enter__()
    for i in range(blocks):  # one record per call, so the small packs roll over
        if i == checkpoint_after:
            txn.checkpoint()
        txn.put_many([bytes([i % 256, 7]) * 2048])  # flushes pack bytes
    for opened in txn._touched:
        os.fsync(opened.fd)
    os._exit(1)  # killed before the index transaction commits
    """
)


def crash_block(i: int) -> bytes:
    """The i-th block CRASH_SCRIPT writes."""
    return bytes([i % 256, 7]) * 2048


def crash_mid_transaction(
    cof_dir: Path, pack_target: int, blocks: int, checkpoint_after: int = -1
) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    args = [str(cof_dir), str(pack_target), str(blocks), str(checkpoint_after)]
    result = subprocess.run(
        [sys.executable, "-c", CRASH_SCRIPT, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr


def test_crash_after_pack_flush_before_index_commit(cof_dir: Path, open_store: StoreOpener) -> None:
    store = open_store()
    committed = [block(300 + i) for i in range(3)]
    with store.transaction() as txn:
        ids = txn.put_many(committed)
    before = snapshot(cof_dir)
    stats = store.stats()
    store.close()

    # The crash appends 5 blocks to pack 1 and, with a small target, seals it and
    # starts packs 2 and 3 that the index never heard of.
    crash_mid_transaction(cof_dir, 5 * BLOCK_SIZE, 12)
    after_crash = snapshot(cof_dir)
    assert len(after_crash["hot/00000001.pack"]) > len(before["hot/00000001.pack"])
    assert set(after_crash) > set(before)

    reopened = open_store()
    assert snapshot(cof_dir) == before  # truncated back, orphans removed
    assert reopened.stats() == stats
    assert list(reopened.get_many(ids)) == committed
    with reopened.transaction() as txn:
        more = txn.put_many([block(400), committed[0]])
    assert txn.new_blocks == 1
    assert list(reopened.get_many(ids + more)) == [*committed, block(400), committed[0]]


def test_garbage_past_committed_length_is_truncated(cof_dir: Path, open_store: StoreOpener) -> None:
    store = open_store()
    with store.transaction() as txn:
        ids = txn.put_many([block(1), block(2)])
    store.close()
    path = pack_path(cof_dir / "objects", Tier.HOT, 1)
    good = path.read_bytes()
    with path.open("ab") as fh:
        fh.write(b"\xc0\xfb garbage from a torn write" * 50)
    reopened = open_store()
    assert path.read_bytes() == good
    assert [reopened.get(i) for i in ids] == [block(1), block(2)]
    with reopened.transaction() as txn:
        new_id = txn.put(block(3))
    assert reopened.get(new_id) == block(3)
    reopened.close()
    assert open_store().get(new_id) == block(3)


def test_orphan_packs_newer_than_index_are_removed(cof_dir: Path, open_store: StoreOpener) -> None:
    store = open_store()
    with store.transaction() as txn:
        block_id = txn.put(block(9))
    store.close()
    orphans = [
        pack_path(cof_dir / "objects", Tier.HOT, 2),
        pack_path(cof_dir / "objects", Tier.WARM, 7),
        pack_path(cof_dir / "objects", Tier.COLD, 3),
    ]
    for orphan in orphans:
        orphan.write_bytes(PACK_MAGIC + b"half a record")
    unrelated = cof_dir / "objects" / "hot" / "notes.txt"
    unrelated.write_text("not a pack")
    reopened = open_store()
    assert not any(o.exists() for o in orphans)
    assert pack_path(cof_dir / "objects", Tier.HOT, 1).exists()
    assert unrelated.exists()
    assert reopened.get(block_id) == block(9)
    with reopened.transaction() as txn:
        txn.put(block(10))
    assert [p.pack for p in reopened.index.packs()] == [1]


def test_crash_in_the_first_transaction_leaves_a_writable_store(
    cof_dir: Path, open_store: StoreOpener
) -> None:
    # A new repository whose very first transaction was killed: the index is empty
    # and the pack files on disk are that transaction's uncommitted output.
    crash_mid_transaction(cof_dir, 5 * BLOCK_SIZE, 12)
    assert snapshot(cof_dir)
    store = open_store()
    assert store.stats().blocks == 0
    with store.transaction() as txn:
        block_id = txn.put(b"first")
    assert store.get(block_id) == b"first"
    store.close()
    assert open_store().get(block_id) == b"first"


# -- rollback ------------------------------------------------------------------------


class BoomError(Exception):
    pass


def test_exception_in_transaction_rolls_everything_back(
    store: BlockStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(blockstore_mod, "PACK_TARGET_BYTES", 4 * BLOCK_SIZE)
    with store.transaction() as txn:
        ids = txn.put_many([block(i) for i in range(2)])
    before_packs = snapshot(store.cof_dir)
    before_stats = store.stats()
    before_index = store.index.packs()
    new = [block(500 + i) for i in range(9)]  # appends, seals pack 1, creates more
    with pytest.raises(BoomError), store.transaction() as txn:
        new_ids = txn.put_many(new)
        assert store.get(new_ids[0]) == new[0]  # visible inside the transaction
        raise BoomError
    assert snapshot(store.cof_dir) == before_packs
    assert store.stats() == before_stats
    assert store.index.packs() == before_index
    assert not any(store.has(i) for i in new_ids)
    assert [store.get(i) for i in ids] == [block(0), block(1)]
    with store.transaction() as txn:  # still usable, and the same blocks go in again
        assert txn.put_many(new) == new_ids
    assert list(store.get_many(new_ids)) == new


def test_checkpoint_keeps_what_came_before_a_rollback(
    store: BlockStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long writer (a fetch) checkpoints: what it wrote before the last checkpoint
    stays, packs it created included, when the rest is rolled back."""
    monkeypatch.setattr(blockstore_mod, "PACK_TARGET_BYTES", 4 * BLOCK_SIZE)
    early = [block(700 + i) for i in range(9)]  # seals a pack, creates more
    late = [block(800 + i) for i in range(5)]
    with pytest.raises(BoomError), store.transaction() as txn:
        early_ids = txn.put_many(early)
        txn.checkpoint()
        kept_packs = snapshot(store.cof_dir)
        late_ids = txn.put_many(late)
        assert txn.new_blocks == len(early) + len(late)
        raise BoomError
    assert set(kept_packs) <= set(snapshot(store.cof_dir))  # no checkpointed pack removed
    assert list(store.get_many(early_ids)) == early
    assert not any(store.has(i) for i in late_ids)
    report = check_packs(store, full=True)
    assert not report.problems and not report.orphan_files, report


def test_checkpoint_survives_a_crash(cof_dir: Path, open_store: StoreOpener) -> None:
    """A writer killed after a checkpoint: reopening keeps the checkpointed blocks and
    drops what came after (the crash script writes, checkpoints, writes, dies)."""
    crash_mid_transaction(cof_dir, 5 * BLOCK_SIZE, 12, checkpoint_after=7)
    reopened = open_store()
    kept = [hash_block(crash_block(i)) for i in range(7)]
    lost = [hash_block(crash_block(i)) for i in range(7, 12)]
    assert list(reopened.get_many(kept)) == [crash_block(i) for i in range(7)]
    assert not any(reopened.has(i) for i in lost)
    report = check_packs(reopened, full=True)
    assert not report.problems and not report.orphan_files, report


# -- disk full -----------------------------------------------------------------------


def test_enospc_from_pwrite_is_storage_full(
    store: BlockStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    with store.transaction() as txn:
        ids = txn.put_many([block(1), block(2)])
    before_packs = snapshot(store.cof_dir)
    before_stats = store.stats()
    fault = PwriteFault(ok_calls=0)
    monkeypatch.setattr(blockstore_mod.os, "pwrite", fault)
    with pytest.raises(StorageFullError) as info, store.transaction() as txn:
        txn.put_many([block(3), block(4)])
    assert fault.failures >= 1
    assert isinstance(info.value.__cause__, OSError)
    assert info.value.__cause__.errno == errno.ENOSPC
    assert "disk full" in str(info.value)
    assert snapshot(store.cof_dir) == before_packs
    assert store.stats() == before_stats
    assert not store.has(hash_block(block(3)))
    monkeypatch.undo()
    with store.transaction() as txn:
        more = txn.put_many([block(3), block(4)])
    assert list(store.get_many(ids + more)) == [block(i) for i in (1, 2, 3, 4)]


def test_enospc_on_a_new_pack_removes_it(
    store: BlockStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(blockstore_mod.os, "pwrite", PwriteFault(ok_calls=0))
    with pytest.raises(StorageFullError), store.transaction() as txn:
        txn.put(block(1))
    assert snapshot(store.cof_dir) == {}
    assert store.index.packs() == []
    monkeypatch.undo()
    with store.transaction() as txn:
        block_id = txn.put(block(1))
    assert store.get(block_id) == block(1)


def test_other_oserror_is_not_storage_full(
    store: BlockStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(blockstore_mod.os, "pwrite", PwriteFault(err=errno.EIO))
    with pytest.raises(OSError) as info, store.transaction() as txn:
        txn.put(block(1))
    assert not isinstance(info.value, StorageFullError)
    assert info.value.errno == errno.EIO
    assert store.stats().blocks == 0


def test_short_writes_are_completed(store: BlockStore, monkeypatch: pytest.MonkeyPatch) -> None:
    # The kernel may write fewer bytes than asked (e.g. a filesystem filling up).
    short = ShortPwrite(limit=1000)
    monkeypatch.setattr(blockstore_mod.os, "pwrite", short)
    blocks = [block(i) for i in range(3)]
    with store.transaction() as txn:
        ids = txn.put_many(blocks)
    monkeypatch.undo()
    assert short.calls > 1
    assert list(store.get_many(ids)) == blocks


def test_real_enospc_on_a_small_tmpfs(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "mnt", "2m") as mnt:
        cof_dir = mnt / ".cof"
        BlockStore.create_layout(cof_dir)
        store = BlockStore(cof_dir, BLOCK_SIZE, CACHE_BYTES)
        try:
            with store.transaction() as txn:
                ids = txn.put_many([block(i) for i in range(4)])
            before_packs = snapshot(cof_dir)
            before_stats = store.stats()
            too_much = [block(1000 + i) for i in range(3 * 256)]  # 3 MiB > 2 MiB
            with pytest.raises(StorageFullError), store.transaction() as txn:
                txn.put_many(too_much)
            assert snapshot(cof_dir) == before_packs
            assert store.stats() == before_stats
            assert list(store.get_many(ids)) == [block(i) for i in range(4)]
            with store.transaction() as txn:  # space is back: still usable
                small = txn.put_many([block(2000), block(2001)])
            assert list(store.get_many(small)) == [block(2000), block(2001)]
        finally:
            store.close()
        reopened = BlockStore(cof_dir, BLOCK_SIZE, CACHE_BYTES)
        try:
            assert reopened.get(small[1]) == block(2001)
            assert reopened.stats().blocks == 6
        finally:
            reopened.close()


# -- corruption ----------------------------------------------------------------------


def test_flipped_byte_names_block_and_pack(store: BlockStore) -> None:
    blocks = [block(i) for i in range(3)]
    with store.transaction() as txn:
        ids = txn.put_many(blocks)
    loc = store.location(ids[1])
    path = pack_path(store.objects_dir, loc.tier, loc.pack)
    raw = bytearray(path.read_bytes())
    raw[loc.offset + max(loc.frame_off, 0) + 1234] ^= 0x01  # inside block 1's bytes
    path.write_bytes(bytes(raw))
    with pytest.raises(IntegrityError) as info:
        store.get(ids[1])
    message = str(info.value)
    assert ids[1].hex() in message
    assert f"pack {loc.pack:08d}" in message
    assert store.get(ids[0]) == blocks[0]
    assert store.get(ids[2]) == blocks[2]
    with pytest.raises(IntegrityError, match=ids[1].hex()):
        list(store.get_many(ids))
    assert list(store.get_many([ids[2], ids[0]])) == [blocks[2], blocks[0]]
