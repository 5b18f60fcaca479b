"""``stash apply``: bring a stash's changes back, as git's ``stash apply``.

The stash's tree is merged three-way into the staging area's (base: the stash's
first parent, the commit it was made on) with ``merge``'s machinery, labels as git's
(``Updated upstream`` / ``Stashed changes``; ``Version stash was based on`` when the
staging area still is that commit). A merge that would overwrite local changes is
refused before anything changes, as ``merge`` refuses it. Conflicts are left as
``merge`` leaves them (stages, markers in text files, ours in a binary one).

Without conflicts the staging area is put back as it was, but for files the stash
added (staged as new), so the changes show as unstaged, as in git; ``--index``
instead restores what was staged when the stash was made (merged into the current
staging area; refused when that conflicts). The untracked files of a ``-u`` stash
are written back unstaged; any that exists already refuses the whole apply (git
applies the rest and fails half-way).
"""

from __future__ import annotations

import os
from typing import Any

from cofd.objects.model import CommitId, TreeId
from cofd.objects.worktree_state import WorktreeState
from cofd.ops.common import entry_from_flat, flat_tree, staged_flat, tree_of
from cofd.ops.materialize import write_entries
from cofd.ops.merge import apply_merge, check_worktree
from cofd.ops.merge_trees import TreeMerge, merge_trees
from cofd.ops.paths import Scope, parent_dirs
from cofd.ops.repository import Repository
from cofd.ops.reset import stage_tree
from cofd.ops.switch import MAX_LISTED
from cofd.ops.trees import FlatEntry, build
from cofd.store.blockstore import WriteTxn
from protocol.errors import ConflictError

OURS = "Updated upstream"
OURS_UNMOVED = "Version stash was based on"
THEIRS = "Stashed changes"


def apply_stash(repo: Repository, stash: CommitId, restore_index: bool) -> dict[str, Any]:
    """Apply ``stash`` to the working tree and staging area; its conflicts, and
    whether the staged changes came back (``--index``)."""
    commit = repo.objects.read_commit(stash)
    base, index_commit = commit.parents[0], commit.parents[1]
    state = repo.load_state()
    if state.conflicts:
        listed = ", ".join(sorted(state.conflicts)[:MAX_LISTED])
        raise ConflictError(f"cannot apply a stash in the middle of a merge (unmerged: {listed})")
    current = staged_flat(state)
    base_tree, index_tree = tree_of(repo, base), tree_of(repo, index_commit)
    with repo.blocks.transaction() as txn:
        ours = build(repo.objects, txn, current)
        wanted_index = None
        if restore_index and index_tree not in (base_tree, ours):
            wanted_index = _merged_index(repo, txn, current, base_tree, ours, index_tree)
        label = OURS_UNMOVED if ours == base_tree else OURS
        merged = merge_trees(repo, txn, base_tree, ours, commit.tree, (label, THEIRS))
    untracked = flat_tree(repo, commit.parents[2]) if len(commit.parents) > 2 else {}
    _refuse_untracked_in_the_way(repo, untracked)
    check_worktree(repo, state, merged)
    apply_merge(repo, state, merged)
    write_entries(repo, sorted(untracked.items()))  # left untracked, as in git
    conflicts = merged.conflicts
    if not conflicts:
        if wanted_index is not None:
            stage_tree(state, wanted_index, Scope([]))
        else:
            _unstage_unless_new(state, current, merged)
    repo.save_state(state)
    return {
        "conflicts": [{"path": p, "kind": m.conflict, "message": m.message} for p, m in conflicts],
        "index_restored": wanted_index is not None and not conflicts,
        "up_to_date": commit.tree == base_tree,  # git's merge says so: nothing to merge
    }


def _merged_index(
    repo: Repository,
    txn: WriteTxn,
    current: dict[str, FlatEntry],
    base: TreeId | None,
    ours: TreeId,
    staged: TreeId | None,
) -> dict[str, FlatEntry]:
    """``--index``: the staged changes of the stash (base to its index commit) over
    the current staging area; refused when they conflict, as git refuses them."""
    merged = merge_trees(repo, txn, base, ours, staged, (OURS, THEIRS))
    if merged.conflicts:
        raise ConflictError("conflicts in index: try without --index")
    files = dict(current)
    for path, m in merged.paths.items():
        if m.result is None:
            files.pop(path, None)
        else:
            files[path] = m.result
    return files


def _refuse_untracked_in_the_way(repo: Repository, untracked: dict[str, FlatEntry]) -> None:
    """Every untracked file of the stash must find its place free (nothing there, no
    file where it needs a directory): nothing of the user's is overwritten."""
    for path in sorted(untracked):
        for where in (*parent_dirs(path), path):
            full = repo.root / where
            if os.path.lexists(full) and (where == path or not full.is_dir()):
                raise ConflictError(
                    f"{where} already exists, no checkout: could not restore untracked "
                    "files from stash (move or remove it first)"
                )


def _unstage_unless_new(
    state: WorktreeState, before: dict[str, FlatEntry], merged: TreeMerge
) -> None:
    """git's ``unstage_changes_unless_new``: the staging area gets back its version of
    every path the merge changed; a file new to it stays staged."""
    for path in merged.paths:
        old = before.get(path)
        if old is None:
            continue
        entry = state.entries.get(path)
        if entry is None or FlatEntry(entry.mode, entry.id, entry.size) != old:
            state.entries[path] = entry_from_flat(path, old)
