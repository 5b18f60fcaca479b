"""``mv``: rename tracked files and directories in the working tree and the staging
area, as git's ``mv``.

``mv SOURCE DEST`` renames; ``mv SOURCE... DIR`` moves each source into the existing
directory ``DIR``. Every source is checked first, in git's order and with git's
words (``bad source``, ``not under version control``, ``destination exists``, ...);
a directory adds each tracked path under it, checked in turn. ``-k`` skips the
sources that fail a check instead of refusing, ``-f`` lets a file or symlink replace
an existing one, ``-n`` only reports. The working tree is changed by one
``rename(2)`` per source (a directory moves whole, untracked files in it included),
and each staging entry moves with its staged content, so unstaged changes stay
unstaged. Unlike git, a destination whose directory is missing is found before
anything moves, so a refused ``mv`` changes nothing.
"""

from __future__ import annotations

import os
import posixpath
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cofd.objects.worktree_state import Entry, StatInfo, WorktreeState
from cofd.ops.api import OpContext, op
from cofd.ops.paths import Scope, path_args, repo_relative, shown, under
from cofd.ops.repository import Repository
from cofd.ops.stage import check_trackable, drop_displaced
from protocol.errors import PathError, UsageError
from protocol.quoting import wire_path


@dataclass(frozen=True, slots=True)
class _Move:
    src: str
    dst: str
    renames: bool  # False: a path inside a moved directory (only its entry moves)


class _Checker:
    """git's checks of one ``mv``, source by source (directories add their paths)."""

    def __init__(self, repo: Repository, state: WorktreeState, force: bool) -> None:
        self.repo = repo
        self.state = state
        self.force = force
        self.tracked = sorted(set(state.entries) | set(state.conflicts))
        self.claimed: set[str] = set()

    def _lstat(self, path: str) -> os.stat_result | None:
        try:
            return os.lstat(self.repo.root / path) if path else os.lstat(self.repo.root)
        except (FileNotFoundError, NotADirectoryError):
            return None

    def problem(self, move: _Move, queue: list[_Move]) -> str | None:
        """Why ``move`` cannot be made, or None; a directory queues its paths."""
        src, dst = move.src, move.dst
        st = self._lstat(src)
        if st is None:
            return "bad source"
        if not src or dst == src or dst.startswith(src + "/"):
            return "can not move directory into itself"
        if stat.S_ISDIR(st.st_mode):
            if self._lstat(dst) is not None:
                return "cannot move directory over file"
            inside = [p for p in under(self.tracked, src) if p != src]
            if not inside:
                return "source directory is empty"
            queue.extend(_Move(p, dst + p[len(src) :], False) for p in inside)
        elif src in self.state.conflicts:
            return "conflicted"
        elif src not in self.state.entries:
            return "not under version control"
        elif (dst_st := self._lstat(dst)) is not None:
            if not self.force:
                return "destination exists"
            if not (stat.S_ISREG(dst_st.st_mode) or stat.S_ISLNK(dst_st.st_mode)):
                return "Cannot overwrite"
        if dst in self.claimed:
            return "multiple sources for the same target"
        if dst.endswith("/"):
            return "destination directory does not exist"
        return None

    def rename_problem(self, move: _Move) -> str | None:
        """Why ``rename(src, dst)`` would fail for want of ``dst``'s directory."""
        parent = posixpath.dirname(move.dst)
        st = self._lstat(parent)
        if st is None:
            return f"renaming '{shown(move.src)}' failed: No such file or directory"
        if not stat.S_ISDIR(st.st_mode):
            return f"renaming '{shown(move.src)}' failed: Not a directory"
        return None


def _destinations(root: Path, cwd: Path, raw: list[str]) -> list[_Move]:
    """Pair each source with its destination: ``DEST`` itself for one source and a
    ``DEST`` that is no directory, else ``DEST/<source's name>``."""
    *sources, dest_arg = raw
    dest = repo_relative(root, cwd, dest_arg)
    full = root / dest if dest else root
    dest_is_dir = os.path.isdir(full) and not os.path.islink(full)
    specs = [repo_relative(root, cwd, s) for s in sources]
    if len(specs) == 1 and not dest_is_dir:
        # git keeps a trailing slash, to say "destination directory does not exist".
        return [_Move(specs[0], dest + ("/" if dest_arg.endswith("/") else ""), True)]
    if not dest_is_dir:
        raise UsageError(f"destination '{shown(dest_arg)}' is not a directory")
    return [_Move(s, posixpath.join(dest, posixpath.basename(s)), True) for s in specs]


