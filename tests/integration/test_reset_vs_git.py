"""``cof reset`` against git's ``reset``: ``--soft``, ``--mixed`` (the default) and
``--hard`` move the branch (or a detached HEAD) and reset the staging area and the
working tree as git does, with git's output, refs and reflog lines; ``reset [REV]
[--] PATHS`` unstages. Refusals are one line ``cof: ...``, changing nothing.

Differences from git, documented rather than matched:

- ids are abbreviated to 12 digits ("HEAD is now at <12 hex> ..."), as every cof
  command prints them.
- ``--hard`` refuses (changing nothing) when an untracked directory holding files
  stands where the commit has a file; git deletes those untracked files.
- ``--mixed`` with paths is taken without git's deprecation warning.
"""

from __future__ import annotations

import json
import re

from tests.integration.gitpair import GitPair
from tests.integration.test_everyday_options_vs_git import (
    assert_fails_one_line,
    same_output,
    same_refs_and_graph,
)
from tests.integration.test_merge_conflicts import apply, commit_both, fork, lines, merge_both, pair

__all__ = ["pair"]  # a fixture, used by name


def three_commits(pair: GitPair) -> None:
    apply(pair, {"a.txt": b"a1\n", "b.txt": b"b1\n", "d/x.txt": b"x1\n"})
    commit_both(pair, "one")
    apply(pair, {"a.txt": b"a2\n", "c.txt": b"c2\n"})
    commit_both(pair, "two")
    apply(pair, {"d/x.txt": b"x3\n", "e/y.txt": b"y3\n"})
    pair.delete("b.txt")
    commit_both(pair, "three")


# Abbreviated and full ids (checkout logs a detached HEAD by 12 digits, git by 40).
_IDS = re.compile(r"\b[0-9a-f]{7,40}\b")


def same_reflogs(pair: GitPair) -> None:
    for ref in ("HEAD", "main"):
        git = _IDS.sub("<id>", pair.git("reflog", "show", ref).stdout)
        cof = _IDS.sub("<id>", pair.cof("reflog", ref).stdout)
        assert cof == git, f"{ref}: git:\n{git}cof:\n{cof}"


def test_reset_modes_move_the_branch_as_git_does(pair: GitPair) -> None:
    three_commits(pair)
    # Local changes of every kind, and an untracked file no reset may touch.
    apply(pair, {"a.txt": b"a-staged\n", "new.txt": b"n\n", "u.txt": b"untracked\n"})
    pair.both(["add", "a.txt", "new.txt"])
    apply(pair, {"a.txt": b"a-local\n", "c.txt": b"c-local\n"})
    pair.delete("d/x.txt")

    same_output(pair, ["reset", "--soft", "HEAD~1"])  # the branch only
    same_refs_and_graph(pair)
    out = same_output(pair, ["reset"])  # "Unstaged changes after reset:" and M/D lines
    assert out.startswith("Unstaged changes after reset:\nM\ta.txt\n"), out
    same_refs_and_graph(pair)
    same_output(pair, ["reset", "-q", "--mixed", "HEAD~1"])
    same_refs_and_graph(pair)
    out = same_output(pair, ["reset", "--hard", "main@{2}"])  # back to "three"
    assert out.startswith("HEAD is now at ") and out.endswith(" three\n"), out
    same_refs_and_graph(pair)
    assert (pair.cof_root / "u.txt").read_bytes() == b"untracked\n"
    same_reflogs(pair)

    # Detached: the same, HEAD's reflog alone; a reset that moves nothing logs
    # nothing detached, and only in HEAD's log on a branch (as git).
    pair.both(["checkout", "-q", "--detach", "HEAD"], ["checkout", "-q", "--detach", "HEAD"])
    same_output(pair, ["reset", "--hard", "HEAD~2"])
    same_output(pair, ["reset", "--soft"])
    same_refs_and_graph(pair)
    same_reflogs(pair)
    pair.both(["checkout", "-q", "main"])
    same_output(pair, ["reset", "--hard"])
    same_refs_and_graph(pair)
    same_reflogs(pair)


