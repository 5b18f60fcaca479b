"""The local changes a branch switch carried along, as git lists them after the
switch (``M<TAB>path``): every tracked path whose version in the working tree (or,
for a path gone from it, the staging area) differs from the commit switched to, as
``diff-index --name-status COMMIT`` sees them. Untracked files are not listed.

Codes: ``M`` modified, ``T`` a file became a symlink or the reverse, ``A`` staged
but not in the commit, ``D`` in the commit but deleted (from the working tree or the
staging area).
"""

from __future__ import annotations

import os
import stat

from cofd.objects.model import CommitId
from cofd.objects.worktree_state import Entry, WorktreeState
from cofd.ops.common import flat_tree
from cofd.ops.repository import Repository
from cofd.ops.scan import read_content
from cofd.ops.trees import FlatEntry


def local_changes(repo: Repository, commit: CommitId | None) -> list[tuple[str, str]]:
    """(code, path) for each local change against ``commit``, by path."""
    state = repo.load_state()
    committed = flat_tree(repo, commit)
    root = os.fspath(repo.root)
    out: list[tuple[str, str]] = []
    for path in set(committed) | set(state.entries) | set(state.conflicts):
        entry = state.entries.get(path)
        if entry is not None and _clean(root, path, entry, committed.get(path), state):
            continue  # the common case, without building the file's version
        if entry is None and path not in state.conflicts:
            now = None  # not staged: gone, whatever the working tree holds
        else:
            now = _on_disk(repo, root, path, entry, state)
        code = _code(committed.get(path), now)
        if code:
            out.append((code, path))
    return sorted(out, key=lambda change: change[1])


def _clean(root: str, path: str, entry: Entry, was: FlatEntry | None, state: WorktreeState) -> bool:
    """Whether ``path`` is staged as committed and its file is as staged (one
    ``lstat``; a racily clean stat is not trusted)."""
    if was is None or (entry.mode, entry.id, entry.size) != (was.mode, was.id, was.size):
        return False
    try:
        st = os.lstat(f"{root}/{path}")
    except (FileNotFoundError, NotADirectoryError):
        return False
    cached = entry.stat
    return cached is not None and state.stat_matches(cached, st) and not state.is_racy(cached)


def _on_disk(
    repo: Repository, root: str, path: str, entry: Entry | None, state: WorktreeState
) -> FlatEntry | None:
    """The working file's version: the staged one when its stat says it is unchanged
    (one ``lstat``, as git's listing costs), else hashed (nothing is stored); None
    when there is no file."""
    try:
        st = os.lstat(f"{root}/{path}")
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
        return None
    if entry is not None and state.stat_matches(entry.stat, st):
        assert entry.stat is not None
        if not state.is_racy(entry.stat):
            return FlatEntry(entry.mode, entry.id, entry.size)
    content = read_content(repo.objects, None, repo.root, path)
    return FlatEntry(content.mode, content.id, content.size)


def _code(was: FlatEntry | None, now: FlatEntry | None) -> str:
    if was == now:
        return ""
    if was is None:
        return "A"
    if now is None:
        return "D"
    return "T" if was.kind != now.kind else "M"
