"""``switch --orphan NEW`` and ``checkout --orphan NEW [START]``: HEAD on a branch
that has no commit yet, so the next commit is a root commit (git's orphan branch).

``switch --orphan`` empties the staging area and removes the tracked files, as a
switch to an empty tree (refused, like any switch, where local changes are in the
way; untracked files stay). ``checkout --orphan`` keeps the staging area and the
files as START (default HEAD) has them: the next commit holds them, with no parent.
HEAD's reflog records neither, as git: HEAD names no commit to log.
"""

from __future__ import annotations

from typing import Any

from cofd.objects.model import CommitId
from cofd.ops.api import OpContext
from cofd.ops.branches import branch_ref, describe_head, end_merge
from cofd.ops.common import reflog_signature, tree_of
from cofd.ops.repository import Repository
from cofd.ops.switch_move import move_worktree
from protocol.errors import UsageError


def switch_to_orphan(
    ctx: OpContext,
    repo: Repository,
    name: str,
    start: CommitId | None,
    force: bool,
    merge_label: str | None,
) -> dict[str, Any]:
    """Point HEAD at the unborn branch ``name`` with the files of ``start`` (None: no
    file at all, as ``switch --orphan``). ``commit`` in the result is ``start``."""
    ref = branch_ref(name)
    if repo.refs.read(ref) is not None:
        raise UsageError(f"a branch named '{name}' already exists")
    from_name = describe_head(repo)
    head = repo.refs.head()
    written = removed = 0
    if start is None or start != head or force:
        state = repo.load_state()
        moved = move_worktree(
            ctx, repo, state, tree_of(repo, head), tree_of(repo, start), force, merge_label
        )
        repo.save_state(state)
        written, removed = moved.written, moved.removed
    end_merge(repo)
    message = f"checkout: moving from {from_name} to {name}"
    repo.refs.set_head(ref, reflog_signature(ctx), message, log=False)
    return {
        "branch": name,
        "created": True,
        "orphan": True,
        "commit": start.hex() if start is not None else None,
        "written": written,
        "removed": removed,
    }
