"""The journal of a ``stash push`` past its step 3 (see :mod:`cofd.ops.stash_push`),
and the one way it is settled: rolled back when ``refs/stash`` did not move, rolled
forward (the rest of the reset done) when it did.

Two readers settle it alike: the next open of the repository, after a kill
(:func:`finish_interrupted_push`), and the push itself, at once, after an error
(:func:`settle`): a push that fails once its stash is made must not leave the reset
half done while the daemon lives on.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISDIR

from cofd.objects.model import CommitId
from cofd.objects.worktree_state import Entry, StatInfo, WorktreeState
from cofd.ops.materialize import place_temp, remove_entry
from cofd.ops.repository import Repository
from cofd.ops.switch import Change
from cofd.ops.trees import FlatEntry
from cofd.store.pack import fsync_dir
from protocol.errors import CofError

STASH_REF = "refs/stash"
# Under .cof: the journal of a push past its step 3, and the staging area it leaves.
JOURNAL = "STASH_PUSH"
JOURNAL_STATE = "worktree.stash-push"  # its temp files are the state file's, "worktree.*.tmp"
JOURNAL_VERSION = 1
# What a journal says a path was when the push read it (besides its stat).
ABSENT = "absent"
UNKNOWN = "unknown"

# Renames a temp file of the reset into place and returns the placed file's stat
# (``materialize.place_temp``, or a test's stand-in that fails).
Placer = Callable[[Repository, str, Path, FlatEntry], StatInfo]

log = logging.getLogger(__name__)


def write_journal(
    repo: Repository,
    stash: CommitId,
    final: WorktreeState,
    todo: dict[str, Change],
    temps: dict[str, Path],
    work_state: WorktreeState,
) -> None:
    """Step 3: the staging area the push leaves, then the journal naming the stash and
    what is left to do, each durable (written, fsynced, renamed, directory fsynced)
    before ``refs/stash`` moves."""
    final.save(repo.cof_dir / JOURNAL_STATE, time.time_ns())
    reset = []
    for path, (stashed, _) in sorted(todo.items()):
        seen = work_state.entries.get(path)
        was: str | list[int] = ABSENT
        if stashed is not None:
            was = UNKNOWN if seen is None or seen.stat is None else _stat_list(seen.stat)
        tmp = temps.get(path)
        reset.append({"path": path, "temp": None if tmp is None else tmp.name, "was": was})
    text = json.dumps({"version": JOURNAL_VERSION, "stash": stash.hex(), "reset": reset})
    tmp_path = repo.cof_dir / (JOURNAL + ".tmp")
    fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        data = memoryview(text.encode())
        while data:
            data = data[os.write(fd, data) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp_path, repo.cof_dir / JOURNAL)
    fsync_dir(repo.cof_dir)


def _stat_list(st: StatInfo) -> list[int]:
    return [st.mtime_ns, st.ctime_ns, st.size, st.ino, st.dev, st.mode]


def install_journal_state(repo: Repository) -> None:
    """Step 5: the journal's staging area becomes the staging area (once: a later
    step 5, of an open finishing the push, finds it gone and the state in place)."""
    with contextlib.suppress(FileNotFoundError):
        os.replace(repo.cof_dir / JOURNAL_STATE, repo.state_path)
        fsync_dir(repo.cof_dir)


def forget_journal(repo: Repository) -> None:
    """The journal first (its absence says there is nothing to finish), then the
    staging area it named, if not installed."""
    for name in (JOURNAL, JOURNAL + ".tmp"):
        (repo.cof_dir / name).unlink(missing_ok=True)
    fsync_dir(repo.cof_dir)
    (repo.cof_dir / JOURNAL_STATE).unlink(missing_ok=True)


@dataclass(frozen=True, slots=True)
class _Journal:
    stash: CommitId
    # (path, temp file name in .cof/tmp or None for a removal, what the path was:
    # ABSENT, UNKNOWN or the stat list the push read it with)
    reset: list[tuple[str, str | None, str | list[int]]]


def _read_journal(raw: bytes) -> _Journal:
    """The journal's content; ValueError when it is not one this version writes."""
    data = json.loads(raw)
    if not isinstance(data, dict) or data.get("version") != JOURNAL_VERSION:
        raise ValueError("not a version 1 journal")
    stash = CommitId(bytes.fromhex(data["stash"]))
    reset: list[tuple[str, str | None, str | list[int]]] = []
    for item in data["reset"]:
        path, temp, was = item["path"], item["temp"], item["was"]
        if not isinstance(path, str) or not (temp is None or isinstance(temp, str)):
            raise ValueError("bad path or temp file")
        if temp is not None and ("/" in temp or temp in ("", ".", "..")):
            raise ValueError(f"temp file {temp!r} not in .cof/tmp")
        stat_list = isinstance(was, list) and len(was) == 6
        if not (was in (ABSENT, UNKNOWN) or (stat_list and all(isinstance(n, int) for n in was))):
            raise ValueError(f"bad 'was' of {path!r}")
        reset.append((path, temp, was))
    return _Journal(stash, reset)


