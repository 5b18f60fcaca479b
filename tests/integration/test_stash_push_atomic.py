"""SIGKILL of cofd in the last milliseconds of ``cof stash push``, around and after
the moment ``refs/stash`` moves (the commit point): the user sees the push done whole
or not at all, never the changes both stashed and still in the working tree.

The push writes a journal (``.cof/STASH_PUSH``) before the ref moves; the next
command's open of the repository reads it and finishes the reset (the ref moved: one
stash, working tree and staging area clean, untracked files stashed with ``-u``
gone) or rolls the push back (it had not: no stash, every change where it was).

Each window is too short to hit reliably from outside (the two around the ref
update last a few fsyncs; the renames of the reset take milliseconds unless there
are thousands of files, which took 12-16 s to set up), so the daemon kills itself
there under the test-only ``COF_DEBUG_STASH_PUSH_KILL``: ``journal`` (written, the
ref not moved), ``ref`` (moved, nothing reset) and ``reset`` (the first file renamed
into place, the others not).

An error instead of a kill (the test-only ``COF_DEBUG_STASH_PUSH_FAIL``) is settled
at once by the push itself, the same way: undone before the ref moved, finished
after it, with only a path that still cannot be reset reported.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from tests.integration.crashkit import wait_gone
from tests.integration.treekit import commit, listing, sha256_file, write

if TYPE_CHECKING:
    from pathlib import Path

    from tests.integration.conftest import CofSandbox

# Modified files the reset renames into place (the kill hooks need no more).
RESET_FILES = 20


@dataclass(frozen=True)
class Changes:
    at_head: dict[str, str]  # the files as HEAD has them
    changed: dict[str, str]  # ... and with the local changes the push stashes
    status: str  # status --porcelain with the changes


def _name(n: int) -> str:
    return f"d/f{n:05d}.txt"


def _make_changes(sandbox: CofSandbox, files: int) -> Changes:
    """A commit, then every kind of change a push resets: ``files`` modified files, a
    deleted one, a staged change, a staged new file and an untracked file."""
    cof, work = sandbox.cof, sandbox.work
    sandbox.env.update({"COF_AUTHOR_NAME": "Tess Ter", "COF_AUTHOR_EMAIL": "tess@example.com"})
    cof("init")
    for n in range(files):
        write(work, _name(n), f"base {n}\n")
    write(work, "gone.txt", "deleted in the working tree\n")
    write(work, "staged.txt", "base\n")
    commit(cof, "base")
    at_head = listing(work, sha256_file, skip=".cof")
    for n in range(files):
        write(work, _name(n), f"changed {n}\n")
    (work / "gone.txt").unlink()
    write(work, "staged.txt", "staged\n")
    write(work, "new.txt", "a new file, staged\n")
    cof("add", "staged.txt", "new.txt")
    write(work, "untracked.txt", "untracked, stashed with -u\n")
    status = cof("status", "--porcelain").stdout
    assert status.endswith(" D gone.txt\nA  new.txt\nM  staged.txt\n?? untracked.txt\n")
    assert status.count(" M d/") == files
    return Changes(at_head, listing(work, sha256_file, skip=".cof"), status)


def _assert_stashed_whole(sandbox: CofSandbox, changes: Changes) -> None:
    """The push done: one stash, all clean, nothing of the journal left; the stash
    survives gc, and pop --index brings back every change, staged as it was."""
    cof, work = sandbox.cof, sandbox.work
    assert cof("status", "--porcelain").stdout == ""
    assert listing(work, sha256_file, skip=".cof") == changes.at_head
    assert len(cof("stash", "list").stdout.splitlines()) == 1
    _assert_no_journal(work)
    cof("gc", "--prune=now")
    cof("stash", "pop", "-q", "--index")
    assert listing(work, sha256_file, skip=".cof") == changes.changed
    assert cof("status", "--porcelain").stdout == changes.status


def _assert_no_journal(work: Path) -> None:
    cof_dir = work / ".cof"
    assert not (cof_dir / "STASH_PUSH").exists()
    assert not (cof_dir / "worktree.stash-push").exists()
    assert list((cof_dir / "tmp").iterdir()) == []


@pytest.mark.parametrize("point", ["journal", "ref", "reset"])
def test_sigkill_around_the_commit_point_is_all_or_nothing(sandbox: CofSandbox, point: str) -> None:
    """``journal``: killed after the journal is written, before refs/stash moves: the
    open rolls back. ``ref``: killed right after refs/stash moved, before any of the
    reset: the open does all of it. ``reset``: killed once the first file is back at
    HEAD's version: the open does the rest."""
    cof, work = sandbox.cof, sandbox.work
    changes = _make_changes(sandbox, RESET_FILES)
    pid = sandbox.daemon_pid()
    assert pid is not None
    sandbox.env["COF_DEBUG_STASH_PUSH_KILL"] = point  # read per command, from the client
    try:
        killed = cof("stash", "-u", check=False)
    finally:
        del sandbox.env["COF_DEBUG_STASH_PUSH_KILL"]
    assert killed.returncode != 0 and killed.stderr.count("cof: ") == 1, killed.stderr
    wait_gone(pid)
    assert (work / ".cof" / "STASH_PUSH").exists()
    assert (work / ".cof" / "refs" / "stash").exists() == (point != "journal")
    if point == "reset":  # the reset half done: removals, then renames in path order
        now = listing(work, sha256_file, skip=".cof")
        assert now[_name(0)] == changes.at_head[_name(0)]
        assert now[_name(1)] == changes.changed[_name(1)]
        assert "untracked.txt" not in now
    else:
        assert listing(work, sha256_file, skip=".cof") == changes.changed  # nothing reset yet

    if point != "journal":
        _assert_stashed_whole(sandbox, changes)
        return
    assert cof("status", "--porcelain").stdout == changes.status
    assert listing(work, sha256_file, skip=".cof") == changes.changed
    assert cof("stash", "list").stdout == ""
    _assert_no_journal(work)
    cof("stash", "-q", "-u")  # the rerun does it
    _assert_stashed_whole(sandbox, changes)


