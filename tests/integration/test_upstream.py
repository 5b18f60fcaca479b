"""Upstream tracking, end to end against git: a clone's branch tracks origin's,
status and ``branch -v``/``-vv`` say how far apart they are, ``checkout NAME`` makes a
tracking branch from the one remote that has NAME, ``branch -u``/``--unset-upstream``,
``push -u``, and pull/push/fetch default to the upstream.

The same history is made in a git clone of a git origin and in a cof clone between two
daemons; outputs are compared line by line with commit ids masked (cof shows 12 hex
digits, git 7) and git's hints naming ``git`` read as ``cof``."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.integration.test_sync import (
    Peer,
    commit_file,
    head_of,
    make_origin,
    pair,
    share_and_clone,
)

__all__ = ["pair"]  # the fixture, used by name

_IDS = re.compile(r"\b[0-9a-f]{7,12}\b")
_SYMREF = re.compile(r"/HEAD +-> ")


def _mask(text: str) -> str:
    return _IDS.sub("<id>", text.replace('"git ', '"cof '))


class Twins:
    """A git clone and a cof clone of the same history, driven alike."""

    def __init__(self, alice: Peer, bob: Peer, tmp_path: Path) -> None:
        from tests.integration.test_sync import _git

        self.git = _git
        self.alice, self.bob = alice, bob
        self.cof_origin, self.cof_copy = share_and_clone(
            alice, bob, {"f.txt": b"base\n"}, "--write", "feature"
        )

        self.git_origin, self.git_copy = tmp_path / "origin", tmp_path / "copy"
        _git("init", "-q", "-b", "main", self.git_origin, cwd=tmp_path)
        (self.git_origin / "f.txt").write_text("base\n")
        _git("add", "f.txt", cwd=self.git_origin)
        _git("commit", "-q", "-m", "initial", cwd=self.git_origin)
        _git("branch", "feature", cwd=self.git_origin)
        _git("clone", "-q", self.git_origin, self.git_copy, cwd=tmp_path)

    def commit_in_copy(self, rel: str, data: bytes, message: str) -> None:
        commit_file(self.bob, self.cof_copy, rel, data, message)
        (self.git_copy / rel).write_bytes(data)
        self.git("add", rel, cwd=self.git_copy)
        self.git("commit", "-q", "-m", message, cwd=self.git_copy)

    def commit_in_origin(self, rel: str, data: bytes, message: str) -> None:
        commit_file(self.alice, self.cof_origin, rel, data, message)
        (self.git_origin / rel).write_bytes(data)
        self.git("add", rel, cwd=self.git_origin)
        self.git("commit", "-q", "-m", message, cwd=self.git_origin)

    def both(self, *args: str) -> tuple[str, str]:
        """(cof's stdout, git's stdout) of the same command in the two copies, less
        git's symbolic ``remotes/origin/HEAD`` line (cof keeps no such ref)."""
        ours = self.bob.cof(*args, cwd=self.cof_copy).stdout
        theirs = self.git(*args, cwd=self.git_copy).splitlines(keepends=True)
        return _mask(ours), _mask("".join(x for x in theirs if not _SYMREF.search(x)))

    def assert_same(self, *args: str) -> None:
        ours, theirs = self.both(*args)
        assert ours == theirs, (args, ours, theirs)


def test_status_and_branch_report_the_upstream_as_git_does(
    pair: tuple[Peer, Peer], tmp_path: Path
) -> None:
    alice, bob = pair
    twins = Twins(alice, bob, tmp_path)
    for args in (("status",), ("status", "-sb"), ("status", "--porcelain", "-b")):
        twins.assert_same(*args)  # up to date with 'origin/main'

    twins.commit_in_copy("f.txt", b"mine\n", "mine")
    for args in (("status",), ("status", "-sb"), ("branch", "-v"), ("branch", "-vv")):
        twins.assert_same(*args)  # ahead 1

    twins.commit_in_origin("g.txt", b"theirs 1\n", "theirs 1")
    twins.commit_in_origin("h.txt", b"theirs 2\n", "theirs 2")
    bob.cof("fetch", cwd=twins.cof_copy)
    twins.git("fetch", "-q", cwd=twins.git_copy)
    for args in (("status",), ("status", "-sb"), ("branch", "-vv"), ("branch", "-a", "-vv")):
        twins.assert_same(*args)  # diverged: 1 and 2

    # Behind only, after dropping the local commit.
    bob.cof("checkout", "-b", "keep", cwd=twins.cof_copy)
    twins.git("checkout", "-q", "-b", "keep", cwd=twins.git_copy)
    log = json.loads(bob.cof("log", "-n", "2", "--json", cwd=twins.cof_copy).stdout)
    bob.cof("branch", "-f", "main", log[1]["id"], cwd=twins.cof_copy)
    twins.git("branch", "-f", "main", "main~1", cwd=twins.git_copy)
    ours = bob.cof("checkout", "main", cwd=twins.cof_copy)
    theirs = twins.git("checkout", "main", cwd=twins.git_copy)
    assert _mask(ours.stdout) == _mask(theirs)  # "behind ... by 2 commits, and can be ..."
    assert "can be fast-forwarded" in ours.stdout
    for args in (("status",), ("status", "-sb"), ("branch", "-v")):
        twins.assert_same(*args)


