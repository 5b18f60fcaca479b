"""SIGKILL of cofd in the middle of a checkout or merge that writes big files.

Found by exploratory testing: the kill left the temp file of every write in flight
in the working tree (``.name.cof-<pid>.tmp``, as big as the file), where no restart
removed it, ``status`` listed it and ``add -A`` staged it; and running the same
command again was refused, because the files the killed run had already written
stood "in the way" (untracked files, local changes, deleted files).

Each test kills the daemon once at least two of the new files are in place, so the
kill lands while further files are being written, then checks what the next command
sees and that running the command again finishes the job.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.integration.crashkit import kill_daemon_when
from tests.integration.treekit import MIB, commit, listing, sha256_file, write, write_random

if TYPE_CHECKING:
    from tests.integration.conftest import CofSandbox

# Big enough that the files still to write when WRITTEN_BEFORE_KILL of them are in
# place take far longer than the test takes to notice and kill, so the kill lands
# with writes in flight. changed.bin is the biggest: a checkout writes it first.
CHANGED_SIZE = 40 * MIB
NEW_SIZE = 24 * MIB
NEW_FILES = [f"new{i}.bin" for i in range(6)]
# Files of the side branch in place before the daemon is killed.
WRITTEN_BEFORE_KILL = 2


def build_history(sandbox: CofSandbox, three_way: bool) -> dict[str, str]:
    """main: keep.txt, gone.txt, changed.bin; side from it: changed.bin rewritten,
    gone.txt deleted, NEW_FILES added; with ``three_way`` main gets ours.txt too.
    Leaves main checked out; returns the sha256 of every file of the expected
    result (side's tree, plus ours.txt for the merge)."""
    cof, work = sandbox.cof, sandbox.work
    cof("init")
    write(work, "keep.txt", "kept\n")
    write(work, "gone.txt", "deleted by side\n")
    write_random(work / "changed.bin", CHANGED_SIZE)
    commit(cof, "base")
    cof("checkout", "-b", "side")
    (work / "gone.txt").unlink()
    write_random(work / "changed.bin", CHANGED_SIZE)
    for name in NEW_FILES:
        write_random(work / name, NEW_SIZE)
    commit(cof, "side")
    expected = listing(work, sha256_file, skip=".cof")
    cof("checkout", "main")
    if three_way:
        write(work, "ours.txt", "ours\n")
        expected["ours.txt"] = sha256_file(work / "ours.txt")
        commit(cof, "ours")
    return expected


def kill_once_files_land(sandbox: CofSandbox, *args: str) -> None:
    """Run ``cof ARGS`` and SIGKILL the daemon once WRITTEN_BEFORE_KILL of the new
    files are in place (renamed there whole); the client must fail in one line."""
    pid = sandbox.daemon_pid()
    assert pid is not None

    def landed() -> bool:
        return sum((sandbox.work / name).exists() for name in NEW_FILES) >= WRITTEN_BEFORE_KILL

    kill_daemon_when(sandbox.work, sandbox.env, pid, list(args), landed)


def assert_no_temp_files(work: Path, names: set[str]) -> None:
    """Only the repository's own files in the working tree (``ls -a`` of every
    directory), and nothing left in ``.cof/tmp``."""
    found = set(listing(work, lambda path: "", skip=".cof"))
    assert found <= names, f"left in the working tree: {sorted(found - names)}"
    assert os.listdir(work / ".cof" / "tmp") == []


@pytest.mark.parametrize("command", ["checkout", "merge"])
def test_sigkill_mid_write_leaves_no_temp_files_and_the_rerun_finishes(
    sandbox: CofSandbox, command: str
) -> None:
    cof, work = sandbox.cof, sandbox.work
    sandbox.env.update({"COF_AUTHOR_NAME": "Tess Ter", "COF_AUTHOR_EMAIL": "tess@example.com"})
    expected = build_history(sandbox, three_way=command == "merge")
    names = {"keep.txt", "gone.txt", "changed.bin", "ours.txt", *NEW_FILES}
    before = json.loads(cof("branch", "--json").stdout)
    tips = {b["name"]: b["commit"] for b in before["branches"]}

    kill_once_files_land(sandbox, command, "side")

    # The next command starts a new daemon, which removes the temp files; neither it
    # nor add -A may ever see one.
    shown = cof("status", "--porcelain").stdout
    assert all(line[3:] in names for line in shown.splitlines()), shown
    assert_no_temp_files(work, names)

    # Running the command again finishes it, whatever the kill left half-done.
    again = cof(command, "side", check=False)
    assert again.returncode == 0, again.stderr
    assert listing(work, sha256_file, skip=".cof") == expected
    assert cof("status", "--porcelain").stdout == ""
    cof("add", "-A")
    assert cof("status", "--porcelain").stdout == ""
    newest = json.loads(cof("log", "-n", "1", "--json").stdout)[0]
    if command == "merge":
        assert newest["parents"] == [tips["main"], tips["side"]]
    else:
        assert newest["id"] == tips["side"]
    assert_no_temp_files(work, names)


def test_status_and_add_never_list_a_temp_file_left_beside_a_file(sandbox: CofSandbox) -> None:
    """Temp files the next open cannot remove: an older cof's (``.<name>.cof-<pid>.tmp``
    beside every file it wrote) or one written beside its file (another file system
    in the working tree) whose note is gone. Neither is ever the user's work."""
    cof, work = sandbox.cof, sandbox.work
    sandbox.env.update({"COF_AUTHOR_NAME": "Tess Ter", "COF_AUTHOR_EMAIL": "tess@example.com"})
    cof("init")
    write(work, "big.bin", b"big")
    write(work, "d/f.txt", "f\n")
    commit(cof, "base")
    write(work, ".big.bin.cof-4242.tmp", b"half of big")
    write(work, "d/.cof-4242-7.tmp", "half of f\n")
    write(work, "d/new.txt", "new\n")
    assert cof("status", "--porcelain").stdout == "?? d/new.txt\n"
    cof("add", "-A")
    assert cof("status", "--porcelain").stdout == "A  d/new.txt\n"
