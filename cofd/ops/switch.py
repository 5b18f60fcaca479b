"""Moving the working tree and staging area from one tree to another (checkout,
fast-forward merge; reset_merge reuses its checks), with git's rules for local changes.

For a path that differs between the two trees, the switch may update it only if
the staging area holds the old tree's version (or already the new one) and the
working file matches the staging area; an untracked file must not stand where the
new tree puts a file, nor where it needs a directory. Paths that are the same in both
trees keep their local changes. Only paths that differ are written: identical files
are never rewritten.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cofd.objects.ignore import IgnoreRules
from cofd.objects.model import TreeId, mode_for
from cofd.objects.worktree_state import Entry, WorktreeState
from cofd.ops.common import flatten_cached
from cofd.ops.materialize import remove_entry, write_entries
from cofd.ops.paths import check_writable
from cofd.ops.repository import Repository
from cofd.ops.scan import read_content
from cofd.ops.treediff import diff_trees
from cofd.ops.trees import FlatEntry
from cofd.ops.worktree_scan import WorktreeDiff, scan
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


# What the user can do about a refusal, by the command refused (only checkout has
# --force; a refused push is about the receiving side's working tree).
_REMEDY = {
    "checkout": "commit or remove them first, or use --force to discard them",
    "push": "they are in the remote's working tree: commit or remove them there first",
}


def _refuse(kind: str, paths: list[str], action: str) -> ConflictError:
    listed = ", ".join(paths[:MAX_LISTED])
    more = f" and {len(paths) - MAX_LISTED} more" if len(paths) > MAX_LISTED else ""
    remedy = _REMEDY.get(action, "commit or remove them first")
    return ConflictError(f"{kind} would be overwritten by {action}: {listed}{more} ({remedy})")


@dataclass(slots=True)
class Blockers:
    """What a move between two trees may do, and what stands in its way."""

    todo: dict[str, Change]  # the paths to update
    local: list[str]  # tracked paths with local changes the move would lose
    untracked: list[str]  # untracked files the move would overwrite

    def refuse_untracked(self, action: str) -> None:
        if self.untracked:
            raise _refuse("untracked working tree files", self.untracked, action)

    def refuse(self, action: str) -> None:
        """Refuse the move (git's order: local changes first) if anything is in the way."""
        if self.local:
            raise _refuse("local changes to these files", self.local, action)
        self.refuse_untracked(action)


def check(
    repo: Repository, state: WorktreeState, changes: dict[str, Change], action: str
) -> dict[str, Change]:
    """Refuse if local changes are in the way; return the paths that need updating."""
    found = find_blockers(repo, state, changes, action)
    found.refuse(action)
    return found.todo


def find_blockers(
    repo: Repository, state: WorktreeState, changes: dict[str, Change], action: str
) -> Blockers:
    """Sort the paths a move changes into those it may update and those in its way
    (refusing at once if a merge left unmerged paths)."""
    if state.conflicts:
        raise ConflictError(
            f"cannot {action}: you have unmerged paths "
            f"({', '.join(sorted(state.conflicts)[:MAX_LISTED])}); "
            "resolve them and commit, or abort the merge"
        )
    worktree = scan(repo, state, sorted(changes)) if changes else WorktreeDiff()
    modified = worktree.modified
    rules = IgnoreRules(repo.root)
    local: list[str] = []
    untracked: list[str] = []
    todo: dict[str, Change] = {}
    leaving = {p for p, (old, new) in changes.items() if old is not None and new is None}
    parents = ParentsInTheWay(repo.root, leaving)
    for path, (old, new) in sorted(changes.items()):
        staged = _flat(state.entries.get(path))
        if staged == new and path not in modified:
            continue  # already at the target
        if staged != old or not loses_nothing(repo.root, worktree, path, new):
            local.append(path)
        elif new is not None and (blocker := parents.blocker(path)) is not None:
            if blocker in state.entries:
                local.append(blocker)  # staged only: in neither tree
            elif not rules.is_ignored(blocker, False):
                untracked.append(blocker)
            else:
                todo[path] = (old, new)
        elif (
            old is None
            and new is not None
            and (in_way := _untracked_in_way(repo, rules, path, new, leaving)) is not None
        ):
            untracked.append(in_way)
        else:
            todo[path] = (old, new)
    return Blockers(todo, sorted(set(local)), sorted(set(untracked)))


def loses_nothing(root: Path, worktree: WorktreeDiff, path: str, new: FlatEntry | None) -> bool:
    """Whether replacing the working file of the tracked ``path`` by ``new`` (None:
    removing it) loses nothing: it is unmodified, or deleted (git's rule; a directory
    in its place is in the way of a file, though), or already exactly ``new``. A
    switch killed half-way leaves deleted and rewritten files."""
    change = worktree.modified.get(path)
    if change == "D":
        return new is None or not os.path.lexists(root / path)
    return change is None or worktree.contents.get(path) == new


def holds_exactly(repo: Repository, path: str, st: os.stat_result, want: FlatEntry) -> bool:
    """Whether the file at ``path`` (``st``: its lstat) is ``want`` byte for byte, kind
    and exec bit included: writing ``want`` over it then loses nothing. The size is
    compared first, so only a file of the right size is read (streamed and hashed as
    ``status`` does, nothing stored)."""
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
        return False  # a FIFO, say: never opened (reading it would wait for a writer)
    if mode_for(st.st_mode) != want.mode or st.st_size != want.size:
        return False
    content = read_content(repo.objects, None, repo.root, path)
    return FlatEntry(content.mode, content.id, content.size) == want


def _untracked_in_way(
    repo: Repository, rules: IgnoreRules, path: str, new: FlatEntry, leaving: set[str]
) -> str | None:
    """What untracked stands where ``path`` (a file) comes, or None. Ignored files
    are expendable, as in git, and so is a file that already is ``new``: git refuses
    it, but nothing can be lost, and a switch killed half-way leaves such files. Any
    other file would be lost. A directory is in the way only for what it holds that
    this switch does not remove first."""
    full = repo.root / path
    try:
        st = os.lstat(full)
    except (FileNotFoundError, NotADirectoryError):  # a parent is a file the switch removes
        return None
    if stat.S_ISDIR(st.st_mode):
        return _left_in_directory(repo.root, path, leaving)
    if rules.is_ignored(path, False) or holds_exactly(repo, path, st, new):
        return None
    return path


def _left_in_directory(root: Path, path: str, leaving: set[str]) -> str | None:
    """The first file under the directory ``path`` that removing ``leaving`` keeps
    (so the directory cannot become a file), or None."""
    for dirpath, dirnames, filenames in os.walk(root / path):
        dirnames.sort()
        base = Path(dirpath).relative_to(root).as_posix()
        for name in sorted(filenames):
            if f"{base}/{name}" not in leaving:
                return f"{base}/{name}"
        for name in dirnames:
            if os.path.islink(os.path.join(dirpath, name)):  # os.walk lists links here
                return f"{base}/{name}"
    return None


class ParentsInTheWay:
    """Files and symlinks standing where a new path needs a directory.

    A new ``sub/x`` needs ``sub`` to be a directory; writing it replaces whatever
    non-directory stands there. That is right for a tracked file the same switch
    removes first (``leaving``), and data loss for anything else: an untracked file
    (git refuses: "untracked working tree files would be overwritten"), or one only
    the staging area knows. Answers are memoised per directory, since many new
    paths share their parents."""

    def __init__(self, root: Path, leaving: set[str]) -> None:
        self._root = root
        self._leaving = leaving
        self._known: dict[str, bool] = {}  # prefix -> a non-directory is in the way

    def blocker(self, path: str) -> str | None:
        """The first parent of ``path`` that is in the way, or None."""
        parts = path.split("/")
        for end in range(1, len(parts)):
            prefix = "/".join(parts[:end])
            if prefix not in self._known:
                try:
                    st = os.lstat(self._root / prefix)
                except (FileNotFoundError, NotADirectoryError):
                    return None  # nothing there, so nothing deeper either
                self._known[prefix] = not stat.S_ISDIR(st.st_mode) and (prefix not in self._leaving)
            if self._known[prefix]:
                return prefix
        return None


def apply(
    repo: Repository,
    state: WorktreeState,
    todo: dict[str, Change],
    on_bytes: Callable[[int], None] | None = None,
) -> SwitchResult:
    """Write and remove files, updating the staging area and its stat cache."""
    written = removed = total = 0
    check_writable(p for p, (_, new) in todo.items() if new is not None)  # before removals
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
    repo: Repository,
    state: WorktreeState,
    target: TreeId | None,
    current: TreeId | None,
    on_bytes: Callable[[int], None] | None = None,
) -> SwitchResult:
    """Make staging area and working tree equal ``target`` for every tracked path,
    discarding local changes (``checkout --force``); untracked files are kept."""
    todo: dict[str, Change] = dict(plan(repo, current, target))
    target_files = flatten_cached(repo, target) if target is not None else {}
    for path, entry in list(state.entries.items()):
        want = target_files.get(path)
        if _flat(entry) != want or entry.stat is None:
            todo[path] = (_flat(entry), want)
    for path, want in target_files.items():
        if path not in state.entries and path not in todo:  # a staged deletion (cof rm)
            todo[path] = (None, want)
    for path in state.conflicts:
        todo[path] = (None, target_files.get(path))
    state.conflicts.clear()
    modified = scan(repo, state, sorted(p for p in target_files if p in state.entries)).modified
    for path in modified:
        todo[path] = (None, target_files.get(path))
    refuse_kept_directories(repo, todo)
    return apply(repo, state, todo, on_bytes)


def refuse_kept_directories(repo: Repository, todo: dict[str, Change]) -> None:
    """Untracked files are kept, so a directory holding some cannot become a file:
    refuse before anything changes rather than fail half-way."""
    leaving = {p for p, (_, new) in todo.items() if new is None}
    for path, (_, new) in sorted(todo.items()):
        if (
            new is not None
            and os.path.isdir(repo.root / path)
            and not os.path.islink(repo.root / path)
        ):
            kept = _left_in_directory(repo.root, path, leaving)
            if kept is not None:
                raise ConflictError(
                    f"cannot replace the directory '{path}' with a file: it holds "
                    f"untracked '{kept}' (move or remove it first)"
                )