def test_checkout_guesses_a_tracking_branch_and_upstreams_can_be_set(
    pair: tuple[Peer, Peer], tmp_path: Path
) -> None:
    alice, bob = pair
    twins = Twins(alice, bob, tmp_path)
    copy = twins.cof_copy

    # `checkout feature`: no local branch, origin/feature exists -> a tracking branch.
    ours = bob.cof("checkout", "feature", cwd=copy)
    theirs_out = twins.git("checkout", "feature", cwd=twins.git_copy)
    assert ours.stdout == theirs_out == "branch 'feature' set up to track 'origin/feature'.\n"
    assert ours.stderr == "Switched to a new branch 'feature'\n"
    twins.assert_same("branch", "-vv")

    # -b from a remote-tracking branch tracks it; from a local one it does not.
    for args in (("checkout", "-b", "t2", "origin/main"), ("checkout", "-b", "t3", "main")):
        assert bob.cof(*args, cwd=copy).stdout == twins.git(*args, cwd=twins.git_copy)
    twins.assert_same("branch", "-vv")

    # branch -u / --unset-upstream, on the current branch or a named one.
    for args in (("branch", "-u", "origin/feature"), ("branch", "-u", "origin/main", "feature")):
        ours_set, theirs_set = twins.both(*args)
        assert ours_set == theirs_set and "set up to track" in ours_set
    twins.assert_same("branch", "-vv")
    twins.assert_same("branch", "--unset-upstream")
    again = bob.cof("branch", "--unset-upstream", cwd=copy, check=False)
    assert again.returncode != 0
    assert again.stderr.strip() == "cof: branch 't3' has no upstream information"
    missing = bob.cof("branch", "-u", "origin/nope", cwd=copy, check=False)
    assert missing.returncode != 0 and "'origin/nope' does not exist" in missing.stderr
    twins.assert_same("branch", "-vv")

    # A deleted branch takes its upstream with it; a renamed one keeps it.
    bob.cof("checkout", "main", cwd=copy)
    bob.cof("branch", "-m", "t2", "renamed", cwd=copy)
    bob.cof("branch", "-D", "feature", cwd=copy)
    listing = bob.cof("branch", "-vv", cwd=copy).stdout
    assert "renamed " in listing and "[origin/main] initial" in listing
    assert "feature" not in (copy / ".cof" / "remotes.toml").read_text()