def test_reset_paths_unstages_as_git_does(pair: GitPair) -> None:
    # Before the first commit: everything staged is unstaged.
    apply(pair, {"a.txt": b"a\n", "d/x.txt": b"x\n"})
    pair.both(["add", "-A"])
    same_output(pair, ["reset"])
    pair.assert_same_status()
    three_commits(pair)
    apply(pair, {"a.txt": b"a9\n", "c.txt": b"c9\n", "d/x.txt": b"x9\n", "d/z.txt": b"z\n"})
    pair.both(["add", "-A"])
    pair.write("c.txt", b"c-local\n")

    same_output(pair, ["reset", "--", "a.txt"])  # prints every unstaged file, not just a.txt
    pair.assert_same_status()
    same_output(pair, ["reset", "HEAD~2", "d"])  # REV PATHS: d/x.txt as in "one"
    pair.assert_same_status()
    pair.git("add", "-A")
    pair.cof("add", "-A")
    sub_git = pair.git_root / "d"
    sub_cof = pair.cof_root / "d"
    assert pair.git("-C", str(sub_git), "reset", "-q", "--", ".").returncode == 0
    assert pair.sandbox.cof("reset", "-q", "--", ".", cwd=sub_cof).returncode == 0
    pair.assert_same_status()
    same_refs_and_graph(pair)

    # Refused by both, changing nothing.
    before = pair.cof("status", "--porcelain").stdout
    for args, fragments in (
        (["reset", "--soft", "--", "a.txt"], ("soft", "paths")),
        (["reset", "--hard", "HEAD", "a.txt"], ("hard", "paths")),
        (["reset", "nosuch"], ("nosuch", "unknown revision")),
        (["reset", "--hard", "nosuch", "--"], ("nosuch",)),
    ):
        g, c = pair.both(args)
        assert g.returncode != 0
        assert_fails_one_line(c, *fragments)
    assert pair.cof("status", "--porcelain").stdout == before
    same_refs_and_graph(pair)


def test_reset_ends_a_merge_and_soft_is_refused_in_one(pair: GitPair) -> None:
    fork(pair, {"a.txt": lines("base")}, {"a.txt": lines("ours")}, {"a.txt": lines("theirs")})
    merge_both(pair)
    g, c = pair.both(["reset", "--soft"])
    assert g.returncode != 0
    assert_fails_one_line(c, "soft reset", "merge")
    same_output(pair, ["reset", "--hard"])
    same_refs_and_graph(pair)
    assert not pair.merging()
    g, c = pair.both(["merge", "--abort"])  # nothing left to abort
    assert g.returncode != 0


def test_hard_reset_and_forced_checkout_bring_back_a_staged_deletion(pair: GitPair) -> None:
    # `rm` stages the deletion: the path is in HEAD's tree but not in the staging
    # area, and `reset --hard` / `checkout --force` must restore it, as git does.
    three_commits(pair)
    for restore in (["reset", "--hard"], ["checkout", "--force", "main"]):
        pair.both(["rm", "-q", "a.txt", "d/x.txt"])
        pair.both(["rm", "-q", "--cached", "c.txt"])
        pair.assert_same_status()
        pair.both(restore, restore if restore[0] == "reset" else ["checkout", "--force", "main"])
        same_refs_and_graph(pair)
        assert (pair.cof_root / "a.txt").read_bytes() == b"a2\n"
        assert (pair.cof_root / "d" / "x.txt").read_bytes() == b"x3\n"


def test_orig_head_and_merge_head_are_revisions_as_in_git(pair: GitPair) -> None:
    def named(rev: str) -> tuple[str, str]:
        """What ``rev`` names in each repository, as the subject of its commit."""
        g = pair.git("log", "-n", "1", "--format=%s", rev).stdout.strip()
        c = pair.cof("log", "-n", "1", "--json", rev).stdout
        return g, json.loads(c)[0]["message"].strip()

    fork(pair, {"a.txt": lines("base")}, {"a.txt": lines("ours")}, {"a.txt": lines("theirs")})
    # A stopped merge: MERGE_HEAD is the other side, ORIG_HEAD where HEAD was.
    merge_both(pair)
    assert named("MERGE_HEAD") == ("theirs", "theirs")
    assert named("ORIG_HEAD") == ("ours", "ours")
    g, c = pair.both(["rev-parse", "-q", "--verify", "MERGE_HEAD"])
    assert g.returncode == c.returncode == 0
    assert c.stdout.strip() == pair.cof("rev-parse", "side").stdout.strip()
    same_output(pair, ["merge", "--abort"])
    g, c = pair.both(["rev-parse", "-q", "--verify", "MERGE_HEAD"])  # scripts' "merging?"
    assert (g.returncode, c.returncode, c.stdout) == (1, 1, "")

    # A fast-forward records ORIG_HEAD too, so `reset --hard ORIG_HEAD` undoes it.
    pair.both(
        ["checkout", "-q", "-b", "behind", "HEAD~1"], ["checkout", "-q", "-b", "behind", "HEAD~1"]
    )
    same_output(pair, ["merge", "-q", "side"])
    assert named("HEAD") == ("theirs", "theirs")
    same_output(pair, ["reset", "--hard", "ORIG_HEAD"])
    assert named("HEAD") == ("base", "base")
    same_refs_and_graph(pair)
    pair.assert_same_status()
