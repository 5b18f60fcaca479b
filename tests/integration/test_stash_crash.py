"""SIGKILL of cofd in the middle of ``cof stash`` of big files: nothing is lost.

The kill lands while the reset writes HEAD's versions of the changed files (after
they were stored), the longest stretch where a careless order loses data or leaves a
half-reset working tree. Either the stash exists and the working tree is reset, or
the working tree still holds the changes; running ``cof stash`` again then finishes,
``gc --prune=now`` keeps the stash, and ``stash pop --index`` brings back every byte
and the staged change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.integration.crashkit import kill_daemon_when
from tests.integration.treekit import MIB, commit, listing, sha256_file, write, write_random

if TYPE_CHECKING:
    from tests.integration.conftest import CofSandbox

# Big enough that writing HEAD's versions back takes far longer than the test takes
# to notice it started and kill.
BIG_SIZE = 24 * MIB
BIG_FILES = ["big0.bin", "big1.bin", "d/big2.bin"]


def _kill_once_the_reset_writes(sandbox: CofSandbox) -> None:
    """Run ``cof stash`` and SIGKILL the daemon once a file of the reset is being
    written (its temp file exists in ``.cof/tmp``)."""
    pid = sandbox.daemon_pid()
    assert pid is not None
    temps = sandbox.work / ".cof" / "tmp"
    kill_daemon_when(sandbox.work, sandbox.env, pid, ["stash"], lambda: any(temps.iterdir()))


def test_sigkill_during_stash_push_loses_nothing(sandbox: CofSandbox) -> None:
    cof, work = sandbox.cof, sandbox.work
    sandbox.env.update({"COF_AUTHOR_NAME": "Tess Ter", "COF_AUTHOR_EMAIL": "tess@example.com"})
    cof("init")
    write(work, "small.txt", "base\n")
    for name in BIG_FILES:
        (work / name).parent.mkdir(exist_ok=True)
        write_random(work / name, BIG_SIZE)
    commit(cof, "base")
    at_head = listing(work, sha256_file, skip=".cof")
    for name in BIG_FILES:
        write_random(work / name, BIG_SIZE)
    write(work, "small.txt", "changed\n")
    cof("add", "big0.bin")  # a staged change too
    changed = listing(work, sha256_file, skip=".cof")
    status = cof("status", "--porcelain").stdout
    assert status == "M  big0.bin\n M big1.bin\n M d/big2.bin\n M small.txt\n"

    _kill_once_the_reset_writes(sandbox)

    if cof("stash", "list").stdout:
        assert listing(work, sha256_file, skip=".cof") == at_head
        assert cof("status", "--porcelain").stdout == ""
    else:
        assert listing(work, sha256_file, skip=".cof") == changed
        assert cof("status", "--porcelain").stdout == status
        cof("stash", "-q")  # the rerun finishes the job
    assert listing(work, sha256_file, skip=".cof") == at_head
    assert len(cof("stash", "list").stdout.splitlines()) == 1
    assert list((work / ".cof" / "tmp").iterdir()) == []
    cof("gc", "--prune=now")  # the stash is a gc root
    cof("stash", "pop", "-q", "--index")
    assert listing(work, sha256_file, skip=".cof") == changed
    assert cof("status", "--porcelain").stdout == status
