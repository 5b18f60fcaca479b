"""The git options users reach for first, each run on git too: ``commit -a``,
``commit --amend``, ``checkout -`` and ``@{-N}``, ``branch --show-current``, ``-q``,
``status -u[MODE]`` and ``merge``/``pull --allow-unrelated-histories``.

Each test drives a git and a cof repository alike (``gitpair``) and compares what
both tools share: success versus failure, the files, ``status --porcelain``, the
refs and the commit graph, and output text where cof mirrors git's (commit ids
masked, git's hints naming ``git`` read as ``cof``). Refusals are one line
``cof: ...`` with a non-zero exit.

Differences from git, documented rather than matched:

- git 2.39 words ``checkout -`` without a previous branch as a pathspec error
  ("pathspec '-' did not match"), ``switch -`` as "invalid reference: @{-1}"; cof
  says "invalid reference: @{-1}: no previous branch (...)".
- A detached HEAD is logged in the reflog by 12 hex digits (git: 40), so ``@{-1}``
  naming one resolves the same commit through a prefix.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from tests.integration.gitpair import GitPair
from tests.integration.test_merge_conflicts import (
    apply,
    commit_both,
    fork,
    lines,
    merge_both,
    merge_clean,
    pair,
)
from tests.integration.test_sync import Peer, make_origin
from tests.integration.test_sync import pair as peers

__all__ = ["pair", "peers"]  # fixtures, used by name

_IDS = re.compile(r"\b[0-9a-f]{7,12}\b")


def _mask(text: str) -> str:
    return _IDS.sub("<id>", text.replace('"git ', '"cof '))


def assert_fails_one_line(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode != 0, result
    assert result.stderr.startswith("cof: ") and result.stderr.count("\n") == 1, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)


def same_output(pair: GitPair, git_args: list[str], cof_args: list[str] | None = None) -> str:
    """Run a command in both; stdout must match once ids are masked. Returns cof's."""
    g, c = pair.both(git_args, cof_args)
    assert _mask(c.stdout) == _mask(g.stdout), f"git:\n{g.stdout}cof:\n{c.stdout}"
    return c.stdout


def same_refs_and_graph(pair: GitPair) -> None:
    pair.sync_refs()
    pair.assert_same_graph()
    pair.assert_same_tree()
    pair.assert_same_status()


def head_messages(pair: GitPair) -> tuple[list[str], list[str]]:
    """(git's, cof's) commit messages from HEAD back, one line each."""
    git = pair.git("log", "--format=%s").stdout.splitlines()
    cof = [c["message"].splitlines()[0] for c in json.loads(pair.cof("log", "--json").stdout)]
    return git, cof


def reflog_top(pair: GitPair) -> tuple[str, str]:
    """HEAD's newest reflog entry in both, ids masked."""
    git = pair.git("reflog", "-n", "1").stdout
    cof = pair.cof("reflog").stdout.splitlines(keepends=True)[0]
    return _mask(git), _mask(cof)


# --- commit -a ---------------------------------------------------------------------------


def test_commit_all_stages_tracked_changes_only_as_git_does(pair: GitPair) -> None:
    apply(pair, {"a.txt": b"a\n", "gone.txt": b"g\n", "d/c.txt": b"c\n"})
    commit_both(pair, "base")
    apply(pair, {"a.txt": b"a2\n", "d/c.txt": b"c2\n", "new.txt": b"n\n", "n/x": b"x\n"})
    pair.delete("gone.txt")
    # A refused commit -a leaves the staging area as it was (git's temporary index).
    pair.both(["commit", "-a", "-m", ""])
    pair.assert_same_status()
    pair.both(["commit", "-q", "-a", "-m", "all"], ["commit", "-a", "-m", "all"])
    same_refs_and_graph(pair)
    assert pair.cof("status", "--porcelain").stdout == "?? n/\n?? new.txt\n"
    same_output(
        pair,
        ["diff", "--name-status", "HEAD~1", "HEAD"],
        ["diff", "HEAD~1", "HEAD", "--name-status"],
    )
    # Only untracked files changed: nothing to commit in both (exit 1).
    g, c = pair.both(["commit", "--all", "-m", "again"])
    assert g.returncode == c.returncode == 1


