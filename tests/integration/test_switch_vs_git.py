"""``cof switch`` run on git too: the same steps in both, compared for success versus
failure, git's messages (stderr, ids masked), the refs, the commit graph, the files,
``status --porcelain`` and HEAD's reflog.

Differences from git, documented rather than matched:

- A detached HEAD is named in the reflog by 12 hex digits (git: 40).
- Refusals are one line ``cof: ...`` (git: ``fatal: ...`` plus a ``hint:`` line);
  the words are git's.
- Leaving a detached HEAD whose commits no branch reaches prints no "Warning: you
  are leaving N commits behind" (cof has no such check yet).
- ``switch --orphan``, ``--track``/``--no-track``, ``-m`` (merge local changes) and
  ``--guess``/``--no-guess`` are not implemented.
"""

from __future__ import annotations

import re

from tests.integration.gitpair import GitPair
from tests.integration.test_everyday_options_vs_git import assert_fails_one_line
from tests.integration.test_merge_conflicts import apply, commit_both, pair

__all__ = ["pair"]  # fixture, used by name

# Abbreviated and full ids of both tools (a detached HEAD is logged by 12 digits in
# cof's reflog, by 40 in git's).
_IDS = re.compile(r"\b[0-9a-f]{7,64}\b")


def _mask(text: str) -> str:
    return _IDS.sub("<id>", text)


def _history(pair: GitPair) -> None:
    """main: base, two; side: base, on side; a tag t1 at base; on main."""
    apply(pair, {"a.txt": b"a\n"})
    commit_both(pair, "base")
    pair.both(["tag", "t1"])
    pair.both(["switch", "-q", "-c", "side"])
    apply(pair, {"b.txt": b"b\n"})
    commit_both(pair, "on side")
    pair.both(["switch", "-q", "main"])
    apply(pair, {"a.txt": b"two\n"})
    commit_both(pair, "two")


def same_messages(pair: GitPair, args: list[str]) -> None:
    """Run ``switch ARGS`` in both: same outcome, same stderr and stdout (ids
    masked), then the same refs, graph, files, status and newest reflog line."""
    g, c = pair.both(["switch", *args])
    assert _mask(c.stderr) == _mask(g.stderr), f"git:\n{g.stderr}cof:\n{c.stderr}"
    assert _mask(c.stdout) == _mask(g.stdout), f"git:\n{g.stdout}cof:\n{c.stdout}"
    same_state(pair)


def same_state(pair: GitPair) -> None:
    pair.sync_refs()
    pair.assert_same_graph()
    pair.assert_same_tree()
    pair.assert_same_status()
    git_log = pair.git("reflog", "-n", "1", "--format=%gs").stdout
    cof_log = pair.cof("reflog").stdout.splitlines(keepends=True)[0]
    assert _mask(cof_log).split(": ", 1)[1] == _mask(git_log), (git_log, cof_log)


def test_switch_branches_and_back_as_git_does(pair: GitPair) -> None:
    _history(pair)
    for args in (["side"], ["side"], ["-"], ["-"], ["-q", "side"], ["main"]):
        same_messages(pair, args)


def test_switch_create_and_force_create_as_git_does(pair: GitPair) -> None:
    _history(pair)
    same_messages(pair, ["-c", "new"])
    same_messages(pair, ["-c", "from-side", "side"])
    _, c = pair.both(["switch", "-c", "new", "main"])
    assert_fails_one_line(c, "a branch named 'new' already exists")
    same_messages(pair, ["-C", "new", "side"])  # another branch: "Switched to and reset"
    same_messages(pair, ["-C", "new", "main"])  # the current one: "Reset branch"
    same_messages(pair, ["-C", "fresh"])  # not there yet: as -c
    for args in (["-c", "bad..name"], ["-c", "z", "nope"], ["--detach", "-c", "q"]):
        pair.both(["switch", *args])
    same_state(pair)


def test_switch_refuses_a_non_branch_without_detach(pair: GitPair) -> None:
    _history(pair)
    for rev, what in (("HEAD~1", "commit 'HEAD~1'"), ("t1", "tag 't1'")):
        _, c = pair.both(["switch", rev])
        assert_fails_one_line(c, f"a branch is expected, got {what}", "--detach")
    for args, words in (
        (["nope"], "invalid reference: nope"),
        (["a.txt"], "invalid reference: a.txt"),  # never a path, unlike checkout
        ([], "missing branch or commit argument"),
        (["main", "side"], "only one reference expected"),
    ):
        _, c = pair.both(["switch", *args])
        assert_fails_one_line(c, words)
    same_state(pair)


def test_switch_detach_and_previous_position_as_git_does(pair: GitPair) -> None:
    _history(pair)
    same_messages(pair, ["--detach", "HEAD~1"])
    same_messages(pair, ["-d", "t1"])  # same commit: no "Previous HEAD position"
    same_messages(pair, ["--detach", "main"])  # "Previous HEAD position was ..."
    same_messages(pair, ["--detach"])  # where HEAD is
    same_messages(pair, ["-c", "from-detached", "side"])
    same_messages(pair, ["-d", "side"])
    same_messages(pair, ["main"])


def test_switch_keeps_or_discards_local_changes_as_git_does(pair: GitPair) -> None:
    _history(pair)
    apply(pair, {"a.txt": b"dirty\n"})
    pair.both(["switch", "side"])  # a.txt differs between the branches: refused
    same_state(pair)
    same_messages(pair, ["-c", "keeps"])  # same commit: the change stays
    same_messages(pair, ["-f", "side"])
    apply(pair, {"b.txt": b"dirty\n"})
    same_messages(pair, ["--discard-changes", "main"])
