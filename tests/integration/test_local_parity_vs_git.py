"""Local commands where cof and git disagreed, each run on git too (``gitpair``):
``branch -m`` to a name below or above the old one, ``-m NEW`` (the current branch),
``-M``, ``-c``/``-C``, ``commit -q``.

Differences from git, documented rather than matched:

- Renaming or copying a branch onto itself while it is checked out logs one HEAD
  reflog line where git logs two.
"""

from __future__ import annotations

import re

from tests.integration.gitpair import GitPair
from tests.integration.test_merge_conflicts import apply, commit_both, pair

__all__ = ["pair"]  # a fixture, used by name

_IDS = re.compile(r"\b[0-9a-f]{7,12}\b")


def same_output(pair: GitPair, git_args: list[str], cof_args: list[str] | None = None) -> str:
    """Run a command in both; stdout must match once ids are masked and git's hints
    ("git add") read as cof's. Returns cof's."""
    g, c = pair.both(git_args, cof_args)
    masked_git = _IDS.sub("<id>", g.stdout.replace('"git ', '"cof '))
    masked_cof = _IDS.sub("<id>", c.stdout)
    assert masked_cof == masked_git, f"git:\n{g.stdout}cof:\n{c.stdout}"
    return c.stdout


def test_branch_rename_below_and_above_its_old_name(pair: GitPair) -> None:
    apply(pair, {"a.txt": b"a\n"})
    commit_both(pair, "base")
    pair.both(["branch", "x/y"])
    # Below its own name: the old ref goes first, the reflog moves with the branch.
    same_output(pair, ["branch", "-m", "x/y", "x/y/z"])
    same_output(pair, ["reflog", "show", "x/y/z"], ["reflog", "x/y/z"])
    # And back above it, nothing else being under x/y.
    same_output(pair, ["branch", "-m", "x/y/z", "x/y"])
    same_output(pair, ["reflog", "show", "x/y"], ["reflog", "x/y"])
    pair.sync_refs()
    # Not when another branch is in the way.
    pair.both(["branch", "x/q/r"])
    pair.both(["branch", "-m", "x/q/r", "x/y/w"])  # both refuse: x/y exists
    pair.both(["branch", "-m", "x/y", "x"])  # both refuse: x/q/r exists
    # The current branch: HEAD follows it, and it keeps its log.
    same_output(pair, ["branch", "-m", "main", "main/sub"])
    same_output(pair, ["reflog", "show", "main/sub"], ["reflog", "main/sub"])
    same_output(pair, ["branch"])
    apply(pair, {"a.txt": b"a2\n"})
    commit_both(pair, "on the renamed branch")
    same_output(pair, ["reflog", "show", "main/sub"], ["reflog", "main/sub"])
    same_output(pair, ["status"])


def test_branch_rename_and_copy_of_the_current_branch_and_over_others(pair: GitPair) -> None:
    apply(pair, {"a.txt": b"a\n"})
    commit_both(pair, "base")
    pair.both(["branch", "other"])
    # One name: the current branch is renamed; HEAD's log gets git's two lines (the
    # first, to nothing, is hidden but keeps its number).
    same_output(pair, ["branch", "-m", "trunk"])
    same_output(pair, ["branch"])
    same_output(pair, ["reflog", "show", "HEAD"], ["reflog", "HEAD"])
    same_output(pair, ["reflog", "show", "trunk"], ["reflog", "trunk"])
    g, c = pair.both(["rev-parse", "HEAD@{1}"])
    assert c.stdout.strip() == pair.cof("rev-parse", "HEAD").stdout.strip()
    assert g.returncode == c.returncode == 0
    # Onto an existing branch: refused by -m, done by -M (its log goes aside).
    g, c = pair.both(["branch", "-m", "other"])
    assert g.returncode != 0 and c.returncode != 0 and "already exists" in c.stderr
    same_output(pair, ["branch", "-M", "other"])
    same_output(pair, ["branch"])
    same_output(pair, ["reflog", "show", "other"], ["reflog", "other"])
    # Copies: NEW gets OLD's commit and log plus git's line; HEAD stays.
    same_output(pair, ["branch", "-c", "copy"])
    same_output(pair, ["branch", "-c", "other", "copy2"])
    same_output(pair, ["reflog", "show", "copy2"], ["reflog", "copy2"])
    same_output(pair, ["reflog", "show", "HEAD"], ["reflog", "HEAD"])
    same_output(pair, ["branch", "--show-current"])
    apply(pair, {"a.txt": b"a2\n"})
    commit_both(pair, "moves other only")
    g, c = pair.both(["branch", "-c", "other", "copy"])
    assert g.returncode != 0 and c.returncode != 0 and "already exists" in c.stderr
    same_output(pair, ["branch", "-C", "other", "copy"])
    same_output(pair, ["reflog", "show", "copy"], ["reflog", "copy"])
    same_output(pair, ["branch", "-v"])
    # Never over the checked-out branch, nor from a detached HEAD.
    for args in (["branch", "-M", "copy", "other"], ["branch", "-C", "copy", "other"]):
        g, c = pair.both(args)
        assert g.returncode != 0 and c.returncode != 0 and "checked out" in c.stderr, c.stderr
    pair.both(["checkout", "-q", "--detach"])
    for flag, verb in (("-m", "rename"), ("-c", "copy")):
        g, c = pair.both(["branch", flag, "loose"])
        assert g.returncode != 0 and c.returncode != 0
        assert f"cannot {verb} the current branch while not on any branch" in c.stderr
    same_output(pair, ["branch"])
    same_output(pair, ["reflog", "show", "HEAD"], ["reflog", "HEAD"])
    pair.sync_refs()


