"""``diff``: compare the working tree, the staging area and revisions.

Sides: ``worktree`` (files on disk, hashed only where the stat cache says they
changed), ``index`` (the staging area) or a revision. As in git: no revisions ->
index vs worktree; ``cached`` -> REV (default HEAD) vs index; one revision -> it
vs worktree; two (or ``A..B``) -> A vs B.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from cofd.ops.api import OpContext, op
from cofd.ops.common import flat_tree, staged_flat
from cofd.ops.diffing import describe, tree_changes, unified
from cofd.ops.paths import Scope, path_args, repo_relative
from cofd.ops.repository import Repository
from cofd.ops.revisions import resolve
from cofd.ops.trees import FlatEntry
from cofd.ops.worktree_scan import scan
from protocol.errors import UsageError


def _worktree(repo: Repository, specs: list[str]) -> dict[str, FlatEntry]:
    state = repo.load_state()
    files = staged_flat(state)
    diff = scan(repo, state, specs)
    for path, code in diff.modified.items():
        if code == "D":
            files.pop(path, None)
        else:
            files[path] = diff.contents[path]
    return files


def _sides(
    repo: Repository, revs: list[str], cached: bool, specs: list[str]
) -> tuple[dict[str, FlatEntry], dict[str, FlatEntry], bool]:
    """(old side, new side, whether the new side is the working tree)."""
    if len(revs) == 1 and ".." in revs[0]:
        left, _, right = revs[0].partition("..")
        revs = [left or "HEAD", right or "HEAD"]
    if len(revs) > 2:
        raise UsageError("diff takes at most two revisions")
    if len(revs) == 2:
        return (
            flat_tree(repo, resolve(repo, revs[0])),
            flat_tree(repo, resolve(repo, revs[1])),
            False,
        )
    if cached:
        base = flat_tree(repo, resolve(repo, revs[0]) if revs else repo.refs.head())
        return base, staged_flat(repo.load_state()), False
    if revs:
        return flat_tree(repo, resolve(repo, revs[0])), _worktree(repo, specs), True
    return staged_flat(repo.load_state()), _worktree(repo, specs), True


@op("diff", writes=False)  # a reader, as status (see there)
def diff(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    repo = ctx.require_repo()
    revs = [r for r in params.get("revs") or [] if r]
    specs = [repo_relative(repo.root, ctx.cwd, p) for p in path_args(params.get("paths"))]
    old, new, is_worktree = _sides(repo, revs, bool(params.get("cached")), specs)
    scope = Scope(specs)
    changes = [c for c in tree_changes(old, new) if c.path in scope]
    mode = params.get("mode") or "patch"
    if mode == "name-status":
        return {"changes": [{"status": c.status, "path": c.path} for c in changes]}
    if is_worktree:
        changes = [
            replace(c, new_file=repo.root / c.path) if c.new is not None else c for c in changes
        ]
    detail = [describe(repo, c, detail=True) for c in changes]
    patches = [unified(repo, c) for c in changes] if mode == "patch" else []
    return {"changes": detail, "patches": patches, "root": str(Path(repo.root))}