def test_push_u_then_pull_and_push_follow_the_upstream(pair: tuple[Peer, Peer]) -> None:
    """`push -u` records the upstream; from then on plain `status`, `pull` and `push`
    on that branch use it, as git does. A second remote named as the upstream makes
    fetch and pull go there without naming it."""
    alice, bob = pair
    origin, copy = share_and_clone(alice, bob, {"f.txt": b"base\n"}, "--write")

    bob.cof("checkout", "-b", "topic", cwd=copy)
    commit_file(bob, copy, "t.txt", b"topic 1\n", "topic 1")
    status = bob.cof("status", "-sb", cwd=copy).stdout
    assert status.splitlines()[0] == "## topic"
    pushed = bob.cof("push", "-u", "origin", "topic", cwd=copy)
    assert pushed.stdout.splitlines()[-1] == "branch 'topic' set up to track 'origin/topic'."
    assert bob.cof("status", "-sb", cwd=copy).stdout.splitlines()[0] == "## topic...origin/topic"

    # Alice moves topic on; a plain pull on topic merges origin/topic, not origin/main.
    alice.cof("checkout", "topic", cwd=origin)
    theirs = commit_file(alice, origin, "u.txt", b"from alice\n", "alice on topic")
    alice.cof("checkout", "main", cwd=origin)
    bob.cof("pull", cwd=copy)
    assert head_of(bob, copy) == theirs
    assert (copy / "u.txt").read_bytes() == b"from alice\n"

    # And a plain push sends topic to origin's topic.
    mine = commit_file(bob, copy, "t.txt", b"topic 2\n", "topic 2")
    bob.cof("push", cwd=copy)
    alice.cof("checkout", "topic", cwd=origin)
    assert head_of(alice, origin) == mine
    assert "ahead" not in bob.cof("status", cwd=copy).stdout

    # An upstream on another remote: fetch and pull with no remote named go there.
    bob.cof("remote", "add", "mirror", alice.url("proj"), cwd=copy)
    bob.cof("fetch", "mirror", cwd=copy)
    bob.cof("branch", "-u", "mirror/topic", cwd=copy)
    alice.cof("checkout", "topic", cwd=origin)
    newer = commit_file(alice, origin, "v.txt", b"again\n", "alice again")
    bob.cof("pull", cwd=copy)
    assert head_of(bob, copy) == newer
    refs = copy / ".cof" / "refs" / "remotes"
    assert (refs / "mirror" / "topic").exists()
    assert bob.cof("status", "-sb", cwd=copy).stdout.splitlines()[0] == "## topic...mirror/topic"

    # Removing the remote drops the upstreams that named it (as git's remote rm).
    bob.cof("remote", "remove", "mirror", cwd=copy)
    assert bob.cof("status", "-sb", cwd=copy).stdout.splitlines()[0] == "## topic"


def test_a_broken_upstream_entry_is_a_one_line_config_error(pair: tuple[Peer, Peer]) -> None:
    """A hand-edited remotes.toml with a bad upstream stops status/pull/push with one
    line naming the file and the entry (exit 6), and changes nothing."""
    alice, bob = pair
    make_origin(alice, {"f.txt": b"base\n"})
    alice.cof("peer", "grant", bob.key, "proj", "--read")
    bob.cof("clone", alice.url("proj"), "copy")
    copy = bob.box.work / "copy"
    remotes = copy / ".cof" / "remotes.toml"
    good = remotes.read_text()
    assert '[branch."main"]\nremote = "origin"\nmerge = "main"\n' in good
    for bad in ('remote = "origin"\n', 'remote = "origin"\nmerge = "../x"\n', "merge = 3\n"):
        remotes.write_text(good.split('[branch."main"]')[0] + '[branch."main"]\n' + bad)
        for args in (("status",), ("pull",), ("push",), ("branch", "-vv")):
            failed = bob.cof(*args, cwd=copy, check=False)
            assert failed.returncode == 6, (bad, args, failed.stderr)
            assert failed.stderr.count("\n") == 1 and "remotes.toml: branch.main" in failed.stderr
    remotes.write_text(good)
    assert "up to date with 'origin/main'" in bob.cof("status", cwd=copy).stdout


def test_clone_b_checks_out_the_named_branch_tracking_it(pair: tuple[Peer, Peer]) -> None:
    """`clone -b feature`: the copy is on feature (feature's files), tracking
    origin/feature; a branch the remote lacks is refused before anything is made."""
    alice, bob = pair
    origin = make_origin(alice, {"f.txt": b"base\n"})
    alice.cof("checkout", "-b", "feature", cwd=origin)
    commit_file(alice, origin, "only-on-feature.txt", b"feature\n", "on feature")
    alice.cof("checkout", "main", cwd=origin)
    alice.cof("peer", "grant", bob.key, "proj", "--read")

    bob.cof("clone", "-b", "feature", alice.url("proj"), "copy")
    copy = bob.box.work / "copy"
    assert (copy / "only-on-feature.txt").read_bytes() == b"feature\n"
    status = bob.cof("status", cwd=copy).stdout.splitlines()
    assert status[:2] == ["On branch feature", "Your branch is up to date with 'origin/feature'."]
    assert bob.cof("branch", cwd=copy).stdout == "* feature\n"  # as git: only the one

    missing = bob.cof("clone", "-b", "nope", alice.url("proj"), "other", check=False)
    shown_url = f"cof://127.0.0.1:{alice.port}/proj"
    assert missing.returncode != 0
    assert missing.stderr.strip().endswith(f"remote branch 'nope' not found in {shown_url}")
    assert missing.stderr.count("\n") == 1
    assert not (bob.box.work / "other").exists()


