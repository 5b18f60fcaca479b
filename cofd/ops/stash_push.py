"""``stash push``: record the local changes as a stash and reset them away, as git.

A stash is a commit ``w`` whose tree is the tracked files as the working tree has
them (the staging area with the working tree's changes staged over it, as ``add -u``
stages them), with parents HEAD, a commit ``i`` of the staging area, and with
``--include-untracked`` a parentless commit ``u`` of the untracked files. ``w`` goes
to ``refs/stash``, whose reflog is the list of stashes (``stash@{N}``). Files are
read and stored as ``add`` stores them, streamed.

Crash safety (a kill at any point loses nothing, and leaves no half-made push):

1. contents, trees and the commits are stored (store transactions);
2. what the reset writes (HEAD's version of each changed file) goes to temp files
   in ``.cof/tmp``: for big files the slow part, done before anything is visible;
3. the staging area as the reset leaves it goes to ``.cof/worktree.stash-push``,
   then the journal ``.cof/STASH_PUSH`` names the stash and the rest of the reset
   (each path: its temp file or removal, and the stat the push read it with);
4. ``refs/stash`` moves: the commit point;
5. the staging area of 3 is renamed into place;
6. the temp files are renamed into place and the stashed untracked files removed:
   metadata only, milliseconds; then the journal goes.

The next open of the repository (:func:`finish_interrupted_push`, before it empties
``.cof/tmp``) reads a journal a kill left. Before 4, it rolls back: the journal goes,
the working tree and the staging area are as they were (the open removes the temp
files; gc the unreferenced blocks). After 4 it rolls forward: 5 and 6 are done again
for what the push had not done yet, so the stash holds every change and the working
tree and staging area are as the push leaves them. A path that is no longer as the
push read it (the user changed it after the kill) is left alone: it shows as changed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISDIR
from typing import Any

from cofd.objects.model import Commit, CommitId, Signature
from cofd.objects.worktree_state import Entry, StatInfo, WorktreeState
from cofd.ops.api import OpContext
from cofd.ops.commit import clean_message
from cofd.ops.common import (
    ByteProgress,
    entry_from_flat,
    flat_tree,
    reflog_signature,
    staged_flat,
)
from cofd.ops.materialize import place_temp, remove_entry, write_temp
from cofd.ops.paths import Scope, repo_relative, under
from cofd.ops.repository import Repository
from cofd.ops.stage import stage_paths
from cofd.ops.switch import MAX_LISTED, Change, ParentsInTheWay, refuse_kept_directories
from cofd.ops.trees import FlatEntry, build
from cofd.store.pack import fsync_dir
from protocol.errors import ConflictError, PathError, UsageError

STASH_REF = "refs/stash"
SHORT_HEX = 12  # digits of the HEAD id in a stash's message, as cof abbreviates ids
# Under .cof: the journal of a push past its step 3, and the staging area it leaves.
JOURNAL = "STASH_PUSH"
JOURNAL_STATE = "worktree.stash-push"  # its temp files are the state file's, "worktree.*.tmp"
JOURNAL_VERSION = 1
# What a journal says a path was when the push read it (besides its stat).
ABSENT = "absent"
UNKNOWN = "unknown"

# Test-only (inert unless set): the client's COF_DEBUG_STASH_PUSH_KILL=journal (after
# the journal is written) or =ref (after refs/stash moved) makes the daemon SIGKILL
# itself at that point of a push, for the crash tests of the two tiny windows.
DEBUG_KILL = "COF_DEBUG_STASH_PUSH_KILL"

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PushOptions:
    message: str | None
    untracked: bool  # -u: stash (and remove) untracked files too
    keep_index: bool  # -k: the staging area and the working tree keep the staged changes
    paths: list[str]  # pathspecs as given (relative to the client's directory)


@dataclass(slots=True)
class _Sides:
    """The versions a push records: HEAD's files, the staging area's, the working
    tree's tracked files (``work``) and, with -u, its untracked ones."""

    head: dict[str, FlatEntry]
    index: dict[str, FlatEntry]
    work: dict[str, FlatEntry]
    untracked: dict[str, FlatEntry]
    work_state: WorktreeState  # the staging area with the working tree staged: stats

    def changed(self, scope: Scope) -> bool:
        staged = any(
            self.head.get(p) != self.index.get(p)
            for p in set(self.head) | set(self.index)
            if p in scope
        )
        return staged or self.work != self.index or bool(self.untracked)


