"""Garbage collection: the sweep's age rules, and "gc never deletes anything reachable".

Reachability is recomputed here independently of ``cofd.ops.maintenance``: from the
ref files, the reflog lines and HEAD, following parents, with every commit's block
ids computed from the data the test wrote (not read back from the store).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cofd.config import CompressionConfig
from cofd.objects.model import MODE_FILE, Commit, CommitId, Kind, Tree, TreeEntry
from cofd.ops.maintenance import collect_garbage
from cofd.store.gc import LiveSet, sweep
from cofd.store.ids import BlockId, hash_block
from cofd.store.manifest import ManifestBuilder
from tests.hypothesis_profiles import budget
from tests.unit.test_tiers import SIG, History

BLOCK = 4096
DAY = 86400.0


def content_ids(data: bytes) -> tuple[BlockId, set[BlockId]]:
    """(content id, every block id it consists of), computed without the store."""
    if len(data) <= BLOCK:
        block_id = hash_block(data)
        return block_id, {block_id}
    ids: set[BlockId] = set()

    def put(node: bytes) -> BlockId:
        node_id = hash_block(node)
        ids.add(node_id)
        return node_id

    builder = ManifestBuilder(put)
    for start in range(0, len(data), BLOCK):
        leaf = hash_block(data[start : start + BLOCK])
        ids.add(leaf)
        builder.add(leaf, len(data[start : start + BLOCK]))
    root, _ = builder.finish()
    return root, ids


def commit_blocks(files: dict[str, bytes], parents: list[CommitId], sequence: int) -> set[BlockId]:
    """The blocks of a commit made by ``History.commit`` (small trees and commits)."""
    blocks: set[BlockId] = set()
    entries = []
    for name, data in files.items():
        root, ids = content_ids(data)
        blocks |= ids
        entries.append(TreeEntry(name, Kind.FILE, MODE_FILE, root, len(data)))
    tree = Tree.build(entries).encode()
    assert len(tree) <= BLOCK
    tree_id = hash_block(tree)
    commit = Commit(tuple(parents), tree_id, SIG, SIG, f"c{sequence}\n", sequence).encode()  # type: ignore[arg-type]
    return blocks | {tree_id, hash_block(commit)}


def reachable_commits(h: History) -> set[CommitId]:
    cof = h.repo.cof_dir
    starts: list[CommitId] = []
    for path in (cof / "refs").rglob("*"):
        if path.is_file():
            starts.append(CommitId(bytes.fromhex(path.read_text().strip())))
    head = (cof / "HEAD").read_text().strip()
    if not head.startswith("ref: "):
        starts.append(CommitId(bytes.fromhex(head)))
    for log in (cof / "logs").rglob("*"):
        if log.is_file():
            for line in log.read_text().splitlines():
                for word in line.split(" ")[:2]:
                    if word.strip("0"):
                        starts.append(CommitId(bytes.fromhex(word)))
    seen: set[CommitId] = set()
    while starts:
        c = starts.pop()
        if c not in seen:
            seen.add(c)
            starts.extend(h.repo.objects.read_commit(c).parents)
    return seen


def index_ids(h: History) -> set[bytes]:
    return {row[0] for row in h.repo.blocks.index.conn.execute("SELECT id FROM block_map")}


# -- sweep rules ---------------------------------------------------------------------


def _put(h: History, data: bytes, generation: int | None, when: float) -> BlockId:
    with h.repo.blocks.transaction() as txn:
        block_id = txn.put(data)
        if generation is not None:
            txn.assign_generation(generation, now=when)
    return block_id


def test_sweep_keeps_live_young_and_staged_blocks(tmp_path: Path) -> None:
    h = History(tmp_path / "r")
    now = time.time()
    live = _put(h, b"live", 1, now - 90 * DAY)
    old = _put(h, b"old garbage", 2, now - 40 * DAY)
    young = _put(h, b"young garbage", 3, now - 1 * DAY)
    staged = _put(h, b"written by add, not committed yet", None, now)
    store = h.repo.blocks
    marks = LiveSet(store)
    marks.add(live)
    result = sweep(store, marks, cutoff=now - 30 * DAY)
    assert (result.deleted_blocks, result.kept_young_blocks) == (1, 2)
    assert store.existing([live, old, young, staged]) == {live, young, staged}
    assert store.index.generation_of(old) is None
    result = sweep(store, marks, cutoff=None)  # --prune=now
    assert result.deleted_blocks == 2
    assert store.existing([live, young, staged]) == {live}
    assert store.index.conn.execute("SELECT COUNT(*) FROM pending_records").fetchone()[0] == 0
    marks.close()
    h.close()


def test_gc_reclaims_pack_space_and_keeps_history(tmp_path: Path) -> None:
    h = History(tmp_path / "r", CompressionConfig(warm_threshold=1, cold_threshold=2))
    keep = h.commit({"a": os.urandom(20000)})
    h.commit({"a": os.urandom(20000)}, branch="tmp", parents=[keep])
    h.migrate()
    h.repo.refs.update("refs/heads/tmp", None, SIG, "delete")
    (h.repo.cof_dir / "logs" / "refs" / "heads" / "tmp").unlink()
    stored_before = h.repo.blocks.stats().stored_bytes
    result = collect_garbage(h.repo, None, h.config)
    assert result.deleted_blocks >= 5  # 20000 bytes = 5 data blocks, plus node/tree/commit
    assert h.repo.blocks.stats().stored_bytes < stored_before - 15000
    assert result.rewrite.compacted_packs + result.rewrite.deleted_packs >= 1
    h.verify([keep])
    h.reopen()
    h.verify([keep])
    h.close()


def test_gc_keeps_the_commits_of_a_push_being_received(tmp_path: Path) -> None:
    """A received push stores its commits before it moves a ref to them (the transfer
    runs beside readers, the ref update under the write lock): gc in between must not
    take them, whatever --prune says. Its pin is what keeps them."""
    h = History(tmp_path / "r")
    h.commit({"a": b"base"})
    pushed = h.commit({"a": os.urandom(20000)}, branch="incoming")
    h.repo.refs.update("refs/heads/incoming", None, SIG, "as if not moved yet")
    (h.repo.cof_dir / "logs" / "refs" / "heads" / "incoming").unlink()
    h.repo.gc_pins.append(pushed)
    assert collect_garbage(h.repo, None, h.config).deleted_blocks == 0
    h.verify([pushed])
    h.repo.gc_pins.remove(pushed)
    assert collect_garbage(h.repo, None, h.config).deleted_blocks >= 5
    h.close()


def test_gc_refuses_to_sweep_when_a_ref_points_at_a_missing_commit(tmp_path: Path) -> None:
    h = History(tmp_path / "r")
    h.commit({"a": b"x" * 9000})
    (h.repo.cof_dir / "refs" / "heads" / "bad").write_text("ab" * 32 + "\n")
    before = index_ids(h)
    with pytest.raises(Exception, match="missing"):
        collect_garbage(h.repo, None, h.config)
    assert index_ids(h) == before
    h.close()


# -- the property ----------------------------------------------------------------------

BRANCHES = ("main", "b1", "b2")
action = st.one_of(
    st.tuples(st.just("commit"), st.sampled_from(BRANCHES), st.integers(0, 7), st.integers(0, 3)),
    st.tuples(st.just("delete"), st.sampled_from(BRANCHES[1:]), st.booleans(), st.just(0)),
    st.tuples(st.just("gc"), st.just(""), st.just(0), st.just(0)),
    st.tuples(st.just("migrate"), st.just(""), st.just(0), st.just(0)),
)


@settings(max_examples=budget(12, 200))
@given(actions=st.lists(action, min_size=3, max_size=14))
def test_gc_never_deletes_anything_reachable(
    tmp_path_factory: pytest.TempPathFactory, actions: list[tuple[str, str, int, int]]
) -> None:
    root = tmp_path_factory.mktemp("gc") / "repo"
    h = History(root, CompressionConfig(warm_threshold=1, cold_threshold=3))
    pool = [bytes([n]) * (3000 + 2500 * n) for n in range(8)]  # shared blocks across files
    blocks: dict[CommitId, set[BlockId]] = {}
    try:
        for kind, branch, seed, count in actions:
            if kind == "commit":
                files = {f"f{i}": pool[(seed + i) % 8] + bytes([seed, i]) for i in range(count + 1)}
                tip = h.repo.refs.read(f"refs/heads/{branch}")
                parents = [tip] if tip is not None else []
                commit_id = h.commit(files, branch=branch, parents=parents)
                sequence = h.repo.objects.read_commit(commit_id).sequence
                blocks[commit_id] = commit_blocks(files, parents, sequence)
            elif kind == "delete":
                if h.repo.refs.read(f"refs/heads/{branch}") is not None:
                    h.repo.refs.update(f"refs/heads/{branch}", None, SIG, "branch -D")
                if seed:  # expire the reflogs too: its commits may become garbage
                    for log in (h.repo.cof_dir / "logs").rglob("*"):
                        if log.is_file() and log.name != "main":
                            log.unlink()
            elif kind == "migrate":
                h.migrate()
            else:
                collect_garbage(h.repo, None, h.config)
                live = reachable_commits(h)
                h.verify(sorted(live))
                expected: set[BlockId] = set()
                for c in live:
                    expected |= blocks[c]
                assert index_ids(h) == expected
        collect_garbage(h.repo, None, h.config)
        h.reopen()
        h.verify(sorted(reachable_commits(h)))
    finally:
        h.close()