def _clean_stats(repo: Repository, state: WorktreeState, moves: list[_Move]) -> dict[str, StatInfo]:
    """The stat of each moving file whose stat cache says it is unchanged, so the
    moved entry can keep a (refreshed) stat and need not be hashed again."""
    clean = {}
    for move in moves:
        entry = state.entries.get(move.src)
        if entry is None or entry.stat is None or state.is_racy(entry.stat):
            continue
        try:
            st = os.lstat(repo.root / move.src)
        except OSError:
            continue
        if state.stat_matches(entry.stat, st):
            clean[move.src] = entry.stat
    return clean


def _still_same(before: StatInfo, path: Path) -> StatInfo | None:
    """The file's stat after the rename if it is the file seen before (a rename
    changes only ctime), else None: the next status hashes it."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    same = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_mode) == (
        before.ino,
        before.size,
        before.mtime_ns,
        before.mode,
    )
    return StatInfo.of(st) if same else None


def _apply(repo: Repository, state: WorktreeState, moves: list[_Move]) -> PathError | None:
    """Rename in the working tree, then move the staging entries of what was renamed
    (all of it, unless a rename failed: that failure is returned, for the caller to
    raise once the staging area matches the working tree)."""
    clean = _clean_stats(repo, state, moves)
    renamed: list[str] = []
    failure = None
    for move in (m for m in moves if m.renames):
        try:
            os.rename(repo.root / move.src, repo.root / move.dst)
        except OSError as exc:
            failure = PathError(f"renaming '{shown(move.src)}' failed: {exc.strerror}")
            break
        renamed.append(move.src)
    done = Scope(renamed)
    for move in moves:
        if not renamed or move.src not in done:
            continue
        entry = state.entries.pop(move.src, None)
        if entry is None:
            continue  # a directory: its paths have moves of their own
        before = clean.get(move.src)
        st = _still_same(before, repo.root / move.dst) if before is not None else None
        state.entries[move.dst] = Entry(move.dst, entry.mode, entry.id, entry.size, st)
    drop_displaced(state, [m.dst for m in moves if m.dst in state.entries])
    return failure


def _plan(
    checker: _Checker, queue: list[_Move], dry_run: bool, skip_errors: bool
) -> tuple[list[_Move], list[_Move]]:
    """(every move checked, the moves to make), in git's order; the first problem is
    raised, unless ``skip_errors`` (``-k``) drops the move it concerns."""
    checked: list[_Move] = []
    accepted: list[_Move] = []
    i = 0
    while i < len(queue):
        move = queue[i]
        i += 1
        checked.append(move)
        queued = len(queue)
        problem = checker.problem(move, queue)
        if problem is not None:
            problem = f"{problem}, source={shown(move.src)}, destination={shown(move.dst)}"
        elif move.renames and not dry_run:
            problem = checker.rename_problem(move)
        if problem is not None:
            if skip_errors:
                del queue[queued:]  # a directory skipped takes its paths along
                continue
            raise PathError(problem)
        check_trackable(move.dst)
        checker.claimed.add(move.dst)
        accepted.append(move)
    return checked, accepted


@op("mv", writes=True)
def mv(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    """Params: ``paths`` (sources, then the destination), ``force``, ``dry_run``,
    ``skip_errors`` (``-k``). Returns the moves checked and those made, in order."""
    repo = ctx.require_repo()
    raw = path_args(params.get("paths"))
    if len(raw) < 2:
        raise UsageError("usage: cof mv [-f] [-n] [-k] [-v] SOURCE... DESTINATION")
    dry_run = bool(params.get("dry_run"))
    state = repo.load_state()
    checker = _Checker(repo, state, bool(params.get("force")))
    queue = _destinations(repo.root, ctx.cwd, raw)
    checked, accepted = _plan(checker, queue, dry_run, bool(params.get("skip_errors")))
    if not dry_run:
        failure = _apply(repo, state, accepted)
        repo.save_state(state)
        if failure is not None:
            raise failure
    return {
        # Names as the client prints them, raw (git's words): not UTF-8, as bytes.
        "checked": [[wire_path(m.src), wire_path(m.dst)] for m in checked],
        "moved": [[wire_path(m.src), wire_path(m.dst)] for m in accepted],
        "dry_run": dry_run,
    }
