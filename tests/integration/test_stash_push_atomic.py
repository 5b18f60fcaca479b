"""SIGKILL of cofd in the last milliseconds of ``cof stash push``, around and after
the moment ``refs/stash`` moves (the commit point): the user sees the push done whole
or not at all, never the changes both stashed and still in the working tree.

The push writes a journal (``.cof/STASH_PUSH``) before the ref moves; the next
command's open of the repository reads it and finishes the reset (the ref moved: one
stash, working tree and staging area clean, untracked files stashed with ``-u``
gone) or rolls the push back (it had not: no stash, every change where it was).

The kill while the reset renames files lands there by watching the disk (thousands
of renames take long enough); the two windows around the ref update last a few
fsyncs, so those tests use the daemon's test-only ``COF_DEBUG_STASH_PUSH_KILL``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from tests.integration.crashkit import kill_daemon_when, wait_gone
from tests.integration.treekit import commit, listing, sha256_file, write

if TYPE_CHECKING:
    from pathlib import Path

    from tests.integration.conftest import CofSandbox

# Files the reset renames into place: enough that the renames take a while after the
# commit point (a second or more), so the kill lands among them.
RESET_FILES = 3000


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


def test_sigkill_while_the_reset_renames_finishes_the_push(sandbox: CofSandbox) -> None:
    work = sandbox.work
    changes = _make_changes(sandbox, RESET_FILES)
    cof_dir = work / ".cof"
    first, last = work / _name(0), work / _name(RESET_FILES - 1)

    def mid_reset() -> bool:
        """refs/stash moved, the journal is there, and the first file of the reset
        is back at HEAD's version."""
        try:  # the push unlinks each file just before it renames the new one in
            reset = first.read_text() == "base 0\n"
        except FileNotFoundError:
            return False
        return reset and (cof_dir / "refs" / "stash").exists() and (cof_dir / "STASH_PUSH").exists()

    pid = sandbox.daemon_pid()
    assert pid is not None
    kill_daemon_when(work, sandbox.env, pid, ["stash", "-u"], mid_reset)

    # The kill landed in the window: the reset half done, the journal left.
    assert (cof_dir / "STASH_PUSH").exists()
    assert first.read_text() == "base 0\n"
    assert last.read_text() == f"changed {RESET_FILES - 1}\n"
    _assert_stashed_whole(sandbox, changes)  # the next command's open finished it


@pytest.mark.parametrize("point", ["journal", "ref"])
def test_sigkill_around_the_commit_point_is_all_or_nothing(sandbox: CofSandbox, point: str) -> None:
    """``journal``: killed after the journal is written, before refs/stash moves: the
    open rolls back. ``ref``: killed right after refs/stash moved, before any of the
    reset: the open does all of it."""
    cof, work = sandbox.cof, sandbox.work
    changes = _make_changes(sandbox, 20)
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
    assert listing(work, sha256_file, skip=".cof") == changes.changed  # nothing reset yet
    assert (work / ".cof" / "refs" / "stash").exists() == (point == "ref")

    if point == "ref":
        _assert_stashed_whole(sandbox, changes)
        return
    assert cof("status", "--porcelain").stdout == changes.status
    assert listing(work, sha256_file, skip=".cof") == changes.changed
    assert cof("stash", "list").stdout == ""
    _assert_no_journal(work)
    cof("stash", "-q", "-u")  # the rerun does it
    _assert_stashed_whole(sandbox, changes)
