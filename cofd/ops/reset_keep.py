"""git's ``reset --keep TARGET`` for the working tree: move only the files that differ
between HEAD and TARGET, keeping every other local change.

git runs it as a two-way merge from HEAD to TARGET (the working tree), then a mixed
reset (the staging area becomes TARGET's, so staged changes to other files are kept
as unstaged ones). A path that differs between the two commits gets TARGET's
version unless that would lose work; then nothing changes and the reset is refused,
in git's words:

- its staged version is neither HEAD's nor TARGET's ("Entry 'f' would be
  overwritten by merge. Cannot merge.");
- it is staged as HEAD's but the working file differs ("Entry 'f' not uptodate.
  Cannot merge."; a deleted working file loses nothing);
- an untracked file stands where TARGET brings one, or where TARGET needs a
  directory, or a directory holding untracked files where TARGET puts a file (as
  ``reset_merge``); git also refuses an untracked file where HEAD had one that is
  only deleted from the staging area and TARGET has none ("... would be removed by
  merge."), though neither would touch it.

A path already staged as TARGET's version is left alone, working file and all.
"""

from __future__ import annotations

import os
import stat

from cofd.objects.ignore import IgnoreRules
from cofd.objects.model import CommitId
from cofd.objects.worktree_state import WorktreeState
from cofd.ops.common import flat_tree, staged_flat
from cofd.ops.repository import Repository
from cofd.ops.reset_merge import listed_paths, refuse_lost_edits, refuse_untracked_in_way
from cofd.ops.switch import Change, apply, refuse_kept_directories
from protocol.errors import ConflictError


def reset_keep_worktree(
    repo: Repository, state: WorktreeState, head: CommitId, target: CommitId, label: str
) -> int:
    """Give the files that differ between ``head`` and ``target`` ``target``'s version,
    in the working tree and in ``state`` (the caller then stages ``target``'s tree and
    saves); refuse, nothing changed, where that would lose work (``label`` names
    ``target`` in the refusal). Returns how many paths it updated."""
    old, new = flat_tree(repo, head), flat_tree(repo, target)
    staged = staged_flat(state)
    todo: dict[str, Change] = {}
    overwritten: list[str] = []
    deleted_here: list[str] = []  # staged as deleted, TARGET has none: git's verify_absent
    for path in sorted(p for p in old.keys() | new.keys() if old.get(p) != new.get(p)):
        ours = staged.get(path)
        if ours == new.get(path):
            if ours is None:
                deleted_here.append(path)
        elif ours != old.get(path):
            overwritten.append(path)
        else:
            todo[path] = (ours, new.get(path))
    if overwritten:
        entry = "Entry" if len(overwritten) == 1 else "Entries"
        raise ConflictError(
            f"{entry} {listed_paths(overwritten)} would be overwritten by merge. Cannot merge. "
            f"(could not reset to {label}: their staged changes would be lost; "
            "commit or stash them first)"
        )
    refuse_lost_edits(repo, state, todo, label)
    refuse_untracked_in_way(repo, state, todo, label)
    _refuse_untracked_removed(repo, deleted_here, label)
    refuse_kept_directories(repo, todo)
    apply(repo, state, todo)
    return len(todo)


def _refuse_untracked_removed(repo: Repository, paths: list[str], label: str) -> None:
    """git's refusal of an untracked (not ignored) file where HEAD has a file the
    staging area deleted and TARGET has none."""
    rules = IgnoreRules(repo.root)
    found = []
    for path in paths:
        try:
            st = os.lstat(repo.root / path)
        except (FileNotFoundError, NotADirectoryError):
            continue
        if not stat.S_ISDIR(st.st_mode) and not rules.is_ignored(path, False):
            found.append(path)
    if found:
        files = "file" if len(found) == 1 else "files"
        raise ConflictError(
            f"Untracked working tree {files} {listed_paths(found)} would be removed by merge. "
            f"(could not reset to {label}: add, move or remove "
            f"{'it' if len(found) == 1 else 'them'} first)"
        )