def test_commit_all_concludes_a_conflicted_merge_as_git_does(pair: GitPair) -> None:
    """git's -a is ``add -u`` first: a conflicted file is staged as it stands."""
    fork(pair, {"a.txt": lines("base")}, {"a.txt": lines("ours")}, {"a.txt": lines("theirs")})
    merge_both(pair)
    pair.both(["commit", "-q", "-a", "-m", "merged"], ["commit", "-a", "-m", "merged"])
    same_refs_and_graph(pair)


# --- commit --amend ----------------------------------------------------------------------


def test_amend_on_an_empty_repository_is_refused(pair: GitPair) -> None:
    pair.both(["commit", "--amend", "-m", "x"])
    assert_fails_one_line(pair.cof("commit", "--amend", "-m", "x", check=False), "nothing to amend")
    # Without --amend, -m stays required (cof has no editor).
    assert_fails_one_line(pair.cof("commit", check=False), "-m")


def test_amend_replaces_the_tip_as_git_does(pair: GitPair) -> None:
    apply(pair, {"a.txt": b"a\n"})
    commit_both(pair, "first")
    apply(pair, {"b.txt": b"b\n"})
    pair.both(["add", "-A"])
    pair.both(["commit", "-q", "-m", "second", "--author", "Other <o@x>"])
    pair.sync_refs()

    # A new message; the author (and date) stay the original's.
    pair.both(
        ["commit", "-q", "--amend", "-m", "second, reworded"],
        ["commit", "--amend", "-m", "second, reworded"],
    )
    same_refs_and_graph(pair)
    assert head_messages(pair)[0] == head_messages(pair)[1] == ["second, reworded", "first"]
    git_top, cof_top = reflog_top(pair)
    assert cof_top == git_top == "<id> HEAD@{0}: commit (amend): second, reworded\n"
    cof_author = json.loads(pair.cof("log", "-n", "1", "--json").stdout)[0]["author"]
    assert cof_author == pair.git("log", "-1", "--format=%an <%ae>").stdout.strip() == "Other <o@x>"

    # Without -m the message is kept; the staged change goes into the commit.
    apply(pair, {"c.txt": b"c\n"})
    pair.both(["add", "c.txt"])
    pair.both(["commit", "-q", "--amend", "--no-edit"], ["commit", "--amend"])
    same_refs_and_graph(pair)
    assert head_messages(pair)[0] == head_messages(pair)[1] == ["second, reworded", "first"]
    same_output(
        pair,
        ["diff", "--name-status", "HEAD~1", "HEAD"],
        ["diff", "HEAD~1", "HEAD", "--name-status"],
    )

    # Amending the tip into its parent's tree: refused unless --allow-empty.
    pair.both(["rm", "-q", "b.txt", "c.txt"], ["rm", "b.txt", "c.txt"])
    g, c = pair.both(["commit", "--amend", "-m", "empty"])
    assert g.returncode == c.returncode == 1
    assert_fails_one_line(c, "--allow-empty")
    pair.both(
        ["commit", "-q", "--amend", "--allow-empty", "-m", "empty"],
        ["commit", "--amend", "--allow-empty", "-m", "empty"],
    )
    same_refs_and_graph(pair)


def test_amend_keeps_both_parents_of_a_merge_and_is_refused_mid_merge(pair: GitPair) -> None:
    fork(pair, {"a.txt": lines("base")}, {"o.txt": b"o\n"}, {"t.txt": b"t\n"})
    merge_clean(pair)
    pair.both(
        ["commit", "-q", "--amend", "-m", "merge, reworded"],
        ["commit", "--amend", "-m", "merge, reworded"],
    )
    same_refs_and_graph(pair)
    assert len(json.loads(pair.cof("log", "-n", "1", "--json").stdout)[0]["parents"]) == 2

    # In the middle of a conflicted merge both refuse to amend.
    pair.both(["checkout", "-q", "-b", "other", "main~2"], ["checkout", "-b", "other", "main~2"])
    apply(pair, {"o.txt": b"other\n"})
    commit_both(pair, "other")
    merge_both(pair, "main")
    pair.both(["commit", "--amend", "-m", "nope"])
    assert_fails_one_line(pair.cof("commit", "--amend", "-m", "nope", check=False), "merge")


