"""`cof diff` patches for text files, side by side with `git diff`: the same
`diff --git` header, mode lines and hunks (git's `index` line aside: cof has no git
blob ids). Before, a change of the executable bit alone printed nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.conftest import CofSandbox
from tests.integration.gitpair import GitPair


@pytest.fixture
def pair(sandbox: CofSandbox) -> Iterator[GitPair]:
    yield GitPair(sandbox, "d")


def _without_index_lines(patch: str) -> str:
    return "".join(line for line in patch.splitlines(True) if not line.startswith("index "))


def _assert_same_diff(pair: GitPair, *args: str) -> None:
    git = pair.git("diff", *args).stdout
    cof = pair.cof("diff", *args).stdout
    assert cof == _without_index_lines(git)


def test_mode_changes_new_and_deleted_files_read_as_git_prints_them(pair: GitPair) -> None:
    pair.write("run.sh", b"echo hi\n")
    pair.write("notes.txt", b"one\ntwo\n")
    pair.write("old.txt", b"gone soon\n")
    pair.both(["add", "-A"])
    pair.both(["commit", "-m", "first"])

    pair.chmod("run.sh", True)  # the executable bit alone
    _assert_same_diff(pair)
    assert "old mode 100644\nnew mode 100755\n" in pair.cof("diff").stdout

    pair.write("notes.txt", b"one\n2\n")  # content, and a file with both
    pair.chmod("notes.txt", True)
    pair.delete("old.txt")
    _assert_same_diff(pair)

    pair.write("new.txt", b"fresh\n")
    pair.both(["add", "-A"])
    _assert_same_diff(pair, "--cached")
    pair.both(["commit", "-m", "second"])
    _assert_same_diff(pair, "HEAD~1", "HEAD")
