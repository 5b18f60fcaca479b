"""Unusual file names printed as git prints them with ``core.quotePath = true``
(``gitpair``): status in every format, diff's name lists, stat and patch headers,
log --stat. A name that is not UTF-8 is listed (cof does not track it) as git lists
it, by its bytes. (``cof rm`` prints names raw, as git: test_worktree_parity_vs_git.)

Such a name is a path argument as git has it too (the same bytes on disk): status,
ls-files, clean and diff select by it as git does, and rm, restore and mv refuse it
as git refuses a name nothing tracks, naming it in the one line of their error with
the bytes that are not UTF-8 in octal (git: raw). ``add`` and a ``mv`` onto such a
name are refused: cof does not track it (docs/design.md).
"""

from __future__ import annotations

import os
import subprocess

from tests.integration.gitpair import GitPair
from tests.integration.test_local_parity_vs_git import same_output
from tests.integration.test_merge_conflicts import apply, commit_both, pair

__all__ = ["pair"]  # a fixture, used by name

NAMES = ["new\nline", "t\tab", 'q"uote', "back\\slash", "é", "a b", "d é/f", "plain"]
NOT_UTF8 = b"bad\xffname"


def write_all(pair: GitPair, data: bytes) -> None:
    for name in NAMES:
        pair.write(name, data)


def test_unusual_names_are_quoted_as_git_quotes_them(pair: GitPair) -> None:
    write_all(pair, b"one\n")
    for root in (pair.git_root, pair.cof_root):
        (root / os.fsdecode(NOT_UTF8)).write_bytes(b"x\n")
    for args in (["status"], ["status", "-s"], ["status", "--porcelain"], ["status", "-uall"]):
        same_output(pair, args)
    pair.both(["add", "--", *NAMES])
    same_output(pair, ["status"])
    same_output(pair, ["status", "-s"])
    commit_both_named(pair, "names")
    write_all(pair, b"one\ntwo\n")
    same_output(pair, ["status"])
    same_output(pair, ["status", "--porcelain"])
    same_output(pair, ["diff", "--name-only"])
    same_output(pair, ["diff", "--name-status"])
    same_output(pair, ["diff", "--stat"])
    g, c = pair.both(["diff"])
    assert headers(c.stdout) == headers(g.stdout), c.stdout
    pair.both(["add", "--", *NAMES])
    commit_both_named(pair, "more")
    g, c = pair.both(["log", "--stat", "-n", "1"])
    assert stat_part(c.stdout) == stat_part(g.stdout), c.stdout


def commit_both_named(pair: GitPair, message: str) -> None:
    """Commit what is staged (``add -A`` would refuse the name that is not UTF-8)."""
    pair.both(["commit", "-q", "-m", message])
    pair.sync_refs()


def headers(patch: str) -> list[str]:
    return [line for line in patch.splitlines() if line.startswith(("diff --git", "--- ", "+++ "))]


def stat_part(log: str) -> list[str]:
    return [line for line in log.splitlines() if " | " in line or " changed, " in line]


def raw_both(
    pair: GitPair, args: list[str]
) -> tuple[subprocess.CompletedProcess[bytes], subprocess.CompletedProcess[bytes]]:
    """Run in both with output as bytes (git names paths raw in some output and in
    every error); they must agree on success versus failure."""
    git, cof = pair.both_bytes(args)
    assert (git.returncode == 0) == (cof.returncode == 0), (args, git.stderr, cof.stderr)
    return git, cof


def test_a_name_that_is_not_utf8_is_a_path_argument(pair: GitPair) -> None:
    apply(pair, {"a.txt": b"a\n", "d/t.txt": b"t\n"})
    commit_both(pair, "base")
    bad, bad_dir = os.fsdecode(NOT_UTF8), os.fsdecode(b"dir\xfe")
    for root in (pair.git_root, pair.cof_root):
        (root / bad).write_bytes(b"x\n")
        (root / bad_dir).mkdir()
        (root / bad_dir / "f").write_bytes(b"f\n")
    for args in (
        ["status", "-s", bad],
        ["status", "--porcelain", "-uall", bad_dir],
        ["ls-files", "-o", bad],
        ["ls-files", "-o", bad_dir],
        ["diff", "--", bad],
        ["log", "--oneline", "--", bad],
        ["reset", "-q", "--", bad],
        ["clean", "-n"],
        ["clean", "-nd"],
        ["clean", "-n", bad, bad_dir],
    ):
        out = same_output(pair, args)
        assert (
            args[0] in ("diff", "log", "reset") or '"bad\\377name"' in out or '"dir\\376' in out
        ), out
    for args, words in (
        (["rm", bad], "pathspec 'bad\\377name' did not match any tracked files"),
        (["restore", bad], "pathspec 'bad\\377name' did not match any file(s) known to cof"),
        (["checkout", "--", bad], "pathspec 'bad\\377name' did not match any file(s) known to cof"),
        (["mv", bad, "b"], "not under version control, source=bad\\377name, destination=b"),
    ):
        _, c = raw_both(pair, args)  # both refuse
        assert c.returncode != 0 and c.stderr == f"cof: {words}\n".encode(), c.stderr
    stash = pair.cof("stash", "push", "--", bad, check=False)  # git: exit 1, a pathspec error
    assert stash.returncode != 0 and "bad\\377name" in stash.stderr, stash.stderr
    g, c = raw_both(pair, ["mv", "-n", "-k", bad, "a.txt", "d"])
    assert c.stdout == g.stdout, c.stdout
    assert b"Checking rename of 'bad\xffname' to 'd/bad\xffname'\n" in c.stdout, c.stdout
    for args, name in (
        (["add", bad], "bad\\377name"),
        (["mv", "a.txt", bad_dir + "x"], "dir\\376x"),
    ):
        c = pair.cof(*args, check=False)
        assert c.stderr == f'cof: cannot track "{name}": it is not valid UTF-8\n', c.stderr
    same_output(pair, ["clean", "-f", bad])
    same_output(pair, ["clean", "-fd", bad_dir])
    pair.assert_same_tree()
    pair.assert_same_status()