# --- checkout - and @{-N} ----------------------------------------------------------------


def test_checkout_dash_returns_to_the_previous_branch_as_git_does(pair: GitPair) -> None:
    apply(pair, {"a.txt": b"a\n"})
    commit_both(pair, "base")
    # No checkout yet: no previous branch in either.
    _, c = pair.both(["checkout", "-"])
    assert_fails_one_line(c, "no previous branch")

    pair.both(["checkout", "-q", "-b", "side"], ["checkout", "-b", "side"])
    apply(pair, {"b.txt": b"b\n"})
    commit_both(pair, "on side")
    steps = [
        ["checkout", "-"],  # main
        ["checkout", "-"],  # side
        ["checkout", "@{-1}"],  # main again, attached (not detached at main's commit)
        ["checkout", "main"],  # already on main: logged, so `-` stays on main
        ["checkout", "-"],
        ["checkout", "@{-3}"],  # side
        ["checkout", "-q", "--detach", "HEAD~1"],
        ["checkout", "-"],  # side
        ["checkout", "-"],  # back to the detached commit
        ["checkout", "main"],
    ]
    for step in steps:
        pair.both(step)
        pair.sync_refs()
        pair.assert_same_tree()
    # The revision syntax elsewhere: @{-1} is the detached commit, @{-2} is side.
    for rev in ("@{-1}", "@{-2}", "@{-2}~1"):
        g = pair.git("rev-parse", rev).stdout.strip()
        c = json.loads(pair.cof("log", "-n", "1", "--json", rev).stdout)[0]["id"]
        assert pair.cof_of[g] == c, rev
    _, c = pair.both(["checkout", "@{-99}"])
    assert_fails_one_line(c, "@{-99}")


def test_merge_dash_merges_the_previous_branch_by_name(pair: GitPair) -> None:
    fork(pair, {"a.txt": lines("base")}, {"o.txt": b"o\n"}, {"t.txt": b"t\n"})
    # fork ends with `checkout main` from side: `merge -` merges side.
    pair.both(["merge", "-"])
    same_refs_and_graph(pair)
    git, cof = head_messages(pair)
    assert cof[0] == git[0] == "Merge branch 'side'"


# --- branch --show-current ---------------------------------------------------------------


def test_branch_show_current_as_git_does(pair: GitPair) -> None:
    assert same_output(pair, ["branch", "--show-current"]) == "main\n"  # unborn
    apply(pair, {"a.txt": b"a\n"})
    commit_both(pair, "base")
    pair.both(["checkout", "-q", "-b", "topic"], ["checkout", "-b", "topic"])
    assert same_output(pair, ["branch", "--show-current"]) == "topic\n"
    pair.both(["checkout", "-q", "--detach"], ["checkout", "--detach", "HEAD"])
    assert same_output(pair, ["branch", "--show-current"]) == ""
    assert_fails_one_line(pair.cof("branch", "--show-current", "x", check=False), "show-current")


# --- -q ----------------------------------------------------------------------------------


def quiet_in_both(pair: GitPair, git_args: list[str], cof_args: list[str] | None = None) -> None:
    g, c = pair.both(git_args, cof_args)
    assert g.stdout == g.stderr == "", (g.stdout, g.stderr)
    assert c.stdout == c.stderr == "", (c.stdout, c.stderr)


