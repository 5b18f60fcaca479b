"""Comparing the working tree with the staging area, using the stat cache.

A tracked file whose stat matches its cached stat (and is not racily clean) is
unchanged without being read. Any other tracked file is hashed (content id only,
nothing stored) and compared; when the content turns out unchanged its cached stat
is refreshed so the next scan skips it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field

from cofd.objects.ignore import IgnoreRules
from cofd.objects.worktree_state import StatInfo, WorktreeState
from cofd.ops.paths import Scope, parent_dirs
from cofd.ops.repository import Repository
from cofd.ops.scan import Found, enclosing_repository, read_content, walk
from cofd.ops.trees import FlatEntry


@dataclass(slots=True)
class WorktreeDiff:
    modified: dict[str, str] = field(default_factory=dict)  # path -> "M" | "D" | "T"
    present: dict[str, Found] = field(default_factory=dict)  # tracked files found on disk
    untracked: list[Found] = field(default_factory=list)
    # Untracked directories that are repositories of their own (git's embedded
    # repositories): listed as one entry each, never looked inside.
    repositories: list[str] = field(default_factory=list)
    tracked_dirs: set[str] = field(default_factory=set)
    contents: dict[str, FlatEntry] = field(default_factory=dict)  # hashed modified files
    refreshed: bool = False  # the stat cache was updated and should be saved


def tracked_dirs_of(paths: set[str]) -> set[str]:
    """Every directory that contains a tracked path, at any depth."""
    dirs: set[str] = set()
    for path in paths:
        cut = path.rfind("/")
        while cut > 0:
            directory = path[:cut]
            if directory in dirs:
                break  # its ancestors are already in
            dirs.add(directory)
            cut = path.rfind("/", 0, cut)
    return dirs


def _start_dirs(specs: list[str]) -> list[str]:
    """Directories to walk: the specs themselves, or their parents for file specs."""
    return [""] if not specs or "" in specs else specs


def walk_specs(
    repo: Repository,
    rules: IgnoreRules,
    tracked_dirs: set[str],
    tracked: set[str],
    specs: list[str],
    repositories: list[str] | None = None,
) -> Iterator[Found]:
    """What :func:`walk` finds under each spec (a spec naming a file: that file, if
    it is one), each path once; nothing inside a repository of its own, as git (the
    repositories met go to ``repositories``, each once, when the walk is over)."""
    seen: set[str] = set()
    met: list[str] = []
    for start in _start_dirs(specs):
        full = repo.root / start
        if start and enclosing_repository(repo.root, start, tracked_dirs) is not None:
            items = []
        elif start and (full.is_symlink() or not full.is_dir()):
            found = stat_one(repo, start)
            items = [found] if found is not None else []
        else:
            items = list(walk(repo.root, rules, tracked_dirs, tracked, start, met))
        for found in items:
            if found.path not in seen:
                seen.add(found.path)
                yield found
    if repositories is not None:
        repositories += sorted(set(met))


def scan(repo: Repository, state: WorktreeState, specs: list[str]) -> WorktreeDiff:
    rules = IgnoreRules(repo.root)
    tracked = set(state.entries) | set(state.conflicts)
    tracked_dirs = tracked_dirs_of(tracked)
    diff = WorktreeDiff(tracked_dirs=tracked_dirs)
    seen: set[str] = set()
    for found in walk_specs(repo, rules, tracked_dirs, tracked, specs, diff.repositories):
        seen.add(found.path)
        if found.path in state.entries:
            diff.present[found.path] = found
            _compare(repo, state, found, diff)
        elif found.path not in state.conflicts:
            diff.untracked.append(found)
    scope = Scope(specs)
    for path in state.entries:
        if path not in seen and path in scope:
            diff.modified[path] = "D"
    return diff


def stat_one(repo: Repository, path: str) -> Found | None:
    try:
        st = os.lstat(repo.root / path)
    except (FileNotFoundError, NotADirectoryError):
        # NotADirectoryError: a parent is a file, so nothing is at ``path``.
        return None
    if stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode):
        return Found(path, st)
    return None


def _compare(repo: Repository, state: WorktreeState, found: Found, diff: WorktreeDiff) -> None:
    entry = state.entries[found.path]
    if (
        state.stat_matches(entry.stat, found.st)
        and entry.stat is not None
        and not state.is_racy(entry.stat)
    ):
        return
    content = read_content(repo.objects, None, repo.root, found.path)
    staged_kind = FlatEntry(entry.mode, entry.id, entry.size).kind
    now_kind = FlatEntry(content.mode, content.id, content.size).kind
    diff.contents[found.path] = FlatEntry(content.mode, content.id, content.size)
    if staged_kind != now_kind:
        diff.modified[found.path] = "T"
    elif content.id != entry.id or content.mode != entry.mode or content.size != entry.size:
        diff.modified[found.path] = "M"
    else:
        entry.stat = StatInfo.of(found.st)
        diff.refreshed = True


def collapse_untracked(paths: list[str], tracked_dirs: set[str]) -> list[str]:
    """git's default untracked listing: a directory holding no tracked file is shown
    once as ``dir/`` instead of file by file (``paths`` may hold such ``dir/``
    entries already: repositories of their own)."""
    shown: set[str] = set()
    for path in paths:
        label = path
        for directory in parent_dirs(path):
            if directory not in tracked_dirs:
                label = directory + "/"
                break
        shown.add(label)
    return sorted(shown, key=lambda p: p.encode("utf-8", "surrogateescape"))
