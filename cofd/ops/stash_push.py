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

The next open of the repository (``stash_journal.finish_interrupted_push``, before
it empties ``.cof/tmp``) reads a journal a kill left. Before 4, it rolls back: the
journal goes, the working tree and the staging area are as they were (the open
removes the temp files; gc the unreferenced blocks). After 4 it rolls forward: 5
and 6 are done again for what the push had not done yet, so the stash holds every
change and the working tree and staging area are as the push leaves them. A path
that is no longer as the push read it (the user changed it after the kill) is left
alone: it shows as changed.

An error (not a kill) between 3 and the end of 6 is settled at once, the same way,
while the daemon lives on: before 4 the push is undone and the error reported; after
4 the rest of the reset is done and the push stands, and only a path that could still
not be reset is reported (it keeps its changes; the stash holds them too).
"""

from __future__ import annotations

import errno
import logging
import os
import signal
from dataclasses import dataclass
from pathlib import Path
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
from cofd.ops.paths import Scope, repo_relative, shown, under
from cofd.ops.repository import Repository
from cofd.ops.stage import stage_paths
from cofd.ops.stash_journal import (
    STASH_REF,
    Placer,
    forget_journal,
    install_journal_state,
    settle,
    write_journal,
)
from cofd.ops.switch import MAX_LISTED, Change, ParentsInTheWay, refuse_kept_directories
from cofd.ops.trees import FlatEntry, build
from protocol.errors import ConflictError, PathError, UsageError

SHORT_HEX = 12  # digits of the HEAD id in a stash's message, as cof abbreviates ids

# Test-only (inert unless set): the client's COF_DEBUG_STASH_PUSH_KILL=journal (after
# the journal is written), =ref (after refs/stash moved) or =reset (after the reset's
# first file is renamed into place) makes the daemon SIGKILL itself at that point of
# a push, for the crash tests of windows too short to hit from outside.
DEBUG_KILL = "COF_DEBUG_STASH_PUSH_KILL"
# Test-only as well: COF_DEBUG_STASH_PUSH_FAIL=journal raises an I/O error after the
# journal is written (before the commit point), =place when the reset renames its
# first file into place (after it; that file is then placed by the recovery), =stuck
# whenever that first file is renamed (the recovery cannot place it either).
DEBUG_FAIL = "COF_DEBUG_STASH_PUSH_FAIL"

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
    place = _placer(ctx)
    try:
        write_journal(repo, stash, final, todo, temps, sides.work_state)
        _debug_kill(ctx, "journal")
        _debug_fail(ctx, "journal")
        repo.refs.update(STASH_REF, stash, who, text)  # the commit point
        _debug_kill(ctx, "ref")
        install_journal_state(repo)
        _place(repo, final, todo, temps, place)
        repo.save_state(final)
    except Exception as exc:
        _recover(repo, stash, text, temps, place, exc)
    finally:
        # Done, or settled after an error: nothing for an open to finish.
        forget_journal(repo)
    return {"saved": True, "message": text, "commit": stash.hex()}


def _recover(
    repo: Repository,
    stash: CommitId,
    text: str,
    temps: dict[str, Path],
    place: Placer,
    error: Exception,
) -> None:
    """After an error between the journal and the end of the reset, settle the push
    as an open after a kill would: before the commit point it is undone and
    ``error`` raised; after it the rest of the reset is done (the push stands, as it
    would after a kill) and only what could still not be reset is an error."""
    left = settle(repo, place)
    for tmp in temps.values():  # what the reset did not use (an open empties .cof/tmp)
        tmp.unlink(missing_ok=True)
    if repo.refs.read(STASH_REF) != stash:
        raise error
    log.warning("stash push in %s finished after an error: %s", repo.root, error)
    if left:
        listed = ", ".join(f"'{shown(p)}'" for p in left[:MAX_LISTED])
        raise PathError(
            f"saved {text}, but could not reset {listed} ({error}): "
            "they keep their changes, which the stash holds too"
        ) from error


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
            raise PathError(f"pathspec '{shown(arg)}' did not match any file(s) known to cof")
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
                f"cannot stash: untracked '{shown(blocker)}' stands where '{path}' is restored "
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
    repo: Repository,
    state: WorktreeState,
    todo: dict[str, Change],
    temps: dict[str, Path],
    place: Placer,
) -> None:
    """Phase 5: removals first (a directory may replace a file), then the renames."""
    for path in sorted((p for p, (_, new) in todo.items() if new is None), reverse=True):
        remove_entry(repo.root, path)
    for path, tmp in sorted(temps.items()):
        new = todo[path][1]
        assert new is not None
        stat = place(repo, path, tmp, new)
        state.entries[path] = Entry(path, new.mode, new.id, new.size, stat)


def _debug_kill(ctx: OpContext, point: str) -> None:
    if ctx.env.get(DEBUG_KILL) == point:
        os.kill(os.getpid(), signal.SIGKILL)


def _debug_fail(ctx: OpContext, point: str | None) -> None:
    if point is not None and ctx.env.get(DEBUG_FAIL) == point:
        raise OSError(errno.EIO, "simulated I/O error (COF_DEBUG_STASH_PUSH_FAIL)")


def _placer(ctx: OpContext) -> Placer:
    """``place_temp``, or under a test hook (``DEBUG_KILL=reset``, ``DEBUG_FAIL=place``
    or ``stuck``) one that kills or fails at the reset's first file."""
    mode = ctx.env.get(DEBUG_FAIL)
    if mode not in ("place", "stuck") and ctx.env.get(DEBUG_KILL) != "reset":
        return place_temp
    first: list[str] = []

    def place(repo: Repository, path: str, tmp: Path, new: FlatEntry) -> StatInfo:
        if not first or (mode == "stuck" and path == first[0]):
            first.append(path)
            _debug_fail(ctx, mode)
        stat = place_temp(repo, path, tmp, new)
        _debug_kill(ctx, "reset")
        return stat

    return place
