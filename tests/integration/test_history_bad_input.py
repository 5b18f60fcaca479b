"""Bad input to the history commands (issue 3) through the real CLI and daemon: each
refusal is one line ``cof: ...`` on stderr with a non-zero exit, and leaves every file
of the work tree and of ``.cof/`` exactly as it was."""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.integration.treekit import commit, listing, write

if TYPE_CHECKING:
    from conftest import CofRunner, CofSandbox

AUTHOR = {"COF_AUTHOR_NAME": "Bad In", "COF_AUTHOR_EMAIL": "bad@example.com"}


def _file_state(path: Path) -> str | None:
    """Content hash and mode; None for SQLite's ``-shm`` file (it changes on reads and
    holds no data)."""
    if path.name.endswith("-shm"):
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest() + " " + oct(path.stat().st_mode & 0o777)


def snapshot(root: Path) -> dict[str, str]:
    """Every file, symlink and directory under ``root`` (``.cof/`` included): content
    hash and mode, link target, or ``dir``."""
    return listing(root, _file_state)


@contextlib.contextmanager
def unchanged(root: Path) -> Iterator[None]:
    before = snapshot(root)
    yield
    after = snapshot(root)
    changed = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    assert not changed, f"changed on disk: {changed}"


def assert_fails(
    result: subprocess.CompletedProcess[str], *fragments: str, code: int | None = None
) -> None:
    """Non-zero exit, exactly one line ``cof: ...`` on stderr, no traceback."""
    assert result.returncode != 0, result
    if code is not None:
        assert result.returncode == code, (result.returncode, result.stderr)
    assert result.stderr.startswith("cof: "), result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.endswith("\n"), result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)


@pytest.fixture
def repo(sandbox: CofSandbox, cof: CofRunner) -> Path:
    """main: base -> main-change (edits a.txt); side: base -> side-change (edits
    b.txt, creates new.txt). HEAD on main, clean: ``merge side`` is a three-way
    merge without conflicts."""
    sandbox.env.update(AUTHOR)
    cof("init")
    write(sandbox.work, "a.txt", "a\n")
    write(sandbox.work, "b.txt", "b\n")
    write(sandbox.work, "c.txt", "c\n")
    commit(cof, "base")
    cof("checkout", "-b", "side")
    write(sandbox.work, "b.txt", "b from side\n")
    write(sandbox.work, "new.txt", "new from side\n")
    commit(cof, "side change")
    cof("checkout", "main")
    write(sandbox.work, "a.txt", "a from main\n")
    commit(cof, "main change")
    cof("status")  # the daemon has the repository open before any snapshot
    return sandbox.work


def test_checkout_of_an_unknown_revision(repo: Path, cof: CofRunner) -> None:
    with unchanged(repo):
        # As git: a lone argument naming no revision is a pathspec that matched nothing;
        # followed by ``--`` it can only be a revision.
        for name in ("no-such-branch", "0" * 12, "main~9", "main@{9}"):
            assert_fails(cof("checkout", name, check=False), name, code=5)
            assert_fails(cof("checkout", name, "--", check=False), name, code=4)
        assert_fails(cof("checkout", "-b", "fresh", "nowhere", check=False), "nowhere", code=4)
        assert_fails(cof("branch", "fresh", "nowhere", check=False), "nowhere", code=4)
        assert_fails(cof("merge", "nowhere", check=False), "nowhere", code=4)
        assert_fails(cof("tag", "v1", "nowhere", check=False), "nowhere", code=4)
    assert "fresh" not in cof("branch").stdout


# Accepted and rejected by ``git check-ref-format --branch`` (the test asks git).
BRANCH_NAMES = [
    "a..b",
    "..",
    "-lead",
    "--",
    "x.lock",
    "dir/x.lock",
    "x.lock/y",
    "ctl\x01char",
    "tab\there",
    "new\nline",
    "del\x7f",
    "sp ace",
    "til~de",
    "car^et",
    "co:lon",
    "qu?estion",
    "st*ar",
    "br[acket",
    "back\\slash",
    "at@{brace",
    "@",
    "HEAD",
    ".hidden",
    "dir/.hidden",
    "trailing/",
    "/leading",
    "dou//ble",
    "dot.",
    # accepted by git
    "ok",
    "feature/x-1",
    "a.b",
    "a@b",
    "{braces}",
    "ünïcode",
    "x.lockfile",
    "UPPER_case-9",
]


# Deliberately stricter than git 2.39, which accepts a branch named "@": in cof's
# revision syntax (as in git's) "@" means HEAD, so such a branch could not be named.
STRICTER_THAN_GIT = {"@"}


def git_accepts_branch(name: str, cwd: Path) -> bool:
    result = subprocess.run(
        ["git", "check-ref-format", "--branch", name],
        cwd=cwd,
        capture_output=True,
        check=False,
        env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull},
    )
    return result.returncode == 0