def test_an_error_in_the_push_is_settled_at_once(sandbox: CofSandbox) -> None:
    """An I/O error before refs/stash moves undoes the push; one after it (the first
    rename of the reset failing) is finished by the push itself, which stands; a
    file that cannot be renamed at all is the only one left unreset, and named. The
    daemon lives on throughout: no open is needed to settle anything."""
    cof, work = sandbox.cof, sandbox.work
    changes = _make_changes(sandbox, RESET_FILES)
    pid = sandbox.daemon_pid()
    assert pid is not None

    def push_failing(point: str) -> subprocess.CompletedProcess[str]:
        sandbox.env["COF_DEBUG_STASH_PUSH_FAIL"] = point  # read per command, from the client
        try:
            return cof("stash", "-u", check=False)
        finally:
            del sandbox.env["COF_DEBUG_STASH_PUSH_FAIL"]

    undone = push_failing("journal")
    assert undone.returncode != 0 and undone.stderr.count("cof: ") == 1, undone.stderr
    assert "simulated I/O error" in undone.stderr
    assert listing(work, sha256_file, skip=".cof") == changes.changed
    assert cof("status", "--porcelain").stdout == changes.status
    assert cof("stash", "list").stdout == ""
    _assert_no_journal(work)

    finished = push_failing("place")
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.startswith("Saved working directory and index state WIP on main")
    assert listing(work, sha256_file, skip=".cof") == changes.at_head
    assert cof("status", "--porcelain").stdout == ""
    _assert_no_journal(work)
    cof("stash", "pop", "-q", "--index")  # the changes back (checked whole below)
    assert listing(work, sha256_file, skip=".cof") == changes.changed

    stuck = push_failing("stuck")
    assert stuck.returncode == 5, stuck.stderr
    assert stuck.stderr.startswith("cof: saved WIP on main: ")
    assert stuck.stderr.endswith(
        f"but could not reset '{_name(0)}' ([Errno 5] simulated I/O error "
        "(COF_DEBUG_STASH_PUSH_FAIL)): they keep their changes, which the stash holds too\n"
    )
    expected = dict(changes.at_head)
    expected[_name(0)] = changes.changed[_name(0)]
    assert listing(work, sha256_file, skip=".cof") == expected
    assert cof("status", "--porcelain").stdout == f" M {_name(0)}\n"
    _assert_no_journal(work)
    assert sandbox.daemon_pid() == pid
    cof("restore", _name(0))
    _assert_stashed_whole(sandbox, changes)
