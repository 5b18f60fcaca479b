"""A synced ref naming a tree the receiving side does not have yet, between real
daemons through the CLI: the ref is refused alone, as one naming a tree stored there
already is (``test_sync_ref_kinds``, ``test_sync_edges``), instead of failing the
whole clone, fetch, pull or push; the other refs and their blocks move, nothing is
written for it, ``cof fsck`` passes. And ``fetch -q`` keeping a tag the remote moved
names it in its one error line (git's ``fetch -q`` prints no ref line at all).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.integration.conftest import CofSandbox
from tests.integration.test_sync import (
    Peer,
    _git,
    _git_run,
    commit_file,
    head_of,
    pair,
    share_and_clone,
)
from tests.integration.test_sync_quiet_vs_git import git_commit, git_side
from tests.integration.test_sync_reports import _ref_lines

__all__ = ["pair"]  # a fixture, used by name

REJECTED = " ! [rejected]" + " " * 18
REMOTE_REJECTED = " ! [remote rejected]" + " " * 11


def _unreferenced_tree(peer: Peer, repo: Path, rel: str, data: bytes) -> str:
    """The tree of a commit made on a branch then deleted: stored in ``repo`` and
    reached by no ref (only the deleted branch's reflog keeps it from gc), so no
    other ref brings it to a peer."""
    peer.cof("checkout", "-q", "-b", "side", cwd=repo)
    commit_file(peer, repo, rel, data, "side")
    tree: str = json.loads(peer.cof("log", "-n", "1", "--json", cwd=repo).stdout)[0]["tree"]
    peer.cof("checkout", "-q", "main", cwd=repo)
    peer.cof("branch", "-D", "side", cwd=repo)
    return tree


def test_fetch_pull_and_clone_skip_a_ref_naming_a_tree_not_here(
    pair: tuple[Peer, Peer], tmp_path: Path
) -> None:
    """The serving repository's branch ``at-tree`` and tag ``t-tree`` name a tree the
    client lacks (it came with no commit it fetched). The fetch skips both with their
    lines, moves main and makes the new tag v2, exits 10 with one line naming each;
    fsck passes. A pull merges nothing (exit 10); a clone checks out main, exit 10.
    ``clone -b`` naming either fails, as git's (which removes the directory: cof keeps
    what arrived, as for any failed clone, and a clone into it without -b resumes)."""
    alice, bob = pair
    origin, copy = share_and_clone(alice, bob, {"f.txt": b"base\n"})
    base = head_of(bob, copy)
    tree = _unreferenced_tree(alice, origin, "secret.txt", b"only in this tree\n")
    moved = commit_file(alice, origin, "f.txt", b"more\n", "more")
    alice.cof("tag", "-a", "v2", "-m", "second", cwd=origin)
    refs = origin / ".cof" / "refs"
    (refs / "heads" / "at-tree").write_text(tree + "\n")
    (refs / "tags" / "t-tree").write_text(tree + "\n")

    fetched = bob.cof("fetch", cwd=copy, check=False)
    assert fetched.returncode == 10, fetched
    assert _ref_lines(fetched.stdout) == [
        "   <id>..<id>  main       -> origin/main",
        f"{REJECTED}at-tree    -> origin/at-tree  (not a commit: a tree)",
        f"{REJECTED}t-tree     -> t-tree  (not a commit or an annotated tag: a tree)",
        " * [new tag]" + " " * 19 + "v2         -> v2",
    ], fetched.stdout
    url = f"cof://127.0.0.1:{alice.port}/proj"
    assert fetched.stderr.count("cof: ") == 1, fetched.stderr
    assert fetched.stderr.splitlines()[-1] == (
        f"cof: not fetched: refs/heads/at-tree ({tree[:12]}) of {url} is not a commit: "
        f"a tree; refs/tags/t-tree ({tree[:12]}) of {url} is not a commit or an "
        "annotated tag: a tree"
    ), fetched.stderr
    assert bob.cof("branch", "-r", cwd=copy).stdout == "  origin/main\n"
    assert bob.cof("tag", cwd=copy).stdout == "v2\n"
    assert head_of(bob, copy) == base
    assert bob.cof("rev-parse", "origin/main", cwd=copy).stdout.strip() == moved
    bob.cof("fsck", cwd=copy)
    # Fetched again: the tree is here now (unreferenced, for gc), refused the same.
    again = bob.cof("fetch", cwd=copy, check=False)
    assert again.returncode == 10, again
    assert again.stderr.splitlines() == fetched.stderr.splitlines()[-1:], again.stderr

    pulled = bob.cof("pull", "-q", cwd=copy, check=False)
    assert pulled.returncode == 10 and pulled.stdout == "", pulled
    assert pulled.stderr.startswith("cof: nothing merged: not fetched: refs/heads/at-tree (")
    assert head_of(bob, copy) == base
    bob.cof("fsck", cwd=copy)

    cloned = bob.cof("clone", alice.url("proj"), "again", check=False)
    again_dir = bob.box.work / "again"
    assert cloned.returncode == 10, cloned
    assert cloned.stderr.splitlines()[-1] == fetched.stderr.splitlines()[-1], cloned.stderr
    assert f"{REJECTED}at-tree    -> origin/at-tree  (not a commit: a tree)" in (
        cloned.stdout.splitlines()
    )
    assert head_of(bob, again_dir) == moved
    assert (again_dir / "f.txt").read_bytes() == b"more\n"
    assert not (again_dir / "secret.txt").exists()
    assert bob.cof("branch", "-a", cwd=again_dir).stdout == "* main\n  remotes/origin/main\n"
    assert bob.cof("tag", cwd=again_dir).stdout == "v2\n"
    assert bob.cof("status", "--porcelain", cwd=again_dir).stdout == ""
    bob.cof("fsck", cwd=again_dir)
    quiet = bob.cof("clone", "-q", alice.url("proj"), "quiet", check=False)
    assert quiet.returncode == 10 and quiet.stdout == "", quiet
    assert quiet.stderr.count("\n") == 1 and quiet.stderr.startswith("cof: not fetched: ")

    git_origin = tmp_path / "g"
    _git("init", "-q", "-b", "main", git_origin, cwd=tmp_path)
    git_commit(git_origin, "f.txt", "base\n")
    git_tree = _git("rev-parse", "main^{tree}", cwd=git_origin).strip()
    (git_origin / ".git" / "refs" / "heads" / "at-tree").write_text(git_tree + "\n")
    git_b = _git_run("clone", "-b", "at-tree", git_origin, "gb", cwd=tmp_path, check=False)
    assert git_b.returncode != 0 and "non-commit" in git_b.stderr, git_b
    for name, ref, what, why in (
        ("at-tree", "refs/heads/at-tree", "branch", "not a commit: a tree"),
        ("t-tree", "refs/tags/t-tree", "tag", "not a commit or an annotated tag: a tree"),
    ):
        named = bob.cof("clone", "-b", name, alice.url("proj"), name, check=False)
        kept = bob.box.work / name
        assert named.returncode == 10 and named.stdout == "", named
        assert named.stderr == (
            f"cof: cannot check out remote {what} '{name}': {ref} ({tree[:12]}) of {url} is "
            f"{why} (what arrived is kept in '{kept}': clone into it with -b naming another "
            "branch, or none, to resume)\n"
        ), named.stderr
        assert not (kept / "f.txt").exists()
    resumed = bob.cof("clone", "-q", alice.url("proj"), "at-tree", check=False)
    assert resumed.returncode == 10 and head_of(bob, bob.box.work / "at-tree") == moved


def test_push_refuses_a_branch_naming_a_tree_the_remote_lacks_alone(
    sandbox_factory: Callable[[], CofSandbox],
) -> None:
    """A local branch written to name a tree the remote does not have: pushed alone,
    the remote refuses it in one ``[remote rejected]`` line and one error (exit 7),
    nothing written there; pushed with ``--tags``, the new tag lands beside the
    refusal ("failed to push some refs"). The remote's fsck passes."""
    alice, bob = Peer(sandbox_factory(), "Alice"), Peer(sandbox_factory(), "Bob")
    origin, copy = share_and_clone(alice, bob, {"f.txt": b"base\n"}, "--write")
    url = f"cof://127.0.0.1:{alice.port}/proj"
    first = _unreferenced_tree(bob, copy, "one.txt", b"first tree\n")
    second = _unreferenced_tree(bob, copy, "two.txt", b"second tree\n")
    heads = copy / ".cof" / "refs" / "heads"
    (heads / "at-tree").write_text(first + "\n")
    refused_line = (
        f"{REMOTE_REJECTED}at-tree -> at-tree (not a commit: a tree (a branch must name a commit))"
    )

    alone = bob.cof("push", "origin", "at-tree", cwd=copy, check=False)
    assert alone.returncode == 7, alone
    assert alone.stdout.splitlines() == [f"To {url}", refused_line], alone.stdout
    assert alone.stderr.splitlines()[-1] == (
        f"cof: push to {url} rejected: at-tree: not a commit: a tree (a branch must name a commit)"
    ), alone.stderr
    assert alone.stderr.count("cof: ") == 1, alone.stderr
    assert alice.cof("branch", cwd=origin).stdout == "* main\n"
    assert bob.cof("branch", "-r", cwd=copy).stdout == "  origin/main\n"
    quiet = bob.cof("push", "-q", "origin", "at-tree", cwd=copy, check=False)
    assert quiet.returncode == 7 and quiet.stdout == "", quiet
    assert quiet.stderr.splitlines()[:2] == [f"To {url}", refused_line], quiet.stderr

    (heads / "at-tree").write_text(second + "\n")
    tagged = commit_file(bob, copy, "f.txt", b"tagged\n", "tagged")
    bob.cof("tag", "-a", "v2", "-m", "second", cwd=copy)
    bob.cof("reset", "-q", "--hard", "HEAD~1", cwd=copy)  # v2's commit is on no branch
    both = bob.cof("push", "--tags", "origin", "at-tree", cwd=copy, check=False)
    assert both.returncode == 7, both
    assert _ref_lines(both.stdout) == [
        " * [new tag]" + " " * 19 + "v2 -> v2",
        refused_line,
    ], both.stdout
    assert both.stderr.splitlines()[-1] == f"cof: failed to push some refs to {url}"
    assert alice.cof("branch", cwd=origin).stdout == "* main\n"
    assert alice.cof("tag", cwd=origin).stdout == "v2\n"
    peeled = alice.cof("rev-parse", "v2^{commit}", cwd=origin).stdout.strip()
    assert peeled == tagged
    alice.cof("fsck", cwd=origin)
    (heads / "at-tree").unlink()  # the pusher's own hand-made ref: fsck flags it
    bob.cof("fsck", cwd=copy)
    # The receiving daemon goes on serving and receiving.
    landed = commit_file(bob, copy, "f.txt", b"after\n", "after")
    bob.cof("push", "-q", "origin", "main", cwd=copy)
    assert head_of(alice, origin) == landed


