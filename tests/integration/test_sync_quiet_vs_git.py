"""``-q`` for ``clone``, ``fetch`` and ``push``, and the message of the merge ``pull``
makes, each next to git doing the same against a bare repository.

As git: ``-q`` prints nothing when all went well (no progress, no transfer summary,
no ref lines, no "Everything up-to-date", no upstream line for ``push -u``); errors
are kept (a refused push, a tag ``fetch`` kept), and so is ``clone``'s warning about
a remote with no branch. git's ``push -q`` also prints the ref lines (on stderr) when
a ref was refused, and so does cof's, before its one error line.

``pull`` records git's ``Merge branch 'B' of URL`` (``into CURRENT`` unless on main),
the URL being the remote's (for cof without its key; git drops a trailing ``.git``).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.integration.conftest import CofSandbox
from tests.integration.test_sync import (
    Peer,
    _git,
    _git_run,
    commit_file,
    pair,
    share_and_clone,
)

__all__ = ["pair"]  # a fixture, used by name


def silent(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result
    assert (result.stdout, result.stderr) == ("", ""), result


def git_commit(repo: Path, name: str, data: str) -> None:
    (repo / name).write_text(data)
    _git("add", name, cwd=repo)
    _git("commit", "-q", "-m", data.strip(), cwd=repo)


def git_side(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A bare origin.git with one commit, cloned (quietly) as a (writer) and b."""
    origin, a, b = tmp_path / "origin.git", tmp_path / "a", tmp_path / "b"
    _git("init", "-q", "--bare", "-b", "main", origin, cwd=tmp_path)
    _git("clone", "-q", origin, a, cwd=tmp_path)
    git_commit(a, "f.txt", "base\n")
    _git("push", "-q", "origin", "main", cwd=a)
    silent(_git_run("clone", "-q", origin, b, cwd=tmp_path))
    return origin, a, b


def test_quiet_clone_fetch_and_push_print_only_errors(
    pair: tuple[Peer, Peer], tmp_path: Path
) -> None:
    alice, bob = pair
    origin, _ = share_and_clone(alice, bob, {"f.txt": b"base\n"}, "--write")
    _, git_a, git_b = git_side(tmp_path)
    silent(bob.cof("clone", "-q", alice.url("proj"), "quiet"))
    copy = bob.box.work / "quiet"

    commit_file(alice, origin, "f.txt", b"alice\n", "alice")
    alice.cof("tag", "v1", cwd=origin)
    git_commit(git_a, "f.txt", "alice\n")
    _git("tag", "v1", cwd=git_a)
    _git("push", "-q", "--tags", "origin", "main", cwd=git_a)
    silent(_git_run("fetch", "-q", cwd=git_b))
    silent(bob.cof("fetch", "-q", cwd=copy))
    assert "v1" in bob.cof("tag", cwd=copy).stdout

    _git("merge", "-q", "--ff-only", "origin/main", cwd=git_b)
    bob.cof("merge", "-q", "origin/main", cwd=copy)
    git_commit(git_b, "g.txt", "bob\n")
    commit_file(bob, copy, "f.txt", b"bob\n", "bob")
    silent(_git_run("push", "-q", cwd=git_b))
    silent(bob.cof("push", "-q", cwd=copy))
    silent(_git_run("push", "-q", cwd=git_b))  # up to date
    silent(bob.cof("push", "-q", cwd=copy))
    _git("checkout", "-q", "-b", "topic", cwd=git_b)
    bob.cof("checkout", "-q", "-b", "topic", cwd=copy)
    silent(_git_run("push", "-q", "-u", "origin", "topic", cwd=git_b))
    silent(bob.cof("push", "-q", "-u", "origin", "topic", cwd=copy))
    assert "[origin/topic]" in bob.cof("branch", "-vv", cwd=copy).stdout

    # A refused push still says why (git's ref lines on stderr, then the error), and fails.
    commit_file(alice, origin, "f.txt", b"alice again\n", "again")
    bob.cof("checkout", "-q", "main", cwd=copy)
    commit_file(bob, copy, "f.txt", b"bob on main\n", "bob on main")
    refused = bob.cof("push", "-q", cwd=copy, check=False)
    assert refused.returncode == 7 and refused.stdout == "", refused
    assert refused.stderr.startswith("To cof://") and " ! [rejected]" in refused.stderr
    assert refused.stderr.splitlines()[-1].startswith("cof: push to "), refused.stderr

    # A tag kept by fetch: git -q prints nothing and fails; cof fails with its error.
    alice.cof("tag", "-d", "v1", cwd=origin)
    alice.cof("tag", "v1", "HEAD~1", cwd=origin)
    kept = bob.cof("fetch", "-q", cwd=copy, check=False)
    assert kept.returncode != 0 and kept.stdout == "" and kept.stderr.startswith("cof: "), kept
    assert "--force" in kept.stderr and kept.stderr.count("\n") == 1, kept.stderr