def finish_interrupted_push(repo: Repository) -> None:
    """Called by the repository's open, with its lock held, before ``.cof/tmp`` is
    emptied: finish a push a kill cut short after its commit point, or roll back one
    cut short before it (see :mod:`cofd.ops.stash_push`). Never raises: a journal
    that cannot be read or replayed is logged and dropped (the stash, if made, holds
    every change; the working tree keeps what was not reset)."""
    left = settle(repo, place_temp)
    if left:
        log.warning("stash push in %s: not reset, kept as they are: %s", repo.root, left)


def settle(repo: Repository, place: Placer) -> list[str]:
    """Roll the journal's push back or forward and drop the journal; the paths the
    roll forward could not reset (each keeps its changes, which the stash holds;
    every path of the journal when it failed as a whole). Never raises, as
    :func:`finish_interrupted_push`."""
    try:
        raw = (repo.cof_dir / JOURNAL).read_bytes()
    except FileNotFoundError:
        # What a push stopped before its journal was complete wrote, if anything.
        for name in (JOURNAL + ".tmp", JOURNAL_STATE):
            (repo.cof_dir / name).unlink(missing_ok=True)
        return []
    left: list[str] = []
    journal = None
    try:
        journal = _read_journal(raw)
        if _committed(repo, journal.stash):
            left = _finish(repo, journal, place)
    except Exception:
        log.exception("cannot finish the interrupted stash push of %s", repo.root)
        if journal is not None:  # any path of it may be as the push left it
            left = sorted(path for path, _, _ in journal.reset)
    forget_journal(repo)
    return left


def _committed(repo: Repository, stash: CommitId) -> bool:
    """Whether the push got past its commit point: ``refs/stash`` names the stash.
    A kill between the reflog line and the ref's rename left that line: it goes."""
    if repo.refs.read(STASH_REF) == stash:
        return True
    entries = repo.refs.reflog(STASH_REF)
    if entries and entries[0].new == stash:
        repo.refs.rewrite_reflog(STASH_REF, lambda n, _: n != 0)
    return False


def _finish(repo: Repository, journal: _Journal, place: Placer) -> list[str]:
    """Steps 5 and 6 again, for what the push had not done; a path that fails is
    left as it is (and returned), the others are still done."""
    state_file = repo.cof_dir / JOURNAL_STATE
    if not state_file.exists():
        state_file = repo.state_path  # installed by the push already
    state = WorktreeState.load(state_file)
    reset = sorted(journal.reset, key=lambda item: item[0])
    left: list[str] = []
    for path, temp, was in reversed(reset):  # removals first, as the push does them
        if temp is None and _as_read(repo.root, path, was):
            try:
                remove_entry(repo.root, path)
            except OSError:
                left.append(path)
    for path, temp, was in reset:
        entry = state.entries.get(path)
        # A temp file that is gone was renamed into place by the push.
        if temp is None or entry is None or not (repo.temp_dir / temp).exists():
            continue
        if _as_read(repo.root, path, was, or_gone=True):
            new = FlatEntry(entry.mode, entry.id, entry.size)
            try:
                placed = place(repo, path, repo.temp_dir / temp, new)
            except (OSError, CofError):
                left.append(path)
                continue
            state.entries[path] = Entry(path, new.mode, new.id, new.size, placed)
    repo.save_state(state)
    fsync_dir(repo.cof_dir)
    log.warning("finished the stash push interrupted in %s", repo.root)
    return sorted(left)


def _as_read(root: Path, path: str, was: str | list[int], or_gone: bool = False) -> bool:
    """Whether ``path`` is still as the push read it: the same stat, or nothing there
    (and no file where a directory above it was); UNKNOWN: assumed so. ``or_gone``:
    nothing there will do too (the push unlinks a file just before it renames HEAD's
    version in its place; a file the user deleted since was stashed)."""
    if was == UNKNOWN:
        return True
    full = root / path
    try:
        st = os.lstat(full)
    except (FileNotFoundError, NotADirectoryError):
        st = None
    if isinstance(was, list) and st is not None:
        return WorktreeState.stat_matches(StatInfo(*was), st)
    if st is not None or (isinstance(was, list) and not or_gone):
        return False
    parent = full.parent
    while parent != root:
        with contextlib.suppress(FileNotFoundError):
            if not S_ISDIR(os.lstat(parent).st_mode):
                return False
        parent = parent.parent
    return True
