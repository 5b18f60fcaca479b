"""``cof switch`` run on git too: the same steps in both, compared for success versus
failure, git's messages (stderr, ids masked), the refs, the commit graph, the files,
``status --porcelain`` and HEAD's reflog.

Differences from git, documented rather than matched:

- A detached HEAD is named in the reflog by 12 hex digits (git: 40).
- Refusals are one line ``cof: ...`` (git: ``fatal: ...`` plus a ``hint:`` line);
  the words are git's.
- The advice after "you are leaving N commits behind" is always printed (git: unless
  ``advice.detachedHead`` is false; these tests turn it on for git where it shows).

``--track``/``--guess`` need remote-tracking branches: see
``test_switch_tracking_vs_git``.
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
    return (
        _IDS.sub("<id>", text).replace(" git branch <", " cof branch <").replace('"git ', '"cof ')
    )


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


def same_messages(pair: GitPair, args: list[str], command: str = "switch") -> None:
    """Run ``switch ARGS`` (or another ``command``) in both: same outcome, same
    stderr and stdout (ids masked), then the same refs, graph, files, status and
    newest reflog line."""
    same_words(pair, [command, *args])
    same_state(pair)


def same_words(pair: GitPair, args: list[str], advice: bool = False) -> None:
    """Run ``ARGS`` in both: same outcome, stderr and stdout (ids masked, git's
    ``git`` read as ``cof``); ``advice``: git shows its detached-HEAD advice."""
    config = ["-c", "advice.detachedHead=true"] if advice else []
    g, c = pair.both([*config, *args], args)
    assert _mask(c.stderr) == _mask(g.stderr), f"git:\n{g.stderr}cof:\n{c.stderr}"
    assert _mask(c.stdout) == _mask(g.stdout), f"git:\n{g.stdout}cof:\n{c.stdout}"


def same_state(pair: GitPair) -> None:
    pair.sync_refs()
    pair.assert_same_graph()
    pair.assert_same_tree()
    pair.assert_same_status()
    git_log = pair.git("reflog", "-n", "1", "--format=%gs").stdout
    cof_log = pair.cof("reflog").stdout.splitlines(keepends=True)[0]
    assert _mask(cof_log).split(": ", 1)[1] == _mask(git_log), (git_log, cof_log)


def same_branch_log(pair: GitPair, branch: str) -> None:
    git_log = pair.git("reflog", "--format=%gs", branch).stdout.splitlines()
    cof_log = [line.split(": ", 1)[1] for line in pair.cof("reflog", branch).stdout.splitlines()]
    assert [_mask(x) for x in cof_log] == [_mask(x) for x in git_log]


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
    same_words(pair, ["checkout", "-B", "new", "t1"])
    same_words(pair, ["checkout", "-B", "new", "t1"])  # already there: not logged
    same_branch_log(pair, "new")  # branch: Reset to t1, once
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


def test_leaving_commits_behind_warns_as_git_does(pair: GitPair) -> None:
    """Commits only a detached HEAD reaches are listed on leaving it (newest four and
    the last, or "... and N more"), with how to keep them; tags keep some; with
    nothing lost, "Previous HEAD position was" is said instead."""
    _history(pair)
    pair.both(["switch", "-q", "--detach", "side"])
    for n in range(6):
        pair.both(["commit", "-q", "--allow-empty", "-m", f"lost {n}"])
    same_words(pair, ["switch", "main"], advice=True)  # six: four, "... and 2 more."
    same_words(pair, ["checkout", "-"])
    pair.both(["tag", "keep", "HEAD~5"])
    same_words(pair, ["checkout", "-b", "fresh", "t1"], advice=True)  # five: all
    same_words(pair, ["checkout", "-"])
    pair.both(["tag", "keep2", "HEAD~1"])
    same_words(pair, ["switch", "--detach", "keep2"], advice=True)  # one: "it"
    same_words(pair, ["checkout", "side"])  # nothing lost: the previous position
    same_state(pair)


def test_orphan_branches_as_git_does(pair: GitPair) -> None:
    """``switch --orphan`` empties the staging area and the tracked files (untracked
    ones stay), ``checkout --orphan NEW START`` stages START's files; status, branch
    and log speak of a branch with no commit; the next commit is a root."""
    _history(pair)
    apply(pair, {"u.txt": b"untracked\n"})
    same_words(pair, ["switch", "--orphan", "fresh"])
    pair.assert_same_tree()
    for args in (["status"], ["branch"]):
        same_words(pair, args)
    _, c = pair.both(["log"])
    assert_fails_one_line(c, "your current branch 'fresh' does not have any commits yet")
    same_words(pair, ["checkout", "--orphan", "kept", "side"])
    pair.assert_same_tree()
    same_words(pair, ["status"])
    commit_both(pair, "root")
    same_state(pair)
    for args in (["switch", "--orphan", "main"], ["switch", "--orphan", "x", "side"]):
        pair.both(args)  # exists; switch takes no START


def test_local_changes_listed_and_merged_with_m_as_git_does(pair: GitPair) -> None:
    """A switch lists the local changes it carries (``M``/``D``/``A`` and the path);
    ``-m`` merges those in the way into the target: a clean merge leaves them as
    unstaged changes, a conflict as stages with markers (``local`` names the working
    tree's side); staged changes are refused first."""
    lines = b"".join(b"%d\n" % n for n in range(1, 6))
    apply(pair, {"a.txt": lines, "b.txt": b"b\n", "c.txt": b"c\n", "k.txt": b"k\n"})
    commit_both(pair, "base")
    pair.both(["switch", "-q", "-c", "side"])
    apply(pair, {"a.txt": lines.replace(b"2\n", b"TWO\n"), "b.txt": b"b2\n"})
    commit_both(pair, "on side")
    pair.both(["switch", "-q", "main"])
    apply(pair, {"c.txt": b"c local\n", "k.txt": None, "n.txt": b"n\n"})
    pair.both(["add", "n.txt"])
    same_messages(pair, ["side"])  # M c.txt, D k.txt, A n.txt
    same_messages(pair, ["main"], "checkout")
    apply(pair, {"a.txt": lines.replace(b"5\n", b"FIVE\n")})
    pair.both(["switch", "side"])  # a.txt has local changes: refused
    _, c = pair.both(["switch", "-m", "side"])
    assert_fails_one_line(c, "cannot continue with staged changes", "n.txt")
    pair.both(["restore", "--staged", "n.txt"])
    same_messages(pair, ["-m", "side"])  # a.txt merged cleanly
    apply(pair, {"b.txt": b"b local\n"})
    same_messages(pair, ["-m", "main"], "checkout")  # b.txt: a conflict
    assert (pair.cof_root / "b.txt").read_bytes().startswith(b"<<<<<<< main\n")
