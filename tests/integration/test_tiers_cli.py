"""Tiers through the real CLI and daemon: thresholds, migrate, dedup-stats, fsck, gc."""

from __future__ import annotations

import json
import random
import re
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from tests.integration.treekit import head_id

if TYPE_CHECKING:
    from conftest import CofSandbox

AUTHOR = {"COF_AUTHOR_NAME": "Tess Ter", "COF_AUTHOR_EMAIL": "tess@example.com"}


def set_thresholds(work: Path, warm: int, cold: int) -> None:
    config = work / ".cof" / "config.toml"
    text = config.read_text()
    # cof init writes these keys commented out (defaults); set and uncomment them.
    text = re.sub(r"(?m)^(# )?warm_threshold = \d+$", f"warm_threshold = {warm}", text)
    text = re.sub(r"(?m)^(# )?cold_threshold = \d+$", f"cold_threshold = {cold}", text)
    config.write_text(text)


def tiers_of_generation(work: Path, generation: int) -> set[int]:
    conn = sqlite3.connect(f"file:{work / '.cof/index/blocks.sqlite'}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT DISTINCT b.tier FROM block_map b JOIN commit_age c ON c.id = b.id "
            "WHERE c.generation = ?",
            (generation,),
        ).fetchall()
    finally:
        conn.close()
    return {r[0] for r in rows}


