"""``status``: staged changes (index vs HEAD), unstaged changes and untracked files."""

from __future__ import annotations

from typing import Any

from cofd.objects.worktree_state import WorktreeState
from cofd.ops.api import OpContext, op
from cofd.ops.common import flat_tree, staged_flat
from cofd.ops.paths import in_scope, repo_relative
from cofd.ops.repository import Repository
from cofd.ops.trees import FlatEntry
from cofd.ops.worktree_scan import collapse_untracked, scan

# Porcelain codes for unmerged paths by which sides exist: (base, ours, theirs).
_UNMERGED = {
    (True, True, True): "UU",
    (False, True, True): "AA",
    (True, False, False): "DD",
    (False, True, False): "AU",
    (False, False, True): "UA",
    (True, False, True): "DU",
    (True, True, False): "UD",
}


def _index_code(head: FlatEntry | None, staged: FlatEntry | None) -> str:
    if head is None:
        return "A" if staged is not None else " "
    if staged is None:
        return "D"
    if head.kind != staged.kind:
        return "T"
    return "M" if (head.id, head.mode, head.size) != (staged.id, staged.mode, staged.size) else " "


def branch_info(repo: Repository) -> dict[str, Any]:
    target = repo.refs.head_target()
    head = repo.refs.head()
    return {
        "branch": target.removeprefix("refs/heads/") if target else None,
        "head": head.hex() if head is not None else None,
        "detached": target is None,
        "root": str(repo.root),
    }


def compute(repo: Repository, state: WorktreeState, specs: list[str]) -> dict[str, Any]:
    head_files = flat_tree(repo, repo.refs.head())
    staged = staged_flat(state)
    worktree = scan(repo, state, specs)
    entries: list[list[str]] = []
    paths = sorted(
        {
            p
            for p in set(head_files) | set(staged) | set(state.conflicts)
            if in_scope(p, specs or [""])
        },
        key=lambda p: p.encode("utf-8", "surrogateescape"),
    )
    for path in paths:
        if path in state.conflicts:
            sides = state.conflicts[path]
            entries.append([_UNMERGED[(1 in sides, 2 in sides, 3 in sides)], path])
            continue
        x = _index_code(head_files.get(path), staged.get(path))
        y = worktree.modified.get(path, " ") if path in staged else " "
        if x != " " or y != " ":
            entries.append([x + y, path])
    untracked = collapse_untracked([f.path for f in worktree.untracked], worktree.tracked_dirs)
    if worktree.refreshed:
        repo.save_state(state)
    return {
        **branch_info(repo),
        "entries": entries,
        "untracked": untracked,
        "merging": (repo.cof_dir / "MERGE_HEAD").exists(),
    }


@op("status", writes=True)
def status(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    repo = ctx.require_repo()
    specs = [repo_relative(repo.root, ctx.cwd, p) for p in params.get("paths") or []]
    return compute(repo, repo.load_state(), specs)