def test_branch_names_agree_with_git(repo: Path, cof: CofRunner, sandbox: CofSandbox) -> None:
    decisions = {
        name: git_accepts_branch(name, sandbox.base) and name not in STRICTER_THAN_GIT
        for name in BRANCH_NAMES
    }
    assert not all(decisions.values()) and any(decisions.values())  # git was asked
    rejected = [name for name, ok in decisions.items() if not ok]
    with unchanged(repo):
        for name in rejected:
            # After "--" so that a leading '-' is a name rather than an option.
            assert_fails(cof("branch", "--", name, check=False), "not a valid branch name")
        for name in rejected[::4]:  # the same check guards -b and -m; a sample suffices
            assert_fails(cof("checkout", "-b" + name, check=False), "not a valid branch name")
            assert_fails(
                cof("branch", "-m", "--", "side", name, check=False), "not a valid branch name"
            )
    for name, ok in decisions.items():
        if ok:
            cof("branch", "--", name)
    listed = {line[2:] for line in cof("branch").stdout.splitlines()}
    assert listed == {"main", "side"} | {n for n, ok in decisions.items() if ok}


def test_deleting_the_current_branch(repo: Path, cof: CofRunner) -> None:
    with unchanged(repo):
        assert_fails(cof("branch", "-d", "main", check=False), "main", "checked out")
        assert_fails(cof("branch", "-D", "main", check=False), "main", "checked out")
        assert_fails(cof("branch", "-d", "no-such", check=False), "no-such")
    cof("checkout", "side")
    with unchanged(repo):
        assert_fails(cof("branch", "-D", "side", check=False), "side", "checked out")


def test_merge_refuses_staged_changes(repo: Path, cof: CofRunner) -> None:
    write(repo, "c.txt", "c staged\n")  # a path the merge does not even touch
    cof("add", "c.txt")
    with unchanged(repo):
        assert_fails(cof("merge", "side", check=False), "c.txt", "staged")
    assert cof("status", "--porcelain").stdout == "M  c.txt\n"


def test_merge_refuses_unstaged_change_to_a_file_it_modifies(repo: Path, cof: CofRunner) -> None:
    write(repo, "b.txt", "b edited locally\n")
    with unchanged(repo):
        assert_fails(cof("merge", "side", check=False), "b.txt")
    assert (repo / "b.txt").read_text() == "b edited locally\n"


def test_merge_refuses_untracked_file_where_it_creates_one(repo: Path, cof: CofRunner) -> None:
    write(repo, "new.txt", "precious untracked\n")
    with unchanged(repo):
        assert_fails(cof("merge", "side", check=False), "new.txt", "untracked")
    # The same through a fast-forward.
    cof("checkout", "-b", "behind", "main~1")
    write(repo, "new.txt", "precious untracked\n")
    with unchanged(repo):
        assert_fails(cof("merge", "side", check=False), "new.txt", "untracked")


def test_merge_keeps_unrelated_unstaged_changes(repo: Path, cof: CofRunner) -> None:
    """The control for the refusals above: a change the merge does not touch is fine."""
    write(repo, "c.txt", "c edited, not staged\n")
    cof("merge", "side", "-m", "merge side")
    assert (repo / "c.txt").read_text() == "c edited, not staged\n"
    assert (repo / "new.txt").read_text() == "new from side\n"
    assert cof("status", "--porcelain").stdout == " M c.txt\n"


def test_merge_of_an_unrelated_history(repo: Path, cof: CofRunner) -> None:
    # cof has no ``checkout --orphan``: point HEAD at an unborn branch, empty the
    # staging area and the tree, and commit a new root.
    (repo / ".cof" / "HEAD").write_text("ref: refs/heads/island\n")
    cof("rm", "-r", "-f", ".")
    write(repo, "island.txt", "somewhere else\n")
    commit(cof, "island root")
    cof("checkout", "main")
    with unchanged(repo):
        assert_fails(cof("merge", "island", check=False), "unrelated histories")
    cof("merge", "island", "--allow-unrelated-histories", "-m", "join island")
    assert (repo / "island.txt").read_text() == "somewhere else\n"
    assert (repo / "a.txt").read_text() == "a from main\n"
    log = cof("log", "--oneline").stdout
    assert "join island" in log and "island root" in log and "main change" in log
    assert cof("status", "--porcelain").stdout == ""


def test_merge_continue_with_unresolved_conflicts(repo: Path, cof: CofRunner) -> None:
    write(repo, "b.txt", "b from main\n")
    commit(cof, "conflicting change")
    stopped = cof("merge", "side", check=False)
    assert stopped.returncode == 1 and "b.txt" in stopped.stdout
    with unchanged(repo):
        assert_fails(cof("merge", "--continue", check=False), "b.txt", "unresolved")
        assert_fails(cof("commit", "-m", "too early", check=False))
        assert_fails(cof("merge", "side", check=False), "merge")
        assert_fails(cof("checkout", "side", check=False), "b.txt")
    cof("merge", "--abort")
    assert (repo / "b.txt").read_text() == "b from main\n"
    assert cof("status", "--porcelain").stdout == ""


def test_merge_abort_without_a_merge(repo: Path, cof: CofRunner) -> None:
    with unchanged(repo):
        assert_fails(cof("merge", "--abort", check=False), "no merge")
        assert_fails(cof("merge", "--continue", check=False), "no merge")


def test_annotated_tag_without_a_message(repo: Path, cof: CofRunner) -> None:
    with unchanged(repo):
        assert_fails(cof("tag", "-a", "v1", check=False), "message")
        assert_fails(cof("tag", "-a", "v1", "-m", "   ", check=False), "message")
        assert_fails(cof("tag", "-d", "v1", check=False), "v1")
        assert_fails(cof("tag", "bad..name", check=False), "not a valid tag name")
    cof("tag", "v1")
    with unchanged(repo):
        assert_fails(cof("tag", "v1", check=False), "already exists")
    assert cof("tag").stdout == "v1\n"