def test_quiet_clone_keeps_the_no_branch_warning(
    sandbox_factory: Callable[[], CofSandbox], tmp_path: Path
) -> None:
    alice, bob = Peer(sandbox_factory(), "Alice"), Peer(sandbox_factory(), "Bob")
    empty = alice.box.work / "empty"
    alice.cof("init", empty)
    alice.cof("share", "proj", cwd=empty)
    alice.cof("peer", "grant", bob.key, "proj", "--read")
    _git("init", "-q", "--bare", "-b", "main", tmp_path / "empty.git", cwd=tmp_path)
    git = _git_run("clone", "-q", tmp_path / "empty.git", tmp_path / "e", cwd=tmp_path)
    assert git.stdout == "" and git.stderr.startswith("warning: "), git
    cloned = bob.cof("clone", "-q", alice.url("proj"), "e")
    assert cloned.stdout == "" and cloned.stderr.startswith("warning: "), cloned


def test_pull_merge_message_is_gits(pair: tuple[Peer, Peer], tmp_path: Path) -> None:
    alice, bob = pair
    origin, copy = share_and_clone(alice, bob, {"f.txt": b"base\n"})
    git_origin, git_a, git_b = git_side(tmp_path)
    cof_url, git_url = f"cof://127.0.0.1:{alice.port}/proj", str(git_origin.with_suffix(""))

    def pull_both(branch: str) -> None:
        git_commit(git_a, "f.txt", f"alice {branch}\n")
        _git("push", "-q", "origin", "main", cwd=git_a)
        git_commit(git_b, f"{branch}.txt", "bob\n")
        commit_file(alice, origin, "f.txt", f"alice {branch}\n".encode(), "alice")
        commit_file(bob, copy, f"{branch}.txt", b"bob\n", "bob")
        _git("pull", "-q", "--no-rebase", "--no-edit", cwd=git_b)
        bob.cof("pull", "-q", cwd=copy)
        git = _git("log", "-1", "--format=%B", cwd=git_b).rstrip("\n")
        cof = json.loads(bob.cof("log", "-n", "1", "--json", cwd=copy).stdout)[0]["message"]
        assert cof.rstrip("\n").replace(cof_url, "URL") == git.replace(git_url, "URL"), (cof, git)
        assert git.startswith(f"Merge branch 'main' of {git_url}"), git

    pull_both("main")
    assert "Merge branch 'main' of cof://127.0.0.1:" in bob.cof("log", "-n", "1", cwd=copy).stdout
    _git("checkout", "-q", "-b", "topic", "--track", "origin/main", cwd=git_b)
    bob.cof("checkout", "-q", "-b", "topic", cwd=copy)
    bob.cof("branch", "-u", "origin/main", cwd=copy)
    pull_both("topic")  # "... into topic"
    assert bob.cof("log", "-n", "1", cwd=copy).stdout.count(" into topic") == 1
