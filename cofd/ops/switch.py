"""Moving the working tree and staging area from one tree to another (checkout,
fast-forward merge, merge --abort), with git's rules for local changes.

For a path that differs between the two trees, the switch may update it only if
the staging area holds the old tree's version (or already the new one) and the
working file matches the staging area; an untracked file must not stand where the
new tree puts a file. Paths that are the same in both trees keep their local
changes. Only paths that differ are written: identical files are never rewritten.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from cofd.objects.ignore import IgnoreRules
from cofd.objects.model import TreeId
from cofd.objects.worktree_state import Entry, WorktreeState
from cofd.ops.common import flatten_cached
from cofd.ops.materialize import remove_entry, write_entries
from cofd.ops.repository import Repository
from cofd.ops.treediff import diff_trees
from cofd.ops.trees import FlatEntry
from cofd.ops.worktree_scan import scan
from protocol.errors import ConflictError

Change = tuple[FlatEntry | None, FlatEntry | None]
# Paths listed in a refusal message before it says "and N more".
MAX_LISTED = 20


@dataclass(frozen=True, slots=True)
class SwitchResult:
    written: int
    removed: int
    bytes: int


def _flat(entry: Entry | None) -> FlatEntry | None:
    return None if entry is None else FlatEntry(entry.mode, entry.id, entry.size)


def plan(repo: Repository, old: TreeId | None, new: TreeId | None) -> dict[str, Change]:
    return {p: (a, b) for p, a, b in diff_trees(repo.objects, old, new)}


def _refuse(kind: str, paths: list[str], action: str) -> ConflictError:
    listed = ", ".join(paths[:MAX_LISTED])
    more = f" and {len(paths) - MAX_LISTED} more" if len(paths) > MAX_LISTED else ""
    return ConflictError(
        f"{kind} would be overwritten by {action}: {listed}{more} "
        f"(commit, stash or remove them first, or use --force)"
    )


def check(
    repo: Repository, state: WorktreeState, changes: dict[str, Change], action: str
) -> dict[str, Change]:
    """Refuse if local changes are in the way; return the paths that need updating."""
    if state.conflicts:
        raise ConflictError(
            f"cannot {action}: you have unmerged paths "
            f"({', '.join(sorted(state.conflicts)[:MAX_LISTED])}); "
            "resolve them and commit, or abort the merge"
        )
    modified = scan(repo, state, sorted(changes)).modified if changes else {}
    rules = IgnoreRules(repo.root)
    local: list[str] = []
    untracked: list[str] = []
    todo: dict[str, Change] = {}
    for path, (old, new) in sorted(changes.items()):
        staged = _flat(state.entries.get(path))
        if staged == new and path not in modified:
            continue  # already at the target
        if staged != old or path in modified:
            local.append(path)
        elif old is None and new is not None and _untracked_in_way(repo, rules, path):
            untracked.append(path)
        else:
            todo[path] = (old, new)
    if local:
        raise _refuse("local changes to these files", local, action)
    if untracked:
        raise _refuse("untracked working tree files", untracked, action)
    return todo


def _untracked_in_way(repo: Repository, rules: IgnoreRules, path: str) -> bool:
    # Ignored files are expendable, as in git; anything else would be lost.
    return os.path.lexists(repo.root / path) and not rules.is_ignored(path, False)


def apply(
    repo: Repository,
    state: WorktreeState,
    todo: dict[str, Change],
    on_bytes: Callable[[int], None] | None = None,
) -> SwitchResult:
    """Write and remove files, updating the staging area and its stat cache."""
    written = removed = total = 0
    # Removals first, so a directory can replace a file (and the reverse) in one go.
    for path in sorted((p for p, (_, new) in todo.items() if new is None), reverse=True):
        remove_entry(repo.root, path)
        state.entries.pop(path, None)
        removed += 1
    items = [(p, new) for p, (_, new) in sorted(todo.items()) if new is not None]
    stats = write_entries(repo, items, on_bytes)
    for path, new in items:
        state.entries[path] = Entry(path, new.mode, new.id, new.size, stats[path])
        written += 1
        total += new.size
    return SwitchResult(written, removed, total)


def force_reset(
    repo: Repository, state: WorktreeState, target: TreeId | None, current: TreeId | None
) -> SwitchResult:
    """Make staging area and working tree equal ``target`` for every tracked path,
    discarding local changes (``checkout --force``); untracked files are kept."""
    todo: dict[str, Change] = dict(plan(repo, current, target))
    target_files = flatten_cached(repo, target) if target is not None else {}
    for path, entry in list(state.entries.items()):
        want = target_files.get(path)
        if _flat(entry) != want or entry.stat is None:
            todo[path] = (_flat(entry), want)
    for path in state.conflicts:
        todo[path] = (None, target_files.get(path))
    state.conflicts.clear()
    modified = scan(repo, state, sorted(p for p in target_files if p in state.entries)).modified
    for path in modified:
        todo[path] = (None, target_files.get(path))
    return apply(repo, state, todo)
