"""``switch``/``checkout`` edges run on git too: HEAD's reflog on an unborn branch,
a checkout target that names no revision (paths, unless it came before ``--``; a
name that is not UTF-8 included), and a name that is both a file and a branch only
``origin`` has (checkout refuses to guess, switch guesses).

cof's refusals are one line ``cof: ...`` in git's words (git: ``fatal:``/``error:``,
the name's raw bytes, and its ambiguity message on two lines).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import CofSandbox
from tests.integration.gitpair import GitPair
from tests.integration.test_everyday_options_vs_git import assert_fails_one_line
from tests.integration.test_local_parity_quoting_vs_git import NOT_UTF8, raw_both
from tests.integration.test_merge_conflicts import apply, commit_both, pair
from tests.integration.test_switch_vs_git import _mask, same_state, same_words
from tests.integration.test_sync import Peer, _git_run
from tests.integration.test_upstream import Twins

__all__ = ["pair"]  # fixture, used by name

_SHOWN = b"bad\\377name"  # NOT_UTF8 as cof's one-line messages write it


def _same_reflog(pair: GitPair) -> None:
    git_log = pair.git("reflog", "--format=%gs").stdout.splitlines()
    cof_log = [line.split(": ", 1)[1] for line in pair.cof("reflog").stdout.splitlines()]
    assert [_mask(x) for x in cof_log] == [_mask(x) for x in git_log], (git_log, cof_log)


def test_unborn_reflog_and_targets_that_name_no_revision_as_git_does(pair: GitPair) -> None:
    apply(pair, {"a.txt": b"a\n"})
    commit_both(pair, "base")
    bad = os.fsdecode(NOT_UTF8)
    for root in (pair.git_root, pair.cof_root):
        (root / bad).write_bytes(b"untracked\n")
    for args, words in (
        # Without --, a name that is no revision is a path (git's error words), the
        # same for a name that is not UTF-8 (cof tracks none); before --, a revision.
        (["checkout", bad], b"pathspec '" + _SHOWN + b"' did not match any file(s) known to"),
        (["checkout", "nope"], b"pathspec 'nope' did not match any file(s) known to"),
        (["checkout", "nope", "--"], b"invalid reference: nope"),
        (["checkout", bad, "--"], b"invalid reference: " + _SHOWN),
        (["switch", bad], b"invalid reference: " + _SHOWN),
        (
            ["checkout", "-b", "x", bad],
            b"'" + _SHOWN + b"' is not a commit and a branch 'x' cannot be created from it",
        ),
    ):
        git_raw, cof_raw = raw_both(pair, args)  # both refuse
        refusal = cof_raw.stderr
        assert refusal.startswith(b"cof: " + words) and refusal.count(b"\n") == 1, refusal
        assert words in git_raw.stderr.replace(NOT_UTF8, _SHOWN), (args, git_raw.stderr)
    _, cof_raw = raw_both(pair, ["checkout", "--track", "origin/" + bad])  # the new branch's
    assert cof_raw.stderr == b"cof: '" + _SHOWN + b"' is not a valid branch name: not valid UTF-8\n"
    same_words(pair, ["checkout", "main", "--"])  # a revision before --: "Already on"
    g, c = pair.both(["checkout", "--ours"])  # no path
    assert "'--ours/--theirs' cannot be used with switching branches" in g.stderr
    assert "cof: '--ours/--theirs' cannot be used with switching branches" in c.stderr
    for root in (pair.git_root, pair.cof_root):
        (root / bad).unlink()
    # On an unborn branch HEAD names no commit: log and reflog refuse, as git.
    same_words(pair, ["switch", "--orphan", "fresh"])
    for args in (["reflog"], ["reflog", "show", "-n", "1"], ["log"]):
        g, c = pair.both(args)
        assert_fails_one_line(c, "your current branch 'fresh' does not have any commits yet")
        assert "your current branch 'fresh' does not have any commits yet" in g.stderr
    g, c = pair.both(["reflog", "HEAD"])  # named: an unknown revision
    assert_fails_one_line(c, "unknown revision 'HEAD'")
    assert "unknown revision" in g.stderr
    same_words(pair, ["checkout", "--orphan", "kept", "main"])
    _, c = pair.both(["reflog"])
    assert_fails_one_line(c, "your current branch 'kept' does not have any commits yet")
    commit_both(pair, "root")
    same_state(pair)
    _same_reflog(pair)  # the entries before the orphan branch are listed again


@pytest.fixture
def peers(sandbox_factory: Callable[[], CofSandbox]) -> tuple[Peer, Peer]:
    """Two daemons: origin's (Alice) and the clone's (Bob)."""
    return Peer(sandbox_factory(), "Alice"), Peer(sandbox_factory(), "Bob")


def _both(twins: Twins, *args: str) -> tuple[subprocess.CompletedProcess[str], ...]:
    """Run ARGS in both copies: same outcome; on success the same output (ids masked)."""
    ours = twins.bob.cof(*args, cwd=twins.cof_copy, check=False)
    theirs = _git_run(*args, cwd=twins.git_copy, check=False)
    assert (ours.returncode == 0) == (theirs.returncode == 0), (args, ours, theirs)
    if theirs.returncode == 0:
        assert _mask(ours.stdout) == _mask(theirs.stdout), (args, ours.stdout, theirs.stdout)
        assert _mask(ours.stderr) == _mask(theirs.stderr), (args, ours.stderr, theirs.stderr)
    return ours, theirs


def test_a_file_named_as_a_remote_branch_as_git_does(
    peers: tuple[Peer, Peer], tmp_path: Path
) -> None:
    """``checkout feature`` with a file ``feature`` and only ``origin/feature``:
    either could be meant, so git refuses; ``--`` says which; ``switch`` guesses."""
    twins = Twins(*peers, tmp_path)
    for copy in (twins.cof_copy, twins.git_copy):
        (copy / "feature").write_bytes(b"a file\n")
    ours, theirs = _both(twins, "checkout", "feature")
    ambiguous = (
        "'feature' could be both a local file and a tracking branch.\n"
        "Please use -- (and optionally --no-guess) to disambiguate\n"
    )
    assert theirs.stderr == "fatal: " + ambiguous
    assert ours.stderr == "cof: " + ambiguous.replace(".\n", ". ", 1)
    _, theirs = _both(twins, "checkout", "--no-guess", "feature")  # a path: untracked
    assert "pathspec 'feature' did not match" in theirs.stderr
    _, theirs = _both(twins, "checkout", "--no-guess", "feature", "--")
    assert "invalid reference: feature" in theirs.stderr
    _both(twins, "checkout", "feature", "--")  # the branch: made to track origin/feature
    _both(twins, "checkout", "-q", "main")
    _both(twins, "branch", "-D", "feature")
    _both(twins, "switch", "feature")  # switch takes no paths: it guesses
    twins.assert_same("branch", "-vv")
