"""Moving the working tree and the staging area to another tree for ``checkout`` and
``switch``: plainly (refused when local changes are in the way), discarding local
changes (``--force``), or merging them (``-m``).

With ``-m``, as git: when the plain move is refused for local changes to tracked
files, those changes are carried over by a three-way merge whose base is the tree
HEAD leaves, whose "ours" is the target (named after it) and whose "theirs" is the
working tree's version of each changed file ("local"). The staging area takes the
target's version of every path, so a cleanly merged change shows as an unstaged
change; a conflict is left as stages 1-3 with markers in the file. Staged changes
are refused first ("cannot continue with staged changes"), since the staging area is
replaced; so is a move from an unborn branch (there is no base), or one that needs a
directory where a changed file stands (or the reverse): nothing is lost by refusing.
"""

from __future__ import annotations

import os

from cofd.objects.model import TreeId
from cofd.objects.worktree_state import Entry, WorktreeState
from cofd.ops.api import OpContext
from cofd.ops.common import ByteProgress, flatten_cached, staged_flat
from cofd.ops.materialize import remove_entry, write_entry
from cofd.ops.merge_trees import TreeMerge, merge_trees
from cofd.ops.paths import check_writable
from cofd.ops.repository import Repository
from cofd.ops.scan import read_content
from cofd.ops.switch import (
    MAX_LISTED,
    Blockers,
    Change,
    SwitchResult,
    apply,
    find_blockers,
    force_reset,
    plan,
)
from cofd.ops.trees import FlatEntry, build
from cofd.ops.worktree_scan import stat_one
from protocol.errors import ConflictError

# The name a merge of local changes gives the working tree's side, as git's.
LOCAL_LABEL = "local"


def move_worktree(
    ctx: OpContext,
    repo: Repository,
    state: WorktreeState,
    current: TreeId | None,
    wanted: TreeId | None,
    force: bool = False,
    merge_label: str | None = None,
) -> SwitchResult:
    """Move ``state`` and the files from ``current`` to ``wanted``: discarding local
    changes with ``force``, merging them when ``merge_label`` (the target's name) is
    given and they are in the way, else refusing if they are."""
    if force:
        return force_reset(repo, state, wanted, current)
    found = find_blockers(repo, state, plan(repo, current, wanted), "checkout")
    if merge_label is None or not found.local:
        found.refuse("checkout")
        return _apply(ctx, repo, state, found.todo)
    found.refuse_untracked("checkout")
    if current is None or _entangled(repo, found):
        found.refuse("checkout")  # no base to merge from, or no way to merge in place
    assert current is not None
    _refuse_staged(repo, state, current)
    merged = _merge_local_changes(repo, found, current, wanted, merge_label)
    result = _apply(ctx, repo, state, found.todo)
    placed = _place(repo, state, merged)
    return SwitchResult(result.written + placed, result.removed, result.bytes)


def _apply(
    ctx: OpContext, repo: Repository, state: WorktreeState, todo: dict[str, Change]
) -> SwitchResult:
    total = sum(new.size for _, new in todo.values() if new is not None)
    return apply(repo, state, todo, ByteProgress(ctx, "checking out", total).add)


def _entangled(repo: Repository, found: Blockers) -> bool:
    """Whether a changed file stands where the move needs a directory, or the move
    writes a file where a changed one's directory is, or a changed file is no longer
    a file: the merge would have to move one aside, so the switch is refused."""
    local = set(found.local)
    todo = set(found.todo)
    if any(_parents(p) & local for p in todo) or any(_parents(p) & todo for p in local):
        return True
    return any(stat_one(repo, p) is None for p in found.local)


def _parents(path: str) -> set[str]:
    parts = path.split("/")
    return {"/".join(parts[:end]) for end in range(1, len(parts))}


def _refuse_staged(repo: Repository, state: WorktreeState, current: TreeId) -> None:
    head_files = flatten_cached(repo, current)
    staged = staged_flat(state)
    changed = sorted(p for p in set(head_files) | set(staged) if head_files.get(p) != staged.get(p))
    if changed:
        raise ConflictError(
            "cannot continue with staged changes in the following files: "
            f"{', '.join(changed[:MAX_LISTED])} (commit them, or unstage them with "
            "'cof restore --staged')"
        )


def _merge_local_changes(
    repo: Repository,
    found: Blockers,
    current: TreeId,
    wanted: TreeId | None,
    label: str,
) -> TreeMerge:
    """Store the changed files as they are now (each is a file or a symlink) and
    merge them onto ``wanted``."""
    files = dict(flatten_cached(repo, current))
    with repo.blocks.transaction() as txn:
        for path in found.local:
            content = read_content(repo.objects, txn, repo.root, path)
            files[path] = FlatEntry(content.mode, content.id, content.size)
        work = build(repo.objects, txn, files)
        return merge_trees(repo, txn, current, wanted, work, (label, LOCAL_LABEL))


def _place(repo: Repository, state: WorktreeState, merged: TreeMerge) -> int:
    """Write the merge's outcome: the target's version staged, the merged file (or the
    conflict's, with its stages) in the working tree. Returns the files written."""
    written = 0
    check_writable(p for p, m in merged.paths.items() if (m.worktree or m.result) is not None)
    for path, m in sorted(merged.paths.items()):
        target = merged.ours.get(path)
        want = m.worktree if m.conflict else m.result
        if want is None:
            if os.path.lexists(repo.root / path):
                remove_entry(repo.root, path)
            state.entries.pop(path, None)
            continue
        st = write_entry(repo, path, want)
        written += 1
        if m.conflict:
            state.entries.pop(path, None)
            state.conflicts[path] = {
                stage: Entry(path, e.mode, e.id, e.size, None, stage)
                for stage, e in m.stages.items()
            }
        elif target is None:
            state.entries.pop(path, None)
        else:  # the stat is only the file's when it holds the staged version
            kept = st if want == target else None
            state.entries[path] = Entry(path, target.mode, target.id, target.size, kept)
    return written
