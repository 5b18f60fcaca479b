"""``dedup-stats``: how much the store saves.

Definitions (also in docs/format.md):
    logical_bytes   sizes of all distinct file versions -- (path, content) pairs --
                    referenced by the commits reachable from any ref.
    unique_bytes    raw bytes of the distinct blocks in the store (data, manifests,
                    trees and commits).
    stored_bytes    bytes of the pack files on disk.
    dedup_ratio     logical_bytes / unique_bytes.
    savings_percent 100 * (1 - stored_bytes / logical_bytes).
    compression_ratio  per tier: raw bytes of its blocks / bytes of its live records.
    pending_migration  blocks (and their raw bytes) whose age calls for a colder tier.
    projected_stored_bytes  live record bytes once those have moved, estimated with
                    each target tier's observed ratio (or a conservative default
                    while that tier is empty), pack overhead and dead bytes excluded.
"""

from __future__ import annotations

from typing import Any

from cofd.objects.model import Kind, TreeId
from cofd.ops.api import OpContext, op
from cofd.ops.history import walk_commits
from cofd.ops.maintenance import head_generation, policy_of
from cofd.ops.repository import Repository
from cofd.store.pack import Tier

# Ratios assumed for a tier that holds nothing yet (measured ratios on binaries are
# higher: see docs/benchmarks.md), so the projection errs on the large side.
DEFAULT_RATIO = {Tier.HOT: 1.0, Tier.WARM: 1.3, Tier.COLD: 2.0}


def logical_bytes(repo: Repository) -> tuple[int, int, int]:
    """(bytes of distinct file versions, number of them, number of commits)."""
    starts = [commit for _, commit in repo.refs.iter_refs()]
    head = repo.refs.head()
    if head is not None:
        starts.append(head)
    seen_trees: set[tuple[str, bytes]] = set()
    versions: set[tuple[str, bytes]] = set()
    total = commits = 0
    for _, commit in walk_commits(repo, starts):
        commits += 1
        stack: list[tuple[str, TreeId]] = [("", commit.tree)]
        while stack:
            prefix, tree_id = stack.pop()
            # A subtree seen at the same path already contributed all its versions.
            if (prefix, tree_id) in seen_trees:
                continue
            seen_trees.add((prefix, tree_id))
            for entry in repo.objects.read_tree(tree_id).entries:
                path = prefix + entry.name
                if entry.kind == Kind.DIR:
                    stack.append((path + "/", TreeId(entry.id)))
                elif (path, entry.id) not in versions:
                    versions.add((path, entry.id))
                    total += entry.size
    return total, len(versions), commits


@op("dedup_stats", writes=False)
def dedup_stats(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    repo = ctx.require_repo()
    logical, versions, commits = logical_bytes(repo)
    stats = repo.blocks.stats()
    unique, stored = stats.unique_bytes, stats.stored_bytes
    return {
        "logical_bytes": logical,
        "file_versions": versions,
        "commits": commits,
        "unique_bytes": unique,
        "stored_bytes": stored,
        "blocks": stats.blocks,
        "tier_bytes": {
            t.dirname: stats.stored_bytes_by_tier[t] for t in stats.stored_bytes_by_tier
        },
        "tier_blocks": {t.dirname: stats.blocks_by_tier[t] for t in stats.blocks_by_tier},
        "tier_raw_bytes": {t.dirname: stats.raw_bytes_by_tier[t] for t in stats.raw_bytes_by_tier},
        "dedup_ratio": round(logical / unique, 4) if unique else 0.0,
        "savings_percent": round(100.0 * (1 - stored / logical), 2) if logical else 0.0,
        **tier_projection(ctx, repo, stats.raw_bytes_by_tier),
    }


def tier_projection(
    ctx: OpContext, repo: Repository, raw_by_tier: dict[Tier, int]
) -> dict[str, Any]:
    """Per-tier live bytes and compression ratios, and the size after pending moves."""
    index = repo.blocks.index
    live_by_pack = index.live_record_bytes()
    live = dict.fromkeys(Tier, 0)
    for info in index.packs():
        live[info.tier] += live_by_pack.get(info.pack, 0)
    ratio = {t: (raw_by_tier[t] / live[t]) if live[t] else 0.0 for t in Tier}
    policy = policy_of(ctx.config())
    movable = index.count_movable(
        head_generation(repo), policy.warm_threshold, policy.cold_threshold
    )
    projected = float(sum(live.values()))
    pending_blocks = pending_raw = 0
    for (_, target), (count, raw, stored) in movable.items():
        pending_blocks += count
        pending_raw += raw
        projected += raw / (ratio[target] or DEFAULT_RATIO[target]) - stored
    return {
        "tier_live_bytes": {t.dirname: live[t] for t in Tier},
        "compression_ratio": {t.dirname: round(ratio[t], 4) for t in Tier},
        "pending_migration": {"blocks": pending_blocks, "raw_bytes": pending_raw},
        "projected_stored_bytes": max(int(projected), 0),
    }