def test_push_delete_removes_the_remote_branch_and_leaves_the_upstream_gone(
    pair: tuple[Peer, Peer], tmp_path: Path
) -> None:
    """`push --delete feature` deletes the remote's branch and the local origin/feature;
    the branch that tracked it then reads "gone" in status and branch -vv, as git's.
    The branch checked out there, a branch it lacks, and a read-only peer are refused,
    with nothing deleted."""
    alice, bob = pair
    twins = Twins(alice, bob, tmp_path)
    copy = twins.cof_copy
    bob.cof("checkout", "feature", cwd=copy)
    twins.git("checkout", "-q", "feature", cwd=twins.git_copy)

    deleted = bob.cof("push", "origin", "--delete", "feature", cwd=copy)
    twins.git("push", "-q", "origin", "--delete", "feature", cwd=twins.git_copy)
    url = f"cof://127.0.0.1:{alice.port}/proj"
    # git's line with core.abbrev=12 (cof's ids): the summary column is 27 wide.
    assert deleted.stdout == f"To {url}\n - [deleted]" + " " * 19 + "feature\n"
    assert alice.cof("branch", cwd=twins.cof_origin).stdout == "* main\n"
    assert bob.cof("branch", "-r", cwd=copy).stdout == "  origin/main\n"
    for args in (("status",), ("status", "-sb"), ("branch", "-v"), ("branch", "-vv")):
        twins.assert_same(*args)  # "... but the upstream is gone."

    for branch, why in (("main", "checked out there"), ("nope", "has no branch 'nope'")):
        refused = bob.cof("push", "origin", "--delete", branch, cwd=copy, check=False)
        assert refused.returncode != 0 and why in refused.stderr, refused.stderr
        assert refused.stderr.count("\n") == 1
    assert alice.cof("branch", cwd=twins.cof_origin).stdout == "* main\n"
    assert bob.cof("branch", "-r", cwd=copy).stdout == "  origin/main\n"

    # A peer granted read only may not delete.
    alice.cof("branch", "other", cwd=twins.cof_origin)
    alice.cof("peer", "grant", bob.key, "proj", "--read")
    bob.cof("fetch", cwd=copy)
    denied = bob.cof("push", "origin", "--delete", "other", cwd=copy, check=False)
    assert denied.returncode != 0 and "write" in denied.stderr, denied.stderr
    assert alice.cof("branch", cwd=twins.cof_origin).stdout == "* main\n  other\n"


def test_a_remote_branch_replaced_by_one_above_it_needs_prune_as_in_git(
    pair: tuple[Peer, Peer],
) -> None:
    """The remote turns branch x/y into x: a plain fetch cannot make origin/x while
    origin/x/y exists (refs are files, as git's) and says so in one line; fetch
    --prune removes origin/x/y first and then makes origin/x. Locally, a/b then a
    works once a/b is deleted."""
    alice, bob = pair
    origin, copy = share_and_clone(alice, bob, {"f.txt": b"base\n"}, "--read", "x/y")
    assert bob.cof("branch", "-r", cwd=copy).stdout == "  origin/main\n  origin/x/y\n"

    alice.cof("branch", "-D", "x/y", cwd=origin)
    alice.cof("branch", "x", cwd=origin)
    plain = bob.cof("fetch", cwd=copy, check=False)
    assert plain.returncode != 0 and plain.stderr.count("\n") == 1
    assert "refs/remotes/origin/x/y exists" in plain.stderr and "--prune" in plain.stderr
    assert bob.cof("branch", "-r", cwd=copy).stdout == "  origin/main\n  origin/x/y\n"
    bob.cof("fetch", "--prune", cwd=copy)
    assert bob.cof("branch", "-r", cwd=copy).stdout == "  origin/main\n  origin/x\n"

    bob.cof("branch", "a/b", cwd=copy)
    refused = bob.cof("branch", "a", cwd=copy, check=False)
    assert refused.returncode != 0
    assert refused.stderr == "cof: cannot create refs/heads/a: refs/heads/a/b exists\n"
    bob.cof("branch", "-d", "a/b", cwd=copy)
    bob.cof("branch", "a", cwd=copy)
    assert "  a\n" in bob.cof("branch", cwd=copy).stdout
    assert bob.cof("fsck", cwd=copy).returncode == 0
