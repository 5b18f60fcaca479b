"""Tier policy, migration planning and execution, compaction (in-process, real store).

``History`` builds commits through the object layer (no daemon) and is shared with
the gc and fsck tests.
"""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from cofd.config import CompressionConfig, Config
from cofd.objects.model import MODE_FILE, Commit, CommitId, Kind, Signature, Tree, TreeEntry
from cofd.ops.maintenance import head_generation, migrate_pass
from cofd.ops.repository import Repository, create_layout
from cofd.store.blockstore import BlockStore
from cofd.store.ids import BlockId, hash_block
from cofd.store.index import Location
from cofd.store.pack import MAX_FRAME_BLOCKS, Codec, Tier, pack_path
from cofd.store.rewrite import Migrator, compact
from cofd.store.tiers import Candidate, TierPolicy, plan_moves, target_tier

SIG = Signature("T", "t@example.com", 1_700_000_000, 0)

# -- the policy (pure) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "tier"),
    [(0, Tier.HOT), (10, Tier.HOT), (11, Tier.WARM), (100, Tier.WARM), (101, Tier.COLD)],
)
def test_default_thresholds_at_exact_ages(age: int, tier: Tier) -> None:
    assert target_tier(age, TierPolicy()) == tier


def test_zero_thresholds_make_everything_older_than_the_head_cold() -> None:
    policy = TierPolicy(warm_threshold=0, cold_threshold=0)
    assert target_tier(0, policy) == Tier.HOT
    assert target_tier(1, policy) == Tier.COLD


def _loc(tier: Tier, pack: int, offset: int, raw: int = 4096) -> Location:
    frame = 0 if tier == Tier.COLD else -1
    codec = Codec.RAW if tier == Tier.HOT else Codec.ZSTD
    return Location(tier, pack, offset, raw, codec, frame, raw)


def _cand(n: int, tier: Tier, gen: int, pack: int = 1, raw: int = 4096) -> Candidate:
    return Candidate(BlockId(n.to_bytes(32, "big")), _loc(tier, pack, 8 + n * 5000, raw), gen)


def test_plan_sends_each_block_to_its_tier_and_never_back() -> None:
    head = 200
    policy = TierPolicy()
    cands = [
        _cand(1, Tier.HOT, head - 10),  # age 10: stays hot
        _cand(2, Tier.HOT, head - 11),  # warm
        _cand(3, Tier.HOT, head - 101),  # straight to cold
        _cand(4, Tier.WARM, head - 100),  # stays warm
        _cand(5, Tier.WARM, head - 101),  # cold
        _cand(6, Tier.COLD, head - 5),  # young but cold already: never promoted
    ]
    batches = plan_moves(cands, head, policy)
    moved = {b.target: [m.block_id[-1] for r in b.records for m in r] for b in batches}
    assert moved == {Tier.WARM: [2], Tier.COLD: [3, 5]}


def test_plan_frames_follow_pack_order_and_limits() -> None:
    head = 1000
    # Given out of order: frames must be in (pack, offset) order.
    cands = [_cand(n, Tier.HOT, 1) for n in reversed(range(300))]
    batches = plan_moves(cands, head, TierPolicy(), frame_bytes=128 * 1024, batch_bytes=1 << 30)
    (batch,) = batches
    assert batch.target == Tier.COLD
    frames = batch.records
    assert [len(f) for f in frames] == [32] * 9 + [12]
    flat = [m.block_id[-1] + 256 * m.block_id[-2] for f in frames for m in f]
    assert flat == list(range(300))
    big = plan_moves(cands, head, TierPolicy(), frame_bytes=1 << 30, batch_bytes=1 << 30)
    assert max(len(f) for f in big[0].records) == MAX_FRAME_BLOCKS


def test_plan_batches_are_bounded() -> None:
    cands = [_cand(n, Tier.HOT, 5) for n in range(100)]
    batches = plan_moves(cands, 20, TierPolicy(), batch_bytes=10 * 4096)
    assert all(b.target == Tier.WARM for b in batches)
    assert [b.blocks for b in batches] == [10] * 10


# -- in-process histories ------------------------------------------------------------