def test_branch_rename_of_an_unborn_branch(pair: GitPair) -> None:
    same_output(pair, ["branch", "-m", "main", "trunk"])
    same_output(pair, ["status", "--porcelain", "-b"])
    apply(pair, {"a.txt": b"a\n"})
    commit_both(pair, "first")
    same_output(pair, ["reflog", "show", "trunk"], ["reflog", "trunk"])


def test_commit_quiet_prints_nothing(pair: GitPair) -> None:
    apply(pair, {"a.txt": b"a\n"})
    pair.both(["add", "-A"])
    g, c = pair.both(["commit", "-q", "-m", "first"])
    assert c.stdout == g.stdout == ""
    apply(pair, {"a.txt": b"b\n"})
    g, c = pair.both(["commit", "-q", "-a", "-m", "second"])
    assert c.stdout == g.stdout == ""
    pair.sync_refs()


def test_detached_head_is_named_after_its_checkout_as_git_does(pair: GitPair) -> None:
    apply(pair, {"a.txt": b"a\n"})
    commit_both(pair, "one")
    apply(pair, {"a.txt": b"b\n"})
    commit_both(pair, "two")
    pair.both(["tag", "v1", "HEAD~1"])
    pair.both(["checkout", "-q", "v1"])  # a tag: by its name, "at" it
    same_output(pair, ["status"])
    same_output(pair, ["branch"])
    assert pair.cof("branch").stdout.startswith("* (HEAD detached at v1)\n")
    apply(pair, {"a.txt": b"c\n"})
    commit_both(pair, "on top")  # moved on: "from" it
    same_output(pair, ["status"])
    same_output(pair, ["branch", "-v"])
    assert pair.cof("status").stdout.startswith("HEAD detached from v1\n")
    for rev in ("main~1", "--detach"):  # an expression or HEAD: by the commit's id
        pair.both(["checkout", "-q", "main"])
        pair.both(["checkout", "-q", rev])
        same_output(pair, ["status"])
        same_output(pair, ["branch"])
    # Detached again at the same commit: nothing logged, the name stays (git).
    pair.both(["checkout", "-q", "--detach", "main"])
    same_output(pair, ["status"])
    g, c = pair.both(["reflog", "show", "HEAD"], ["reflog", "HEAD"])
    # (a detached HEAD's "from" is logged by 12 digits, by git by 40)
    assert re.sub(r"\b[0-9a-f]{7,40}\b", "<id>", c.stdout) == re.sub(
        r"\b[0-9a-f]{7,40}\b", "<id>", g.stdout
    )
    pair.both(["checkout", "-q", "main"])
    pair.both(["checkout", "-q", "--detach", "main"])  # a branch: by its full name
    same_output(pair, ["status"])
    assert pair.cof("branch").stdout.startswith("* (HEAD detached at refs/heads/main)\n")
