"""``dedup-stats``: how much the store saves, and what else it holds.

Definitions (also in the README, "Reading dedup-stats"). The history is every commit
reachable from a ref or HEAD; the other figures are of the blocks that history
references, so a ratio never mixes in blocks it does not use:

    logical_bytes   sizes of all distinct file versions -- (path, content) pairs --
                    in the history: what checking out every version would write.
    data_bytes      raw bytes of the distinct data blocks of those versions.
    unique_bytes    raw bytes of every block the history references: data, content
                    manifests, trees, commits and tags (metadata_bytes: all but data).
    history_stored_bytes  what those blocks take in the packs (compressed).
    dedup_ratio     logical_bytes / data_bytes (1.0 without repeated data).
    savings_percent 100 * (1 - history_stored_bytes / logical_bytes).
    outside_history blocks the history does not reference, each group with its
                    blocks, raw and stored bytes: staged (the staging area's, not
                    committed yet), reflogs (reached only from reflogs, MERGE_HEAD or a
                    push being received: gc keeps them), unreferenced (gc deletes them
                    once older than gc.unreachable_days).
    pack_overhead_bytes  pack bytes that are no block's: headers, and records of
                    deleted blocks until compaction drops them.
    stored_bytes    bytes of the pack files on disk: the groups above, all together.
    compression_ratio  per tier: raw bytes of its blocks / bytes of its live records.
    pending_migration  blocks (and their raw bytes) whose age calls for a colder tier.
    projected_stored_bytes  live record bytes once those have moved, estimated with
                    each target tier's observed ratio (or a conservative default
                    while that tier is empty), pack overhead and dead bytes excluded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cofd.objects.model import CommitId, Kind, TreeId
from cofd.ops.api import OpContext, op
from cofd.ops.history import walk_commits
from cofd.ops.maintenance import Walker, head_generation, policy_of, root_commits
from cofd.ops.repository import Repository
from cofd.store.gc import LiveSet
from cofd.store.ids import BlockId
from cofd.store.pack import Tier
from cofd.store.stats import Totals, live_totals, set_totals

# Ratios assumed for a tier that holds nothing yet (measured ratios on binaries are
# higher: see docs/benchmarks.md), so the projection errs on the large side.
DEFAULT_RATIO = {Tier.HOT: 1.0, Tier.WARM: 1.3, Tier.COLD: 2.0}


@dataclass(slots=True)
class History:
    """What the history holds, file by file."""

    logical_bytes: int = 0
    versions: int = 0
    commits: int = 0
    contents: dict[BlockId, int] = field(default_factory=dict)  # content id -> size


def history_roots(repo: Repository) -> list[tuple[str, CommitId]]:
    """The refs and HEAD: what the history is reachable from."""
    roots: list[tuple[str, CommitId]] = list(repo.refs.iter_refs())
    head = repo.refs.head()
    if head is not None:
        roots.append(("HEAD", head))
    return roots


def logical_bytes(repo: Repository) -> History:
    """Every distinct file version of the history, with its size."""
    history = History()
    seen_trees: set[tuple[str, bytes]] = set()
    versions: set[tuple[str, bytes]] = set()
    for _, commit in walk_commits(repo, [c for _, c in history_roots(repo)]):
        history.commits += 1
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
                    history.logical_bytes += entry.size
                    history.contents[BlockId(entry.id)] = entry.size
    history.versions = len(versions)
    return history


@dataclass(frozen=True, slots=True)
class Breakdown:
    history: Totals  # every block the history references
    data: Totals  # of those, the data blocks of its files
    staged: Totals
    reflogs: Totals
    unreferenced: Totals


def breakdown(repo: Repository, history: History) -> Breakdown:
    """The store's blocks by what reaches them: marked from the history first, then
    from the staging area, then from every other gc root; the rest reaches nothing.
    Raises IntegrityError on a missing or corrupt object, as gc does."""
    live = LiveSet(repo.blocks)
    data = LiveSet(repo.blocks, "stats_data")
    try:
        walker = Walker(repo, live)
        bounds = []
        for roots in (history_roots(repo), None, root_commits(repo)):
            if roots is None:
                walker.mark_staging()
            else:
                for commit_id, _ in walker.all_commits(roots):
                    walker.mark_commit_tree(commit_id)
            bounds.append(live.last_rowid())
        (in_history, staged, reflogs), unreferenced = live_totals(repo.blocks, live, bounds)
        for content_id, size in history.contents.items():
            data.add_many(repo.objects.iter_content_blocks(content_id, size))
        return Breakdown(in_history, set_totals(repo.blocks, data), staged, reflogs, unreferenced)
    finally:
        data.close()
        live.close()


@op("dedup_stats", writes=False)
def dedup_stats(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    repo = ctx.require_repo()
    history = logical_bytes(repo)
    parts = breakdown(repo, history)
    stats = repo.blocks.stats()
    logical, stored = history.logical_bytes, parts.history.stored_bytes
    in_blocks = sum(
        t.stored_bytes for t in (parts.history, parts.staged, parts.reflogs, parts.unreferenced)
    )
    return {
        "logical_bytes": logical,
        "file_versions": history.versions,
        "commits": history.commits,
        "data_bytes": parts.data.raw_bytes,
        "data_blocks": parts.data.blocks,
        "unique_bytes": parts.history.raw_bytes,
        "metadata_bytes": parts.history.raw_bytes - parts.data.raw_bytes,
        "history_blocks": parts.history.blocks,
        "history_stored_bytes": stored,
        "dedup_ratio": round(logical / parts.data.raw_bytes, 4) if parts.data.raw_bytes else 1.0,
        "savings_percent": round(100.0 * (1 - stored / logical), 2) if logical else 0.0,
        "outside_history": {
            "staged": parts.staged.to_dict(),
            "reflogs": parts.reflogs.to_dict(),
            "unreferenced": parts.unreferenced.to_dict(),
        },
        "pack_overhead_bytes": max(stats.stored_bytes - in_blocks, 0),
        "stored_bytes": stats.stored_bytes,
        "blocks": stats.blocks,
        "tier_bytes": {
            t.dirname: stats.stored_bytes_by_tier[t] for t in stats.stored_bytes_by_tier
        },
        "tier_blocks": {t.dirname: stats.blocks_by_tier[t] for t in stats.blocks_by_tier},
        "tier_raw_bytes": {t.dirname: stats.raw_bytes_by_tier[t] for t in stats.raw_bytes_by_tier},
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
