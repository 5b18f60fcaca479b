"""Storage tiers benchmark: final store size against git, restic and borg, cold
migration throughput (2 threads vs 1), and cold block reads (cache misses).

Run (results are printed as markdown and written to ``$COF_BENCH_DIR/tiers.json``)::

    uv run python tests/bench/bench_tiers.py [--corpus numpy --corpus sqlite ...]

For each corpus (see ``tier_corpora.py``) the versions are replayed, one commit
(snapshot) per version, into: cof through its CLI (``cof add -A``, ``cof commit``),
git (``git add -A``, ``git commit``), restic (``restic backup``) and borg
(``borg create --compression zstd,3``). cof's thresholds are then set to warm 1 /
cold 2 and three empty commits age every version, so that ``cof migrate --wait``
moves all data to the cold tier: the size compared is that of a fully aged store
(with the default thresholds the newest 10 commits stay raw, by design). Sizes are
the apparent bytes of ``.cof`` (packs and index), ``.git`` after ``git gc`` and
after ``git gc --aggressive``, and the restic and borg repositories.

Throughput: the hot store of a corpus is copied twice and migrated straight to cold
in-process with ``Migrator(threads=1)`` and ``threads=2``. Latency: 300 random cold
blocks are read with an empty cache each time (``BlockStore.get``, which includes the
index lookup, the pread of the frame, decompression and the re-hash).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, os.fspath(Path(__file__).resolve().parent))
sys.path.insert(0, os.fspath(Path(__file__).resolve().parents[2]))

from harness import CofRunner, GitRunner, fmt_bytes, log, scratch_dir, tree_bytes
from tier_corpora import CORPORA, cache_dir

from cofd.store.blockstore import BlockStore
from cofd.store.ids import BlockId
from cofd.store.pack import Tier
from cofd.store.rewrite import Migrator
from cofd.store.tiers import TierPolicy

LATENCY_SAMPLES = 300


def sync_tree(src: Path, dst: Path, keep: str | None) -> None:
    """Make ``dst`` hold exactly ``src``'s files (except the ``keep`` directory)."""
    dst.mkdir(parents=True, exist_ok=True)
    for child in dst.iterdir():
        if child.name == keep:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    for child in src.iterdir():
        if child.is_dir():
            shutil.copytree(child, dst / child.name, symlinks=True)
        else:
            shutil.copy2(child, dst / child.name)


def run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    subprocess.run(argv, cwd=cwd, env=env, check=True, capture_output=True)


def set_thresholds(work: Path, warm: int, cold: int) -> None:
    config = work / ".cof" / "config.toml"
    # cof init writes these keys commented out (defaults); set and uncomment them.
    text = config.read_text()
    text = re.sub(r"(?m)^(# )?warm_threshold = \d+$", f"warm_threshold = {warm}", text)
    config.write_text(re.sub(r"(?m)^(# )?cold_threshold = \d+$", f"cold_threshold = {cold}", text))


def bench_cof(versions: list[Path], base: Path, hot_copy: Path) -> dict[str, Any]:
    work = base / "cof"
    work.mkdir()
    with CofRunner(base / "home") as cof:
        cof.start_daemon()
        cof("init", cwd=work)
        # Nothing migrates while replaying, so the hot store can be kept for throughput.
        set_thresholds(work, 1_000_000, 1_000_000)
        start = time.perf_counter()
        for n, version in enumerate(versions):
            sync_tree(version, work, ".cof")
            cof("add", "-A", cwd=work)
            cof("commit", "-q", "-m", f"v{n}", cwd=work)
        replay = time.perf_counter() - start
        cof.stop_daemon()
        shutil.copytree(work / ".cof", hot_copy)
        hot_size = tree_bytes(work / ".cof")
        set_thresholds(work, 1, 2)
        for n in range(3):
            cof("commit", "-q", "--allow-empty", "-m", f"age {n}", cwd=work)
        start = time.perf_counter()
        cof("migrate", "--wait", cwd=work)
        migrate = time.perf_counter() - start
        stats = json.loads(cof("dedup-stats", "--json", cwd=work).stdout)
        fsck = cof("fsck", cwd=work).stdout.strip().splitlines()[-1]
        # Foreground cost of background migration, on another copy of the hot store.
        timing = base / "cof-timing"
        timing.mkdir()
        shutil.copytree(hot_copy, timing / ".cof")
        idle = small_commits(cof, timing, "idle")
        set_thresholds(timing, 1, 2)
        for n in range(3):
            cof("commit", "-q", "--allow-empty", "-m", f"age {n}", cwd=timing)
        cof("migrate", cwd=timing)  # wakes the background loop
        busy = small_commits(cof, timing, "busy")
        status = json.loads(cof("daemon", "status", "--json", cwd=timing).stdout)
        states = [m["state"] for m in status["migration"] if m["repo"] == str(timing)]
    return {
        "commit_idle_ms": round(idle * 1000),
        "commit_during_migration_ms": round(busy * 1000),
        "migration_state_after_commits": states[0] if states else None,
        "replay_seconds": round(replay, 1),
        "migrate_seconds": round(migrate, 1),
        "hot_bytes": hot_size,
        "bytes": tree_bytes(work / ".cof"),
        "logical_bytes": stats["logical_bytes"],
        "unique_bytes": stats["unique_bytes"],
        "dedup_ratio": stats["dedup_ratio"],
        "cold_ratio": stats["compression_ratio"]["cold"],
        "fsck": fsck,
    }


