"""Unusual file names printed as git prints them with ``core.quotePath = true``
(``gitpair``): status in every format, diff's name lists, stat and patch headers,
log --stat. A name that is not UTF-8 is listed (cof does not track it) as git lists
it, by its bytes. (``cof rm`` prints names raw, as git: test_worktree_parity_vs_git.)
"""

from __future__ import annotations

import os

from tests.integration.gitpair import GitPair
from tests.integration.test_local_parity_vs_git import same_output
from tests.integration.test_merge_conflicts import pair

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