class History:
    """A repository whose commits are made through the object layer, with expectations."""

    def __init__(self, root: Path, compression: CompressionConfig | None = None) -> None:
        create_layout(root)
        self.root = root
        self.config = Config(compression=compression or CompressionConfig())
        self.repo = Repository.open(root)
        # commit id -> {path: sha256 of content}
        self.expected: dict[CommitId, dict[str, str]] = {}

    def commit(
        self, files: dict[str, bytes], branch: str = "main", parents: list[CommitId] | None = None
    ) -> CommitId:
        repo = self.repo
        if parents is None:
            tip = repo.refs.read(f"refs/heads/{branch}")
            parents = [tip] if tip is not None else []
        sequence = 1 + max((repo.objects.read_commit(p).sequence for p in parents), default=0)
        with repo.blocks.transaction() as txn:
            entries = []
            for name, data in sorted(files.items()):
                content = repo.objects.write_bytes(txn, data)
                entries.append(TreeEntry(name, Kind.FILE, MODE_FILE, content, len(data)))
            tree = repo.objects.write_tree(txn, Tree.build(entries))
            commit = Commit(tuple(parents), tree, SIG, SIG, f"c{sequence}\n", sequence)
            commit_id = repo.objects.write_commit(txn, commit)
            txn.assign_generation(sequence)
        repo.refs.update(f"refs/heads/{branch}", commit_id, SIG, "commit")
        self.expected[commit_id] = {n: hashlib.sha256(d).hexdigest() for n, d in files.items()}
        return commit_id

    def read_files(self, commit_id: CommitId) -> dict[str, str]:
        objects = self.repo.objects
        tree = objects.read_tree(objects.read_commit(commit_id).tree)
        out = {}
        for entry in tree.entries:
            digest = hashlib.sha256()
            for chunk in objects.iter_content(entry.id, entry.size):
                digest.update(chunk)
            out[entry.name] = digest.hexdigest()
        return out

    def verify(self, commits: list[CommitId] | None = None) -> None:
        for commit_id in list(self.expected) if commits is None else commits:
            assert self.read_files(commit_id) == self.expected[commit_id]

    def migrate(self) -> None:
        while migrate_pass(self.repo, self.config).moved_blocks:
            pass

    def reopen(self) -> None:
        self.repo.close()
        self.repo = Repository.open(self.root)

    def close(self) -> None:
        self.repo.close()


@pytest.fixture
def history(tmp_path: Path) -> Iterator[History]:
    h = History(tmp_path / "repo", CompressionConfig(warm_threshold=2, cold_threshold=5))
    yield h
    h.close()