def small_commits(cof: CofRunner, work: Path, tag: str, count: int = 7) -> float:
    """Median seconds of ``cof add`` + ``cof commit`` of a small (64 KiB) change."""
    samples = []
    for n in range(count):
        (work / "bench-note.bin").write_bytes(os.urandom(64 * 1024))
        start = time.perf_counter()
        cof("add", "bench-note.bin", cwd=work)
        cof("commit", "-q", "-m", f"{tag} {n}", cwd=work)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def bench_git(versions: list[Path], base: Path) -> dict[str, Any]:
    work = base / "git"
    work.mkdir()
    git = GitRunner()
    git("init", "-q", cwd=work)
    for n, version in enumerate(versions):
        sync_tree(version, work, ".git")
        git("add", "-A", cwd=work)
        git("commit", "-q", "--allow-empty", "-m", f"v{n}", cwd=work)
    start = time.perf_counter()
    git("gc", "-q", cwd=work)
    gc_seconds = time.perf_counter() - start
    gc_bytes = tree_bytes(work / ".git")
    start = time.perf_counter()
    git("gc", "-q", "--aggressive", cwd=work)
    aggressive_seconds = time.perf_counter() - start
    return {
        "gc_bytes": gc_bytes,
        "gc_seconds": round(gc_seconds, 1),
        "aggressive_bytes": tree_bytes(work / ".git"),
        "aggressive_seconds": round(aggressive_seconds, 1),
    }


def bench_restic_borg(versions: list[Path], base: Path) -> dict[str, Any]:
    data = base / "data"
    restic_repo, borg_repo = base / "restic", base / "borg"
    env = dict(
        os.environ, RESTIC_PASSWORD="bench", BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK="yes"
    )
    run(["restic", "init", "--repo", str(restic_repo)], base, env)
    run(["borg", "init", "--encryption=none", str(borg_repo)], base, env)
    restic_seconds = borg_seconds = 0.0
    for n, version in enumerate(versions):
        sync_tree(version, data, None)
        start = time.perf_counter()
        run(["restic", "--repo", str(restic_repo), "backup", "--quiet", "."], data, env)
        restic_seconds += time.perf_counter() - start
        start = time.perf_counter()
        run(["borg", "create", "--compression", "zstd,3", f"{borg_repo}::v{n}", "."], data, env)
        borg_seconds += time.perf_counter() - start
    return {
        "restic_bytes": tree_bytes(restic_repo),
        "restic_seconds": round(restic_seconds, 1),
        "borg_bytes": tree_bytes(borg_repo),
        "borg_seconds": round(borg_seconds, 1),
    }


