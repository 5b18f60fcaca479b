"""What the background migration loop costs after a write that ages nothing.

    uv run python -m tests.bench.bench_migration_pass [--blocks 262144] [--runs 5]

The daemon wakes its migration loop after every writing command (add, commit,
branch, share, ...). A store of ``--blocks`` 4 KiB blocks (one commit) is built
in-process; then, median of ``--runs``:

- *before*: what each wake-up did before the migration floors: a walk over every
  block for candidates (``migrate_pass(full=True)``, as ``cof migrate --wait``
  still does, with the live bytes per pack for compaction), the count of blocks
  still due and auto gc's count of the whole index;
- *pass*: the wake-up after a write that ages nothing (floors settled);
- *auto gc check*: ``auto_gc_due`` (it counted the index before ``blocks_added``).

Goal: a pass after a write costs under 5 ms whatever the size of the store.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

from cofd.config import Config
from cofd.ops.maintenance import auto_gc_due, migrate_pass, pending_blocks, policy_of
from cofd.ops.repository import Repository, create_layout
from tests.bench.harness import log, repeat, scratch_dir

BATCH = 4096  # blocks per put_many


def build(root: Path, blocks: int) -> Repository:
    create_layout(root)
    repo = Repository.open(root)
    with repo.blocks.transaction() as txn:
        for start in range(0, blocks, BATCH):
            txn.put_many([os.urandom(4096) for _ in range(min(BATCH, blocks - start))])
        txn.assign_generation(1)
    return repo


def median_ms(fn: Callable[[], object], runs: int) -> float:
    return repeat(fn, runs).median * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--blocks", type=int, default=1 << 18)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    config = Config()
    with scratch_dir() as base:
        log(f"building a store of {args.blocks} blocks")
        repo = build(base / "repo", args.blocks)
        try:
            migrate_pass(repo, config)  # settles the floors (and the first compaction check)
            auto_gc_due(repo, config)  # records the size at the first check

            def before() -> None:
                migrate_pass(repo, config, full=True)
                pending_blocks(repo, policy_of(config))
                repo.blocks.stats()

            full = median_ms(before, args.runs)
            quick = median_ms(lambda: migrate_pass(repo, config), args.runs)
            gc_check = median_ms(lambda: auto_gc_due(repo, config), args.runs)
        finally:
            repo.close()
    print("| store | before | pass after a write | ratio | auto gc check |")
    print("|---|---|---|---|---|")
    print(
        f"| {args.blocks} blocks ({args.blocks * 4096 / 2**30:.2f} GiB) | {full:.1f} ms | "
        f"{quick:.2f} ms | {full / max(quick, 1e-6):.0f}x | {gc_check:.2f} ms |"
    )
    print(f"goal: pass after a write < 5 ms: {'PASS' if quick < 5 else 'MISS'}")


if __name__ == "__main__":
    main()