def test_quiet_prints_nothing_but_conflicts_and_errors(pair: GitPair, tmp_path: Path) -> None:
    quiet_in_both(pair, ["init", "-q", str(tmp_path / "g")], ["init", "-q", str(tmp_path / "c")])
    quiet_in_both(pair, ["init", "-q", "."])  # reinitialised
    apply(pair, {"a.txt": lines("base")})
    commit_both(pair, "base")
    quiet_in_both(pair, ["checkout", "-q", "-b", "side"])
    apply(pair, {"a.txt": lines("side")})
    commit_both(pair, "side")
    quiet_in_both(pair, ["checkout", "-q", "side"])  # already on it
    quiet_in_both(pair, ["checkout", "-q", "main"])
    quiet_in_both(pair, ["checkout", "-q", "--detach", "side"])
    quiet_in_both(pair, ["checkout", "-q", "-"])
    quiet_in_both(pair, ["merge", "-q", "side"])  # fast-forward
    quiet_in_both(pair, ["merge", "-q", "side"])  # already up to date
    pair.sync_refs()
    quiet_in_both(pair, ["checkout", "-q", "-b", "other", "main~1"])
    apply(pair, {"o.txt": b"o\n"})
    commit_both(pair, "other")
    quiet_in_both(pair, ["merge", "-q", "--no-edit", "side"], ["merge", "-q", "side"])  # 3-way
    same_refs_and_graph(pair)
    apply(pair, {"a.txt": lines("other")})
    commit_both(pair, "conflicting")
    pair.both(
        ["checkout", "-q", "-b", "third", "main~1"], ["checkout", "-q", "-b", "third", "main~1"]
    )
    apply(pair, {"a.txt": lines("third")})
    commit_both(pair, "third")
    # Conflicts are still reported, with exit 1.
    merge_both(pair, "other", "-q")
    assert_fails_one_line(pair.cof("checkout", "-q", "nowhere", check=False), "nowhere")


# --- status -u[MODE] ---------------------------------------------------------------------

UNTRACKED_FORMS = (
    ["-uno"],
    ["-unormal"],
    ["-uall"],
    ["-u"],
    ["--untracked-files"],
    ["--untracked-files=no"],
    ["--untracked-files=all"],
    ["-su"],
    ["-u", "d"],  # a bare -u takes no word: "d" is a path (git)
    ["-uall", "--", "n"],
)


def test_status_untracked_modes_as_git_does(pair: GitPair) -> None:
    apply(pair, {"a.txt": b"a\n", "d/t.txt": b"t\n"})
    commit_both(pair, "base")
    apply(pair, {"u.txt": b"u\n", "d/u.txt": b"u\n", "n/x": b"x\n", "n/m/y": b"y\n"})
    pair.write(".cofignore", b"*.log\n")  # ignored in both, never listed
    (pair.git_root / ".git" / "info" / "exclude").write_text("*.log\n.cofignore\n")
    pair.write("n/skip.log", b"l\n")
    (pair.cof_root / ".cofignore").write_text("*.log\n.cofignore\n")
    for form in UNTRACKED_FORMS:
        same_output(pair, ["status", "--porcelain", *form])
        same_output(pair, ["status", "-s", *form])
    assert pair.cof("status", "--porcelain", "-uall").stdout == (
        "?? d/u.txt\n?? n/m/y\n?? n/x\n?? u.txt\n"
    )
    # The long format's notes on untracked files, clean, staged and unstaged.
    for form in (["-uno"], ["-uall"], []):
        same_output(pair, ["status", *form])
    apply(pair, {"a.txt": b"a2\n"})
    for form in (["-uno"], ["-uall"]):
        same_output(pair, ["status", *form])
    pair.both(["add", "a.txt"])
    for form in (["-uno"], ["-uall"]):
        same_output(pair, ["status", *form])

    _, c = pair.both(["status", "-ubogus"])
    assert_fails_one_line(c, "bogus")
    assert c.returncode == 2


# --- merge / pull --allow-unrelated-histories --------------------------------------------


def _unrelated_branch(pair: GitPair, files: dict[str, bytes]) -> None:
    """A branch ``island`` with a root commit of its own (cof has no ``--orphan``:
    HEAD is pointed at an unborn branch by hand)."""
    pair.git("checkout", "-q", "--orphan", "island")
    pair.git("rm", "-rfq", ".")
    (pair.cof_root / ".cof" / "HEAD").write_text("ref: refs/heads/island\n")
    pair.cof("rm", "-r", "-f", ".")
    apply(pair, files)
    commit_both(pair, "island root")
    pair.both(["checkout", "-q", "main"], ["checkout", "main"])


