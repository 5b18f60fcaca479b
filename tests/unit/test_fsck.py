"""fsck: corruption in warm and cold packs is reported precisely; the index rebuilds."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from cofd.config import CompressionConfig
from cofd.objects.model import CommitId, TreeId
from cofd.ops.maintenance import check_repository, restore_commit_ages
from cofd.store.fsck import check_packs, rebuild_index
from cofd.store.ids import BlockId
from cofd.store.pack import Tier, pack_path
from protocol.errors import IntegrityError
from tests.unit.test_sync_closure import WHO, new_repo
from tests.unit.test_sync_loose_wants import _commit, _tag
from tests.unit.test_tiers import History, versions


@pytest.fixture
def tiered(tmp_path: Path) -> Iterator[tuple[History, list[CommitId]]]:
    """Ten commits of two files: the oldest cold, the middle ones warm, the rest hot."""
    h = History(tmp_path / "r", CompressionConfig(warm_threshold=2, cold_threshold=5))
    rng = random.Random(3)
    a, b = versions(rng, 40 * 1024), versions(rng, 24 * 1024)
    commits = [h.commit({"a.bin": next(a), "b.bin": next(b)}) for _ in range(10)]
    h.migrate()
    yield h, commits
    h.close()


def _block_in(h: History, tier: Tier) -> tuple[BlockId, Path, int]:
    row = h.repo.blocks.index.conn.execute(
        "SELECT id, pack, offset, stored_len FROM block_map WHERE tier = ? "
        "ORDER BY pack, offset LIMIT 1 OFFSET 3",
        (tier,),
    ).fetchone()
    return BlockId(row[0]), pack_path(h.repo.blocks.objects_dir, tier, row[1]), row[2] + row[3] // 2


def _flip(path: Path, offset: int) -> None:
    with path.open("r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([byte[0] ^ 0x5A]))


def _readable(h: History, commits: list[CommitId]) -> tuple[list[CommitId], list[str]]:
    good, errors = [], []
    for c in commits:
        try:
            h.verify([c])
            good.append(c)
        except IntegrityError as exc:
            errors.append(str(exc))
    return good, errors


def test_a_sound_repository_checks_clean(tiered: tuple[History, list[CommitId]]) -> None:
    h, _ = tiered
    tiers = {r[0] for r in h.repo.blocks.index.conn.execute("SELECT DISTINCT tier FROM block_map")}
    assert tiers == {Tier.HOT, Tier.WARM, Tier.COLD}
    report = check_repository(h.repo, full=True)
    assert report["problems"] == []
    assert report["ok"] and report["commits"] == 10
    assert report["blocks_rehashed"] >= report["reachable_blocks"]


@pytest.mark.parametrize("tier", [Tier.WARM, Tier.COLD])
def test_flipped_byte_is_reported_precisely(
    tiered: tuple[History, list[CommitId]], tier: Tier
) -> None:
    h, commits = tiered
    block_id, path, offset = _block_in(h, tier)
    _flip(path, offset)
    h.reopen()  # a cold cache: reads come from disk
    with pytest.raises(IntegrityError) as raised:
        h.repo.blocks.get(block_id)
    message = str(raised.value)
    assert block_id.hex() in message and f"pack {int(path.stem):08d}" in message
    # fsck: the quick check trusts pack bytes, --full names the block, pack and file.
    full = check_repository(h.repo, full=True)
    assert not full["ok"]
    corrupt_lines = [p for p in full["problems"] if block_id.hex() in p]
    assert any(f"pack {int(path.stem):08d} ({tier.dirname})" in p for p in corrupt_lines)
    assert any("in commit" in p and ".bin'" in p for p in corrupt_lines)
    # Only blocks of the damaged record are lost: every other block still reads, and
    # fsck names no other block.
    store = h.repo.blocks
    damaged = store.location(block_id)
    lost = set()
    for bid, loc in store.index.iter_blocks():
        if (loc.pack, loc.offset) == (damaged.pack, damaged.offset):
            lost.add(bid.hex())
        else:
            assert store.get(bid)
    named = {p.split("block ")[1][:64] for p in full["problems"] if "block " in p}
    assert named <= lost and block_id.hex() in named
    good, errors = _readable(h, commits)
    assert errors and commits[-1] in good  # the hot, newest version is untouched


def test_index_row_pointing_elsewhere_is_reported(
    tiered: tuple[History, list[CommitId]],
) -> None:
    h, _ = tiered
    conn = h.repo.blocks.index.conn
    block_id, _, _ = _block_in(h, Tier.WARM)
    conn.execute("UPDATE block_map SET offset = offset + 1 WHERE id = ?", (block_id,))
    report = check_packs(h.repo.blocks, full=False)
    assert report.problems == [
        p for p in report.problems if block_id.hex() in p and "points at no record" in p
    ]
    assert len(report.problems) == 1


def test_repair_index_rebuilds_everything_from_the_packs(
    tiered: tuple[History, list[CommitId]],
) -> None:
    h, commits = tiered
    conn = h.repo.blocks.index.conn
    before = sorted(conn.execute("SELECT * FROM block_map").fetchall())
    ages = sorted(conn.execute("SELECT * FROM commit_age").fetchall())
    h.close()
    index_dir = h.root / ".cof" / "index"
    for path in index_dir.iterdir():
        path.unlink()
    h.reopen()
    # The lost index does not make recovery delete the packs.
    assert h.repo.blocks.index.needs_repair()
    assert list((h.root / ".cof" / "objects").glob("*/*.pack"))
    result = rebuild_index(h.repo.blocks)
    assert result.corrupt_blocks == 0
    assert restore_commit_ages(h.repo) == len(ages)
    conn = h.repo.blocks.index.conn
    assert sorted(conn.execute("SELECT * FROM block_map").fetchall()) == before
    assert sorted(conn.execute("SELECT * FROM commit_age").fetchall()) == ages
    assert not h.repo.blocks.index.needs_repair()
    h.verify(commits)
    assert check_repository(h.repo, full=True)["ok"]


def test_corrupt_index_is_set_aside_and_rebuilt_from_the_packs(
    tiered: tuple[History, list[CommitId]],
) -> None:
    h, commits = tiered
    conn = h.repo.blocks.index.conn
    before = sorted(conn.execute("SELECT * FROM block_map").fetchall())
    h.close()
    index_dir = h.root / ".cof" / "index"
    for path in index_dir.iterdir():
        path.unlink()
    # Garbage where the database was: SQLite refuses it ("file is not a database").
    (index_dir / "blocks.sqlite").write_bytes(b"\x00\xff" * 4096)
    h.reopen()
    assert list(index_dir.glob("blocks.sqlite.corrupt-*"))  # kept for inspection
    assert h.repo.blocks.index.needs_repair()
    assert list((h.root / ".cof" / "objects").glob("*/*.pack"))
    assert rebuild_index(h.repo.blocks).corrupt_blocks == 0
    restore_commit_ages(h.repo)
    conn = h.repo.blocks.index.conn
    assert sorted(conn.execute("SELECT * FROM block_map").fetchall()) == before
    h.verify(commits)
    assert check_repository(h.repo, full=True)["ok"]


def test_refs_may_name_what_git_lets_them_name(tmp_path: Path) -> None:
    """A tag ref at an annotated tag of a tree, or at file data, is sound (what they
    reach is walked); a branch or a detached HEAD at anything but a commit is git's
    "not a commit"; a ref at nothing stored stays a problem."""
    repo = new_repo(tmp_path / "r")
    commit, tree = _commit(repo, {"a.txt": b"a\n", "big.bin": os.urandom(20_000)})
    [_, big] = repo.objects.read_tree(TreeId(tree)).entries
    tag = _tag(repo, tree)
    for name, value in (("refs/tags/t", tag), ("refs/tags/d", big.id), ("refs/heads/m", commit)):
        repo.refs.update(name, CommitId(value), WHO, "by hand")
    report = check_repository(repo, full=False)
    assert report["ok"] and report["tags"] == 1 and report["trees"] == 1, report
    repo.refs.update("refs/heads/at-tag", CommitId(tag), WHO, "by hand")
    repo.refs.update("refs/heads/at-data", CommitId(big.id), WHO, "by hand")
    repo.refs.set_head(CommitId(tree), WHO, "by hand")
    missing = bytes([7]) * 32
    repo.refs.update("refs/tags/gone", CommitId(missing), WHO, "by hand")
    problems = check_repository(repo, full=False)["problems"]
    assert problems[1:] == [
        "refs/heads/at-data: not a commit",
        "refs/heads/at-tag: not a commit",
        "HEAD: not a commit",
    ], problems
    assert problems[0].startswith(f"commit {missing.hex()} (from refs/tags/gone): ")