def push(ctx: OpContext, repo: Repository, options: PushOptions) -> dict[str, Any]:
    head = repo.refs.head()
    if head is None:
        raise UsageError("You do not have the initial commit yet")
    state = repo.load_state()
    if state.conflicts:
        listed = ", ".join(sorted(state.conflicts)[:MAX_LISTED])
        raise ConflictError(f"cannot stash: you have unmerged paths ({listed}); resolve them first")
    specs = _specs(ctx, repo, state, head, options)
    scope = Scope(specs)
    sides = _read_sides(ctx, repo, state, head, specs, options.untracked)
    if not sides.changed(scope):
        return {"saved": False}
    new_index = _reset_index(sides, scope, options.keep_index)
    todo = _reset_plan(sides, new_index, scope)
    _refuse_in_the_way(repo, todo)
    who = reflog_signature(ctx)
    stash, text = _store(repo, head, sides, options.message, who)
    temps = _write_temps(ctx, repo, todo)
    final = _final_state(sides.work_state, new_index)
    try:
        _write_journal(repo, stash, final, todo, temps, sides.work_state)
        _debug_kill(ctx, "journal")
        repo.refs.update(STASH_REF, stash, who, text)  # the commit point
        _debug_kill(ctx, "ref")
        _install_journal_state(repo)
        _place(repo, final, todo, temps)
        repo.save_state(final)
    finally:
        # Done, or failed with an error the user sees: nothing for an open to finish.
        _forget_journal(repo)
    return {"saved": True, "message": text, "commit": stash.hex()}


def _specs(
    ctx: OpContext, repo: Repository, state: WorktreeState, head: CommitId, options: PushOptions
) -> list[str]:
    """The pathspecs, repository-relative; each must name something known (git's
    "did not match any file(s)"), or with -u something in the working tree."""
    specs = [repo_relative(repo.root, ctx.cwd, p) for p in options.paths]
    known = sorted(set(state.entries) | set(flat_tree(repo, head)))
    for arg, spec in zip(options.paths, specs, strict=True):
        exists = options.untracked and os.path.lexists(repo.root / spec)
        if not exists and not under(known, spec):
            raise PathError(f"pathspec '{arg}' did not match any file(s) known to cof")
    return specs


def _read_sides(
    ctx: OpContext,
    repo: Repository,
    state: WorktreeState,
    head: CommitId,
    specs: list[str],
    untracked: bool,
) -> _Sides:
    """Store the working tree's changes under ``specs`` as ``add -u`` (``add`` with
    -u) would, into a copy of the staging area, and sort out what is what."""
    work_state = repo.load_state()
    stage_paths(ctx, repo, work_state, specs or [""], force=False, tracked_only=not untracked)
    work = staged_flat(work_state)
    new = {p: e for p, e in work.items() if p not in state.entries} if untracked else {}
    tracked = {p: e for p, e in work.items() if p not in new}
    return _Sides(flat_tree(repo, head), staged_flat(state), tracked, new, work_state)


def _reset_index(sides: _Sides, scope: Scope, keep_index: bool) -> dict[str, FlatEntry]:
    """The staging area after the push: HEAD's under the pathspecs (the staging
    area's with -k), as it was elsewhere."""
    target = sides.index if keep_index else sides.head
    new_index = {p: e for p, e in sides.index.items() if p not in scope}
    new_index.update((p, e) for p, e in target.items() if p in scope)
    return new_index


def _reset_plan(sides: _Sides, new_index: dict[str, FlatEntry], scope: Scope) -> dict[str, Change]:
    """Working-tree paths to change: (stashed version, new version or None)."""
    todo: dict[str, Change] = {
        p: (sides.work.get(p), new_index.get(p))
        for p in set(sides.work) | set(new_index)
        if p in scope and sides.work.get(p) != new_index.get(p)
    }
    todo.update((p, (e, None)) for p, e in sides.untracked.items())
    return todo


def _refuse_in_the_way(repo: Repository, todo: dict[str, Change]) -> None:
    """Refuse before anything is stored when an untracked file or directory the push
    keeps stands where it restores a file (git's reset would delete it)."""
    refuse_kept_directories(repo, todo)
    parents = ParentsInTheWay(repo.root, {p for p, (_, new) in todo.items() if new is None})
    for path, (_, new) in sorted(todo.items()):
        if new is not None and (blocker := parents.blocker(path)) is not None:
            raise ConflictError(
                f"cannot stash: untracked '{blocker}' stands where '{path}' is restored "
                "(move or remove it first, or stash it too with -u)"
            )


def _store(
    repo: Repository, head: CommitId, sides: _Sides, message: str | None, who: Signature
) -> tuple[CommitId, str]:
    """Store the index, untracked and stash commits; (stash id, its message line)."""
    base = repo.objects.read_commit(head)
    branch = (repo.refs.head_target() or "").removeprefix("refs/heads/") or "(no branch)"
    where = f"{branch}: {head.hex()[:SHORT_HEX]} {base.summary}"
    own = clean_message(message or "").split("\n", 1)[0]
    text = f"On {branch}: {own}" if own else f"WIP on {where}"
    objects = repo.objects
    with repo.blocks.transaction() as txn:
        index_tree = build(objects, txn, sides.index)
        index = Commit((head,), index_tree, who, who, f"index on {where}\n", base.sequence + 1)
        parents = [head, objects.write_commit(txn, index)]
        if sides.untracked:
            tree = build(objects, txn, sides.untracked)
            untracked = Commit((), tree, who, who, f"untracked files on {where}\n", 1)
            parents.append(objects.write_commit(txn, untracked))
        sequence = base.sequence + 2  # 1 + the index commit's
        work = Commit(
            tuple(parents), build(objects, txn, sides.work), who, who, text + "\n", sequence
        )
        stash = objects.write_commit(txn, work)
        txn.assign_generation(sequence)
    return stash, text