def versions(rng: random.Random, size: int) -> Iterator[bytes]:
    """Successive versions of a compressible binary file, each a small edit of the last."""
    words = [rng.randbytes(16) for _ in range(64)]
    data = bytearray(b"".join(rng.choice(words) for _ in range(size // 16)))
    while True:
        yield bytes(data)
        for _ in range(3):
            at = rng.randrange(len(data) - 64)
            data[at : at + 64] = b"".join(rng.choice(words) for _ in range(4))


def tiers_of(store: BlockStore, ids: list[BlockId]) -> set[Tier]:
    locs = store.index.lookup_many(ids)
    return {loc.tier for loc in locs.values()}


def content_blocks(repo: Repository, content: BlockId, size: int) -> list[BlockId]:
    return list(repo.objects.iter_content_blocks(content, size))


def test_blocks_change_tier_at_exact_small_thresholds(history: History) -> None:
    first = history.commit({"a.bin": b"first version " * 500})
    leaf_ids = content_blocks(
        history.repo,
        history.repo.objects.read_tree(history.repo.objects.read_commit(first).tree).entries[0].id,
        7000,
    )
    observed = []
    for n in range(2, 9):
        history.commit({"a.bin": f"version {n} ".encode() * 600})
        history.migrate()
        age = head_generation(history.repo) - 1
        observed.append((age, tiers_of(history.repo.blocks, leaf_ids)))
    assert observed == [
        (1, {Tier.HOT}),
        (2, {Tier.HOT}),
        (3, {Tier.WARM}),
        (4, {Tier.WARM}),
        (5, {Tier.WARM}),
        (6, {Tier.COLD}),
        (7, {Tier.COLD}),
    ]
    history.verify()


def test_150_commits_end_cold_and_restore_byte_identical(tmp_path: Path) -> None:
    h = History(tmp_path / "repo")  # default thresholds: 10 and 100
    rng = random.Random(150)
    big, small = versions(rng, 96 * 1024), versions(rng, 20 * 1024)
    commits = [h.commit({"big.bin": next(big), "small.bin": next(small)}) for _ in range(150)]
    h.migrate()
    stats = h.repo.blocks.stats()
    assert stats.blocks_by_tier[Tier.COLD] > 0
    assert stats.blocks_by_tier[Tier.WARM] > 0
    assert stats.blocks_by_tier[Tier.HOT] > 0
    # The first commit's blocks are 149 generations old: all cold (those not reused).
    gens = h.repo.blocks.index.conn.execute(
        "SELECT c.generation, b.tier FROM block_map b JOIN commit_age c ON c.id = b.id"
    ).fetchall()
    for gen, tier in gens:
        assert tier == target_tier(150 - gen, TierPolicy())
    cold_raw = stats.raw_bytes_by_tier[Tier.COLD]
    cold_stored = h.repo.blocks.index.conn.execute(
        "SELECT SUM(stored_len) FROM (SELECT DISTINCT pack, offset, stored_len "
        "FROM block_map WHERE tier = 2)"
    ).fetchone()[0]
    assert cold_stored < cold_raw / 2  # frames of similar blocks compress well
    h.reopen()  # from disk, cold cache
    h.verify(commits)
    h.close()


def test_migration_is_idempotent_and_compacts_emptied_packs(history: History) -> None:
    rng = random.Random(7)
    gen = versions(rng, 64 * 1024)
    for _ in range(12):
        history.commit({"f.bin": next(gen)})
    history.migrate()
    store = history.repo.blocks
    packs_before = store.index.packs()
    # A second pass finds nothing to do.
    assert migrate_pass(history.repo, history.config).moved_blocks == 0
    assert store.index.packs() == packs_before
    # Every listed pack exists and no other pack file does.
    on_disk = sorted(int(p.stem) for p in (store.objects_dir).glob("*/*.pack"))
    assert on_disk == [p.pack for p in packs_before]
    # Nothing is left mostly dead.
    live = store.index.live_record_bytes()
    for info in packs_before:
        assert live.get(info.pack, 0) > 0
    history.verify()


def test_pack_numbers_are_never_reused(history: History) -> None:
    store = history.repo.blocks
    with store.transaction() as txn:
        ids = txn.put_many([os.urandom(4096) for _ in range(4)])
        txn.assign_generation(1)
    first = store.index.packs()[0].pack
    with store.transaction() as txn:  # forget the blocks, then drop the emptied pack
        store.index.conn.executemany("DELETE FROM block_map WHERE id = ?", [(i,) for i in ids])
    compact(store, cold_level=3)
    assert store.index.packs() == []
    assert not pack_path(store.objects_dir, Tier.HOT, first).exists()
    with store.transaction() as txn:
        txn.put(b"new")
    assert store.index.packs()[0].pack > first
    history.reopen()
    assert history.repo.blocks.index.packs()[0].pack > first


def test_reader_holding_an_old_location_rereads_after_a_move(history: History) -> None:
    store = history.repo.blocks
    data = [os.urandom(2048) + bytes(2048) for _ in range(8)]
    with store.transaction() as txn:
        ids = txn.put_many(data)
        txn.assign_generation(1)
    old = store.location(ids[3])
    assert store.get(ids[3]) == data[3]  # opens and caches the descriptor
    policy = TierPolicy(warm_threshold=0, cold_threshold=0)
    Migrator(store, policy).run(head_generation=5)
    compact(store, cold_level=3)
    assert not pack_path(store.objects_dir, Tier.HOT, old.pack).exists()
    # A reader that looked the block up before the switch still gets the block.
    assert store._read(ids[3], store.location(ids[3])) == data[3]
    with pytest.raises(Exception):  # noqa: B017 - the old pack is gone
        store._read(ids[3], old)
    assert store._reread(ids[3], old, OSError("gone")) == data[3]
    assert list(store.get_many(ids)) == data
    assert {loc.tier for loc in store.index.lookup_many(ids).values()} == {Tier.COLD}
    assert hash_block(store.get(ids[0])) == ids[0]


def test_migration_skips_unreadable_blocks_and_moves_the_rest(history: History) -> None:
    store = history.repo.blocks
    data = [bytes([n]) * 4096 for n in range(6)]
    with store.transaction() as txn:
        ids = txn.put_many(data)
        txn.assign_generation(1)
    bad = store.location(ids[2])
    path = pack_path(store.objects_dir, bad.tier, bad.pack)
    with path.open("r+b") as fh:  # hot blocks may share a raw frame record
        fh.seek(bad.offset + max(bad.frame_off, 0) + 100)
        fh.write(b"\xff")
    result = Migrator(store, TierPolicy(warm_threshold=0, cold_threshold=1)).run(5)
    assert result.moved_blocks == 5
    assert len(result.skipped) == 1 and ids[2].hex() in result.skipped[0]
    assert store.location(ids[2]) == bad
    for i in (0, 1, 3, 4, 5):
        assert store.get(ids[i]) == data[i]
        assert store.location(ids[i]).tier == Tier.COLD


def test_compacting_a_mostly_dead_frame_keeps_its_tier_codec(history: History) -> None:
    store = history.repo.blocks
    data = [os.urandom(4096) for _ in range(30)]
    with store.transaction() as txn:
        ids = txn.put_many(data)
        txn.assign_generation(1)
    with store.transaction():
        store.index.conn.executemany("DELETE FROM block_map WHERE id = ?", [(i,) for i in ids[2:]])
    before = store.location(ids[0]).pack
    result = compact(store, cold_level=3)
    assert result.compacted_packs == 1
    for block_id, raw in zip(ids[:2], data[:2], strict=True):
        loc = store.location(block_id)
        assert (loc.tier, loc.codec) == (Tier.HOT, Codec.RAW) and loc.pack != before
        assert store.get(block_id) == raw
    assert store.stats().stored_bytes < 3 * 4096 + 1024