def migrate_to_cold(cof_dir: Path, threads: int) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of this process, raw bytes) to move a hot store to cold.

    CPU seconds over wall seconds is how many cores the migration actually got: on a
    machine shared with other work the wall-clock speedup understates the code's.
    """
    store = BlockStore(cof_dir, 4096, 256 * 1024 * 1024)
    try:
        policy = TierPolicy(warm_threshold=0, cold_threshold=0)
        start, cpu = time.perf_counter(), time.process_time()
        result = Migrator(store, policy, threads=threads).run(head_generation=1 << 40)
        return (
            time.perf_counter() - start,
            time.process_time() - cpu,
            result.moved_raw_bytes,
        )
    finally:
        store.close()


def cold_read_latency(cof_dir: Path) -> dict[str, float]:
    store = BlockStore(cof_dir, 4096, 256 * 1024 * 1024)
    try:
        ids = [
            BlockId(row[0])
            for row in store.index.conn.execute(
                "SELECT id FROM block_map WHERE tier = ?", (int(Tier.COLD),)
            )
        ]
        sample = random.Random(1).sample(ids, min(LATENCY_SAMPLES, len(ids)))
        times = []
        for block_id in sample:
            store.cache.discard_where(lambda key: True)
            start = time.perf_counter()
            store.get(block_id)
            times.append(time.perf_counter() - start)
        return {
            "median_ms": round(statistics.median(times) * 1000, 3),
            "p90_ms": round(sorted(times)[int(len(times) * 0.9)] * 1000, 3),
        }
    finally:
        store.close()


def bench_corpus(name: str) -> dict[str, Any]:
    versions = CORPORA[name]()
    log(f"{name}: {len(versions)} versions")
    with scratch_dir("cofbt") as base:
        hot = base / "hot.cof"
        result: dict[str, Any] = {"versions": len(versions)}
        result["cof"] = bench_cof(versions, base, hot)
        log(f"{name}: cof {fmt_bytes(result['cof']['bytes'])}")
        result["git"] = bench_git(versions, base)
        log(f"{name}: git {fmt_bytes(result['git']['aggressive_bytes'])}")
        result.update(bench_restic_borg(versions, base))
        one, two = base / "t1.cof", base / "t2.cof"
        shutil.copytree(hot, one)
        shutil.copytree(hot, two)
        load = os.getloadavg()[0]
        t1, cpu1, moved = migrate_to_cold(one, 1)
        t2, cpu2, _ = migrate_to_cold(two, 2)
        result["throughput"] = {
            "raw_bytes": moved,
            "one_thread_mib_s": round(moved / t1 / 2**20, 2),
            "two_threads_mib_s": round(moved / t2 / 2**20, 2),
            "speedup": round(t1 / t2, 2),
            "cores_used_one": round(cpu1 / t1, 2),
            "cores_used_two": round(cpu2 / t2, 2),
            "load_average_before": round(load, 2),
        }
        result["cold_read"] = cold_read_latency(two)
    return result


def render(results: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| corpus | versions | logical | cof (cold) | git gc | git gc --aggressive | restic "
        "| borg zstd,3 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['versions']} | {fmt_bytes(r['cof']['logical_bytes'])} "
            f"| **{fmt_bytes(r['cof']['bytes'])}** | {fmt_bytes(r['git']['gc_bytes'])} "
            f"| {fmt_bytes(r['git']['aggressive_bytes'])} | {fmt_bytes(r['restic_bytes'])} "
            f"| {fmt_bytes(r['borg_bytes'])} |"
        )
    lines += [
        "",
        "| corpus | cold ratio | migrate --wait | 1 thread | 2 threads | speedup "
        "| cores used (1 / 2 threads) | load avg | cold read median | p90 "
        "| add+commit idle / during migration |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        t = r["throughput"]
        lines.append(
            f"| {name} | {r['cof']['cold_ratio']:.2f} | {r['cof']['migrate_seconds']} s "
            f"| {t['one_thread_mib_s']} MiB/s | {t['two_threads_mib_s']} MiB/s "
            f"| {t['speedup']}x | {t['cores_used_one']} / {t['cores_used_two']} "
            f"| {t['load_average_before']} | {r['cold_read']['median_ms']} ms "
            f"| {r['cold_read']['p90_ms']} ms | {r['cof']['commit_idle_ms']} / "
            f"{r['cof']['commit_during_migration_ms']} ms "
            f"({r['cof']['migration_state_after_commits']}) |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", action="append", choices=sorted(CORPORA))
    args = parser.parse_args()
    results = {name: bench_corpus(name) for name in args.corpus or list(CORPORA)}
    out = cache_dir() / "tiers.json"
    out.write_text(json.dumps(results, indent=2))
    print(render(results))
    print(f"\n(raw results: {out})")


if __name__ == "__main__":
    main()