def _write_temps(ctx: OpContext, repo: Repository, todo: dict[str, Change]) -> dict[str, Path]:
    """Phase 2: the files the reset writes, as temp files (biggest first)."""
    items = sorted(
        ((p, new) for p, (_, new) in todo.items() if new is not None), key=lambda i: -i[1].size
    )
    progress = ByteProgress(ctx, "resetting", sum(new.size for _, new in items))
    temps: dict[str, Path] = {}
    try:
        for path, new in items:
            temps[path] = write_temp(repo, new, progress.add)
    except BaseException:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
        raise
    return temps


def _final_state(work_state: WorktreeState, new_index: dict[str, FlatEntry]) -> WorktreeState:
    """The staging area after the reset; an entry whose file stays keeps the stat
    the push read it with, a rewritten one gets its stat once it is in place."""
    entries: dict[str, Entry] = {}
    for path, flat in new_index.items():
        seen = work_state.entries.get(path)
        same = seen is not None and FlatEntry(seen.mode, seen.id, seen.size) == flat
        entries[path] = seen if same and seen is not None else entry_from_flat(path, flat)
    return WorktreeState(entries, {}, work_state.written_ns)


def _place(
    repo: Repository, state: WorktreeState, todo: dict[str, Change], temps: dict[str, Path]
) -> None:
    """Phase 5: removals first (a directory may replace a file), then the renames."""
    for path in sorted((p for p, (_, new) in todo.items() if new is None), reverse=True):
        remove_entry(repo.root, path)
    for path, tmp in sorted(temps.items()):
        new = todo[path][1]
        assert new is not None
        stat = place_temp(repo, path, tmp, new)
        state.entries[path] = Entry(path, new.mode, new.id, new.size, stat)


# -- the journal: a push killed after its commit point is finished at the next open --


def _write_journal(
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


def _debug_kill(ctx: OpContext, point: str) -> None:
    if ctx.env.get(DEBUG_KILL) == point:
        os.kill(os.getpid(), signal.SIGKILL)


def _stat_list(st: StatInfo) -> list[int]:
    return [st.mtime_ns, st.ctime_ns, st.size, st.ino, st.dev, st.mode]


def _install_journal_state(repo: Repository) -> None:
    """Step 5: the journal's staging area becomes the staging area (once: a later
    step 5, of an open finishing the push, finds it gone and the state in place)."""
    with contextlib.suppress(FileNotFoundError):
        os.replace(repo.cof_dir / JOURNAL_STATE, repo.state_path)
        fsync_dir(repo.cof_dir)


def _forget_journal(repo: Repository) -> None:
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
    cut short before it (see the module's docstring). Never raises: a journal that
    cannot be read or replayed is logged and dropped (the stash, if made, holds
    every change; the working tree keeps what was not reset)."""
    try:
        raw = (repo.cof_dir / JOURNAL).read_bytes()
    except FileNotFoundError:
        # What a push killed before its journal was complete wrote, if anything.
        for name in (JOURNAL + ".tmp", JOURNAL_STATE):
            (repo.cof_dir / name).unlink(missing_ok=True)
        return
    try:
        journal = _read_journal(raw)
        if _committed(repo, journal.stash):
            _finish(repo, journal)
    except Exception:
        log.exception("cannot finish the interrupted stash push of %s", repo.root)
    _forget_journal(repo)


def _committed(repo: Repository, stash: CommitId) -> bool:
    """Whether the push got past its commit point: ``refs/stash`` names the stash.
    A kill between the reflog line and the ref's rename left that line: it goes."""
    if repo.refs.read(STASH_REF) == stash:
        return True
    entries = repo.refs.reflog(STASH_REF)
    if entries and entries[0].new == stash:
        repo.refs.rewrite_reflog(STASH_REF, lambda n, _: n != 0)
    return False


def _finish(repo: Repository, journal: _Journal) -> None:
    """Steps 5 and 6 again, for what the killed push had not done."""
    state_file = repo.cof_dir / JOURNAL_STATE
    if not state_file.exists():
        state_file = repo.state_path  # installed by the push already
    state = WorktreeState.load(state_file)
    reset = sorted(journal.reset, key=lambda item: item[0])
    for path, temp, was in reversed(reset):  # removals first, as the push does them
        if temp is None and _as_read(repo.root, path, was):
            remove_entry(repo.root, path)
    for path, temp, was in reset:
        entry = state.entries.get(path)
        # A temp file that is gone was renamed into place by the push.
        if temp is None or entry is None or not (repo.temp_dir / temp).exists():
            continue
        if _as_read(repo.root, path, was, or_gone=True):
            new = FlatEntry(entry.mode, entry.id, entry.size)
            placed = place_temp(repo, path, repo.temp_dir / temp, new)
            state.entries[path] = Entry(path, new.mode, new.id, new.size, placed)
    state.save(repo.state_path, time.time_ns())
    fsync_dir(repo.cof_dir)
    log.warning("finished the stash push a kill interrupted in %s", repo.root)


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
