"""``log`` and ``show``: walking and describing commits."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import Any

from cofd.objects.model import Commit, CommitId
from cofd.ops.api import OpContext, op
from cofd.ops.common import flat_tree, flatten_cached
from cofd.ops.diffing import describe, tree_changes, unified
from cofd.ops.repository import Repository
from cofd.ops.revisions import resolve
from protocol.errors import RevisionError, UsageError

MAX_LOG_ENTRIES = 1_000_000


def walk_commits(repo: Repository, starts: list[CommitId]) -> Iterator[tuple[CommitId, Commit]]:
    """Commits reachable from ``starts``, newest first (committer time, then generation),
    each once, as ``git log`` orders them by default."""
    heap: list[tuple[int, int, bytes]] = []
    seen: set[CommitId] = set()
    for start in starts:
        if start not in seen:
            seen.add(start)
            c = repo.objects.read_commit(start)
            heapq.heappush(heap, (-c.committer.timestamp, -c.sequence, start))
    while heap:
        _, _, raw = heapq.heappop(heap)
        commit_id = CommitId(raw)
        commit = repo.objects.read_commit(commit_id)
        yield commit_id, commit
        for parent in commit.parents:
            if parent not in seen:
                seen.add(parent)
                p = repo.objects.read_commit(parent)
                heapq.heappush(heap, (-p.committer.timestamp, -p.sequence, parent))


def commit_info(commit_id: CommitId, commit: Commit) -> dict[str, Any]:
    return {
        "id": commit_id.hex(),
        "parents": [p.hex() for p in commit.parents],
        "tree": commit.tree.hex(),
        "author": commit.author.format(),
        "author_time": commit.author.timestamp,
        "author_tz": commit.author.tz_minutes,
        "committer": commit.committer.format(),
        "commit_time": commit.committer.timestamp,
        "commit_tz": commit.committer.tz_minutes,
        "message": commit.message,
        "sequence": commit.sequence,
    }


def changes_of(repo: Repository, commit: Commit, detail: bool) -> list[dict[str, object]]:
    """What ``commit`` changed relative to its first parent (all files for a root)."""
    parent = commit.parents[0] if commit.parents else None
    old = flat_tree(repo, parent)
    new = flatten_cached(repo, commit.tree)
    return [describe(repo, c, detail) for c in tree_changes(old, new)]


def decorations(repo: Repository) -> dict[str, list[str]]:
    """Commit id (hex) -> ref names pointing at it, for ``log`` output."""
    out: dict[str, list[str]] = {}
    for name, commit in repo.refs.iter_refs():
        out.setdefault(commit.hex(), []).append(name)
    return out


@op("log", writes=False)
def log(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    repo = ctx.require_repo()
    rev = params.get("rev") or "HEAD"
    limit = params.get("n")
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise UsageError("-n expects a non-negative number")
    if repo.refs.head() is None and rev == "HEAD":
        branch = (repo.refs.head_target() or "HEAD").removeprefix("refs/heads/")
        raise RevisionError(f"your current branch '{branch}' does not have any commits yet")
    start = resolve(repo, rev)
    entries: list[dict[str, Any]] = []
    for commit_id, commit in walk_commits(repo, [start]):
        if limit is not None and len(entries) >= min(limit, MAX_LOG_ENTRIES):
            break
        info = commit_info(commit_id, commit)
        if params.get("stat"):
            info["changes"] = changes_of(repo, commit, detail=True)
        entries.append(info)
    return {
        "commits": entries,
        "refs": decorations(repo),
        "head": (repo.refs.head() or b"").hex(),
        "head_ref": repo.refs.head_target(),
    }


@op("show", writes=False)
def show(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    repo = ctx.require_repo()
    commit_id = resolve(repo, params.get("rev") or "HEAD")
    commit = repo.objects.read_commit(commit_id)
    info = commit_info(commit_id, commit)
    parent = commit.parents[0] if commit.parents else None
    changes = tree_changes(flat_tree(repo, parent), flat_tree(repo, commit_id))
    info["changes"] = [describe(repo, c, detail=True) for c in changes]
    info["patches"] = [unified(repo, c) for c in changes]
    return info