def compressible(rng: random.Random, size: int) -> bytes:
    words = [rng.randbytes(12) for _ in range(50)]
    return b"".join(rng.choice(words) for _ in range(size // 12))


def test_thresholds_migrate_stats_fsck_and_restore(sandbox: CofSandbox) -> None:
    cof, work = sandbox.cof, sandbox.work
    sandbox.env.update(AUTHOR)
    cof("init")
    set_thresholds(work, 2, 4)
    rng = random.Random(4)
    first = compressible(rng, 60_000)
    (work / "a.bin").write_bytes(first)
    cof("add", "a.bin")
    cof("commit", "-q", "-m", "v1")
    first_id = head_id(cof)
    seen = []
    for n in range(2, 8):
        (work / "b.bin").write_bytes(compressible(rng, 9000) + bytes([n]))
        cof("add", "b.bin")
        cof("commit", "-q", "-m", f"v{n}")
        cof("migrate", "--wait")
        seen.append((n - 1, tiers_of_generation(work, 1)))
    # age = head generation - 1: hot up to 2, warm up to 4, then cold.
    assert seen == [(1, {0}), (2, {0}), (3, {1}), (4, {1}), (5, {2}), (6, {2})]

    stats = json.loads(cof("dedup-stats", "--json").stdout)
    for key in ("logical_bytes", "unique_bytes", "stored_bytes", "dedup_ratio", "tier_bytes"):
        assert key in stats
    assert stats["tier_blocks"]["cold"] > 0
    assert stats["compression_ratio"]["cold"] > 2.0
    assert stats["pending_migration"] == {"blocks": 0, "raw_bytes": 0}
    assert stats["projected_stored_bytes"] <= stats["stored_bytes"]
    text = cof("dedup-stats").stdout
    assert "projected size" in text and "compression" in text

    status = json.loads(cof("daemon", "status", "--json").stdout)
    (migration,) = status["migration"]
    assert migration["repo"] == str(work) and migration["moved_blocks"] > 0
    assert "migration" in cof("daemon", "status").stdout

    fsck = cof("fsck", "--full")
    assert fsck.stdout.strip().endswith("ok"), fsck.stdout
    (work / "a.bin").unlink()
    cof("restore", "--source", first_id, "a.bin")
    assert (work / "a.bin").read_bytes() == first

    # gc with the default prune window keeps everything (all of it is reachable).
    gc = json.loads(cof("gc", "--json").stdout)
    assert gc["deleted_blocks"] == 0 and gc["live_blocks"] > 0
    bad = cof("gc", "--prune=soon", check=False)
    assert bad.returncode == 2 and bad.stderr.startswith("cof: ")


def test_unstaged_garbage_is_collected_and_corruption_reported(sandbox: CofSandbox) -> None:
    cof, work = sandbox.cof, sandbox.work
    sandbox.env.update(AUTHOR)
    cof("init")
    set_thresholds(work, 0, 1)
    rng = random.Random(5)
    keep = compressible(rng, 50_000)
    (work / "keep.bin").write_bytes(keep)
    cof("add", "keep.bin")
    cof("commit", "-q", "-m", "keep")
    (work / "other.bin").write_bytes(compressible(rng, 30_000))
    cof("add", "other.bin")
    cof("commit", "-q", "-m", "other")
    # Staged, then replaced before committing: the first version is garbage.
    (work / "tmp.bin").write_bytes(rng.randbytes(40_000))
    cof("add", "tmp.bin")
    (work / "tmp.bin").write_bytes(b"small now")
    cof("add", "tmp.bin")
    cof("commit", "-q", "-m", "tmp")
    cof("migrate", "--wait")
    gc = json.loads(cof("gc", "--prune=now", "--json").stdout)
    assert gc["deleted_blocks"] >= 10  # 40 000 random bytes = 10 blocks
    assert gc["stored_bytes_after"] < gc["stored_bytes_before"]
    assert cof("fsck", "--full").returncode == 0

    # Flip one byte inside a cold frame: fsck names the block, pack and file.
    conn = sqlite3.connect(f"file:{work / '.cof/index/blocks.sqlite'}?mode=ro", uri=True)
    block, pack, offset, length = conn.execute(
        "SELECT id, pack, offset, stored_len FROM block_map WHERE tier = 2 "
        "ORDER BY pack, offset LIMIT 1"
    ).fetchone()
    conn.close()
    path = work / ".cof" / "objects" / "cold" / f"{pack:08d}.pack"
    with path.open("r+b") as fh:
        fh.seek(offset + length // 2)
        byte = fh.read(1)
        fh.seek(offset + length // 2)
        fh.write(bytes([byte[0] ^ 0xFF]))
    cof("daemon", "stop")  # a cold cache: the next reads come from disk
    report = cof("fsck", "--full", check=False)
    assert report.returncode == 10, report.stdout
    assert block.hex() in report.stdout and f"pack {pack:08d} (cold)" in report.stdout
    assert "keep.bin'" in report.stdout
    (work / "keep.bin").unlink()
    restore = cof("restore", "--source", "HEAD", "keep.bin", check=False)
    assert restore.returncode == 10 and "corrupt" in restore.stderr
    # The other file lives in other records and is still readable.
    (work / "tmp.bin").unlink()
    cof("restore", "--source", "HEAD", "tmp.bin")
    assert (work / "tmp.bin").read_bytes() == b"small now"


def test_auto_gc_waits_until_the_repository_is_quiet(sandbox: CofSandbox) -> None:
    """A commit that makes auto gc due (``gc.auto_gc_min_new_blocks``, here 256: a
    1 MiB file) does not start it while commands keep coming (it would hold the writer
    lock over them); it runs once nothing has touched the repository for
    ``gc.auto_gc_quiet_seconds`` (here 4: a command's start-up under load must not
    look like quiet)."""
    import os
    import time

    quiet = 4
    sandbox.env.update(
        {
            "COF_AUTHOR_NAME": "G C",
            "COF_AUTHOR_EMAIL": "gc@example.com",
            "COF_GC_AUTO_GC_MIN_NEW_BLOCKS": "256",
            "COF_GC_AUTO_GC_QUIET_SECONDS": str(quiet),
        }
    )
    work, cof = sandbox.work, sandbox.cof
    cof("init")
    (work / "big.bin").write_bytes(os.urandom(1024 * 1024))
    cof("add", "big.bin")
    cof("commit", "-q", "-m", "big")
    log = sandbox.home / "cofd.log"
    busy_until = time.monotonic() + quiet + 2
    while time.monotonic() < busy_until:  # a command every 0.25 s: never quiet
        cof("status")
        time.sleep(0.25)
    assert "auto gc" not in log.read_text()
    deadline = time.monotonic() + quiet + 20
    while "auto gc" not in log.read_text():
        assert time.monotonic() < deadline, "auto gc never ran on a quiet repository"
        time.sleep(0.2)
    assert cof("fsck").returncode == 0
