"""``stash drop`` of an entry that is not the newest rewrites the list as git does
(``reflog delete --rewrite``): the line above the dropped one takes, as its old side,
the new side of the line below it, so no reflog line names the dropped stash. gc
keeps what any reflog line names (old side and new), so before, a dropped middle
stash's blocks stayed until the reflog expired (90 days).
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

from tests.integration.gitpair import GitPair
from tests.integration.test_local_parity_stats import stats
from tests.integration.test_merge_conflicts import commit_both, pair
from tests.integration.treekit import commit, write

if TYPE_CHECKING:
    from pathlib import Path

    from tests.integration.conftest import CofRunner, CofSandbox

__all__ = ["pair"]  # a fixture, used by name

KIB = 1024
Line = tuple[str, ...]  # (old, new)


def _shape(log: Path, labels: dict[str, str]) -> list[Line]:
    """The (old, new) ids of each line of a raw reflog file, oldest first, named by
    ``labels`` (``-``: none, git's 40 zeros or cof's 64)."""
    return [
        tuple(labels.get(i, "-" if set(i) == {"0"} else f"?{i}") for i in line.split(" ")[:2])
        for line in log.read_text().splitlines()
    ]


def test_drop_rewrites_the_reflog_as_git(pair: GitPair) -> None:
    pair.write("a.txt", b"base\n")
    commit_both(pair, "base")
    git_labels: dict[str, str] = {}
    cof_labels: dict[str, str] = {}
    for n in range(1, 5):
        pair.write("a.txt", f"{n}\n".encode())
        pair.both(["stash", "-q", "-m", f"s{n}"])
        git_labels[(pair.git_root / ".git/refs/stash").read_text().strip()] = f"s{n}"
        cof_labels[(pair.cof_root / ".cof/refs/stash").read_text().strip()] = f"s{n}"
    git_log = pair.git_root / ".git" / "logs" / "refs" / "stash"
    cof_log = pair.cof_root / ".cof" / "logs" / "refs" / "stash"
    pushed = [("-", "s1"), ("s1", "s2"), ("s2", "s3"), ("s3", "s4")]
    assert _shape(cof_log, cof_labels) == _shape(git_log, git_labels) == pushed
    # A middle one, the oldest, the newest: git's lines after each.
    expected: dict[str, list[Line]] = {
        "stash@{1}": [("-", "s1"), ("s1", "s2"), ("s2", "s4")],
        "stash@{2}": [("-", "s2"), ("s2", "s4")],
        "stash@{0}": [("-", "s2")],
    }
    for entry, lines in expected.items():
        pair.both(["stash", "drop", "-q", entry])
        assert _shape(git_log, git_labels) == lines
        assert _shape(cof_log, cof_labels) == lines, entry
        assert pair.cof("stash", "list").stdout == pair.git("stash", "list").stdout
    assert (pair.cof_root / ".cof/refs/stash").read_text() == next(
        i for i, label in cof_labels.items() if label == "s2"
    ) + "\n"


def test_gc_after_dropping_a_middle_stash_deletes_its_blocks(
    sandbox: CofSandbox, cof: CofRunner
) -> None:
    sandbox.env.update({"COF_AUTHOR_NAME": "T", "COF_AUTHOR_EMAIL": "t@e"})
    work = sandbox.work
    cof("init")
    write(work, "big.bin", b"base\n")
    commit(cof, "base")
    data: dict[str, bytes] = {}
    for name in ("oldest", "middle", "newest"):
        data[name] = os.urandom(256 * KIB)  # blocks of this stash alone
        (work / "big.bin").write_bytes(data[name])
        cof("stash", "-q", "-m", name)
    before = stats(cof)
    assert before["outside_history"]["unreferenced"]["raw_bytes"] == 0

    dropped = cof("stash", "drop", "stash@{1}").stdout  # the middle one
    dropped_id = dropped.strip().rsplit("(", 1)[1].rstrip(")")
    assert cof("show", "--stat", dropped_id).returncode == 0  # not gone before gc
    assert [line.split(": ")[-1] for line in cof("stash", "list").stdout.splitlines()] == [
        "newest",
        "oldest",
    ]
    after = stats(cof)
    unreferenced = after["outside_history"]["unreferenced"]
    # Nothing names the dropped stash any more: its blocks are garbage now.
    assert unreferenced["raw_bytes"] >= 256 * KIB, after
    assert after["outside_history"]["reflogs"]["raw_bytes"] < 2 * 256 * KIB, after

    gc = json.loads(cof("gc", "--prune=now", "--json").stdout)
    assert gc["deleted_blocks"] >= unreferenced["blocks"], gc
    swept = stats(cof)
    assert swept["outside_history"]["unreferenced"]["blocks"] == 0
    assert swept["blocks"] <= after["blocks"] - unreferenced["blocks"]
    assert swept["stored_bytes"] < after["stored_bytes"] - 200 * KIB, (swept, after)
    gone = cof("show", "--stat", dropped_id, check=False)
    assert gone.returncode != 0 and gone.stderr.startswith("cof: "), gone

    # The other two keep every byte.
    cof("stash", "pop", "-q")
    assert (work / "big.bin").read_bytes() == data["newest"]
    cof("checkout", "--", "big.bin")
    cof("stash", "pop", "-q")
    assert (work / "big.bin").read_bytes() == data["oldest"]
    fsck = cof("fsck", "--full")
    assert fsck.returncode == 0, fsck.stdout