def test_quiet_fetch_names_the_tag_it_kept(pair: tuple[Peer, Peer], tmp_path: Path) -> None:
    """``fetch -q`` keeping a local tag the remote moved: as git's, no ref line at all
    (git's ``fetch -q`` prints nothing and fails); cof's one error line names the
    tag, exit 7, and the tag is kept."""
    alice, bob = pair
    origin, copy = share_and_clone(alice, bob, {"f.txt": b"base\n"})
    alice.cof("tag", "v1", cwd=origin)
    bob.cof("fetch", "-q", cwd=copy)
    kept = head_of(bob, copy)
    commit_file(alice, origin, "f.txt", b"more\n", "more")
    alice.cof("tag", "-f", "v1", cwd=origin)
    _, git_a, git_b = git_side(tmp_path)
    _git("tag", "v1", cwd=git_a)
    _git("push", "-q", "origin", "v1", cwd=git_a)
    _git("fetch", "-q", "--tags", cwd=git_b)
    git_commit(git_a, "f.txt", "more\n")
    _git("tag", "-f", "v1", cwd=git_a)
    _git("push", "-q", "-f", "origin", "main", "v1", cwd=git_a)

    git_quiet = _git_run("fetch", "-q", "--tags", cwd=git_b, check=False)
    assert git_quiet.returncode != 0 and "[rejected]" not in git_quiet.stderr, git_quiet
    quiet = bob.cof("fetch", "-q", cwd=copy, check=False)
    assert quiet.returncode == 7 and quiet.stdout == "", quiet
    assert quiet.stderr == (
        "cof: the local tag v1 differs from the remote's and was kept "
        "(cof fetch --force takes the remote's)\n"
    ), quiet.stderr
    assert bob.cof("rev-parse", "v1", cwd=copy).stdout.strip() == kept

    alice.cof("tag", "-f", "v2", cwd=origin)
    bob.cof("tag", "v2", "HEAD", cwd=copy)
    two = bob.cof("fetch", "-q", cwd=copy, check=False)
    assert two.returncode == 7 and two.stderr == (
        "cof: the local tags v1, v2 differ from the remote's and were kept "
        "(cof fetch --force takes the remote's)\n"
    ), two.stderr
    loud = bob.cof("fetch", cwd=copy, check=False)  # the ref lines name them
    assert loud.returncode == 7 and "-> v1  (would clobber existing tag)" in loud.stdout
    assert loud.stderr.splitlines()[-1] == (
        "cof: 2 local tags differ from the remote's and were kept "
        "(cof fetch --force takes the remote's)"
    )