def test_merge_allow_unrelated_histories_as_git_does(pair: GitPair) -> None:
    apply(pair, {"same.txt": lines("ours"), "equal.txt": b"=\n", "a.txt": b"a\n"})
    commit_both(pair, "main root")
    _unrelated_branch(pair, {"same.txt": lines("theirs"), "equal.txt": b"=\n", "i.txt": b"i\n"})
    pair.both(["merge", "island"])
    assert_fails_one_line(pair.cof("merge", "island", check=False), "unrelated histories")
    # An empty base: same path, different content is an add/add conflict.
    merge_both(pair, "island", "--allow-unrelated-histories")
    assert pair.cof("status", "--porcelain").stdout == "A  i.txt\nAA same.txt\n"
    pair.write("same.txt", b"resolved\n")
    commit_both(pair, "joined")
    pair.assert_same_graph()


def test_pull_allow_unrelated_histories(peers: tuple[Peer, Peer], tmp_path: Path) -> None:
    """A pull of another project's history: refused, then merged from an empty base;
    cof's result is compared with git's pull of the same two histories."""
    alice, bob = peers
    make_origin(alice, {"a.txt": b"a\n", "same.txt": b"ours\n"}, "proj")
    other = alice.box.work / "other"
    alice.cof("init", "-q", other)
    (other / "b.txt").write_bytes(b"b\n")
    (other / "same.txt").write_bytes(b"ours\n")
    alice.cof("add", "-A", cwd=other)
    alice.cof("commit", "-q", "-m", "other root", cwd=other)
    alice.cof("share", "other", cwd=other)
    for share in ("proj", "other"):
        alice.cof("peer", "grant", bob.key, share, "--read")
    bob.cof("clone", alice.url("proj"), "copy")
    copy = bob.box.work / "copy"
    bob.cof("remote", "add", "other", alice.url("other"), cwd=copy)

    git = GitTwin(
        tmp_path, {"a.txt": b"a\n", "same.txt": b"ours\n"}, {"b.txt": b"b\n", "same.txt": b"ours\n"}
    )
    refused = bob.cof("pull", "other", "main", check=False, cwd=copy)
    assert_fails_one_line(refused, "unrelated histories")
    assert git.pull(check=False).returncode != 0
    pulled = bob.cof("pull", "-q", "--allow-unrelated-histories", "other", "main", cwd=copy)
    assert pulled.stdout == pulled.stderr == ""
    git.pull("--allow-unrelated-histories")
    for rel in ("a.txt", "b.txt", "same.txt"):
        assert (copy / rel).read_bytes() == (git.copy / rel).read_bytes()
    log = json.loads(bob.cof("log", "-n", "1", "--json", cwd=copy).stdout)[0]
    assert len(log["parents"]) == 2
    assert bob.cof("status", "--porcelain", cwd=copy).stdout == ""


class GitTwin:
    """git's side of the pull test: a clone of ``proj`` with ``other`` as a remote."""

    def __init__(self, tmp_path: Path, proj: dict[str, bytes], other: dict[str, bytes]) -> None:
        from tests.integration.test_sync import _git

        self.git = _git
        for name, files in (("proj", proj), ("other", other)):
            repo = tmp_path / f"git-{name}"
            _git("init", "-q", "-b", "main", repo, cwd=tmp_path)
            for rel, data in files.items():
                (repo / rel).write_bytes(data)
            _git("add", "-A", cwd=repo)
            _git("commit", "-q", "-m", f"{name} root", cwd=repo)
        self.copy = tmp_path / "git-copy"
        _git("clone", "-q", tmp_path / "git-proj", self.copy, cwd=tmp_path)
        _git("remote", "add", "other", tmp_path / "git-other", cwd=self.copy)

    def pull(self, *flags: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        from tests.integration.test_sync import _git_run

        return _git_run(
            "pull",
            "-q",
            "--no-rebase",
            "--no-edit",
            *flags,
            "other",
            "main",
            cwd=self.copy,
            check=check,
        )
