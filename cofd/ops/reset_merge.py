"""git's ``reset --merge TARGET`` for the working tree and the staging area: what
``reset --merge``, ``merge --abort`` and ``cherry-pick``/``revert`` ``--abort`` and
``--skip`` run (``reset --keep`` shares its refusals).

Every path whose staged version differs from TARGET's, and every unmerged path,
gets TARGET's version; other local changes and untracked files stay. Like git's
(a one-way merge of TARGET into the staging area), it refuses before anything
changes when that would lose work:

- a staged path it rewrites or removes whose working file differs from the staged
  version (git: "Entry 'f' not uptodate. Cannot merge."); a deleted working file
  loses nothing, and unmerged paths are exempt (their file holds the conflict);
- an untracked file (ignored ones are expendable, as in git) where TARGET brings
  a file back, or where it needs a directory (git: "Untracked working tree file
  'f' would be overwritten by merge."); a directory holding untracked files where
  it puts a file.

A working file that already is exactly what TARGET puts there is let through (git
refuses it): nothing can be lost, as ``switch`` judges it.
"""

from __future__ import annotations

import os
import stat

from cofd.objects.ignore import IgnoreRules
from cofd.objects.model import CommitId
from cofd.objects.worktree_state import WorktreeState
from cofd.ops.common import flat_tree, staged_flat
from cofd.ops.paths import shown
from cofd.ops.repository import Repository
from cofd.ops.switch import (
    MAX_LISTED,
    Change,
    ParentsInTheWay,
    apply,
    holds_exactly,
    loses_nothing,
    refuse_kept_directories,
)
from cofd.ops.trees import FlatEntry
from cofd.ops.worktree_scan import WorktreeDiff, scan
from protocol.errors import ConflictError

SHORT = 12  # hex digits naming the target in a refusal, as cof prints ids


def reset_merge_worktree(
    repo: Repository, target: CommitId | None, label: str | None = None
) -> int:
    """Make the staging area ``target``'s (None: empty, an unborn branch's) and update
    the working tree to match, keeping local changes the reset does not touch; refuse
    (nothing changed) when it would lose any, naming the target as ``label`` (by
    default its short id). Returns how many paths it updated."""
    state = repo.load_state()
    wanted = flat_tree(repo, target)
    staged = staged_flat(state)
    paths = {p for p in set(wanted) | set(staged) if wanted.get(p) != staged.get(p)}
    todo: dict[str, Change] = {
        p: (staged.get(p), wanted.get(p)) for p in paths | set(state.conflicts)
    }
    if label is None:
        label = "HEAD" if target is None else target.hex()[:SHORT]
    refuse_lost_edits(repo, state, todo, label)
    refuse_untracked_in_way(repo, state, todo, label)
    refuse_kept_directories(repo, todo)
    state.conflicts.clear()
    apply(repo, state, todo)
    repo.save_state(state)
    return len(todo)


def listed_paths(paths: list[str]) -> str:
    more = f" and {len(paths) - MAX_LISTED} more" if len(paths) > MAX_LISTED else ""
    return ", ".join(f"'{shown(p)}'" for p in paths[:MAX_LISTED]) + more


def refuse_lost_edits(
    repo: Repository, state: WorktreeState, todo: dict[str, Change], label: str
) -> None:
    """git's "not uptodate": a staged (not unmerged) path the reset changes whose
    working file has changes of its own."""
    tracked = sorted(p for p, (old, _) in todo.items() if old is not None)
    worktree = scan(repo, state, tracked) if tracked else WorktreeDiff()
    edited = [p for p in tracked if not loses_nothing(repo.root, worktree, p, todo[p][1])]
    if edited:
        entry = "Entry" if len(edited) == 1 else "Entries"
        raise ConflictError(
            f"{entry} {listed_paths(edited)} not uptodate. Cannot merge. "
            f"(could not reset to {label}: commit or stash your changes first)"
        )


def _file_in_way(repo: Repository, rules: IgnoreRules, path: str, new: FlatEntry) -> bool:
    """Whether an untracked file at ``path`` would be lost by writing ``new`` there
    (a directory in the way is ``refuse_kept_directories``' to judge)."""
    try:
        st = os.lstat(repo.root / path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    if stat.S_ISDIR(st.st_mode) or rules.is_ignored(path, False):
        return False
    return not holds_exactly(repo, path, st, new)


def refuse_untracked_in_way(
    repo: Repository, state: WorktreeState, todo: dict[str, Change], label: str
) -> None:
    """An untracked file where the reset writes a file it does not track now (or
    where such a file needs a directory)."""
    rules = IgnoreRules(repo.root)
    leaving = {p for p, (_, new) in todo.items() if new is None}
    parents = ParentsInTheWay(repo.root, leaving)
    found: set[str] = set()
    for path, (old, new) in sorted(todo.items()):
        if new is None:
            continue
        blocker = parents.blocker(path)
        if blocker is not None and blocker not in state.entries:
            if not rules.is_ignored(blocker, False):
                found.add(blocker)
        elif old is None and path not in state.conflicts and _file_in_way(repo, rules, path, new):
            found.add(path)
    if found:
        files = "file" if len(found) == 1 else "files"
        them = "it" if len(found) == 1 else "them"
        raise ConflictError(
            f"Untracked working tree {files} {listed_paths(sorted(found))} would be overwritten "
            f"by merge. (could not reset to {label}: move or remove {them} first)"
        )
