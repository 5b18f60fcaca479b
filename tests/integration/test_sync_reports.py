"""What sync says, between two real daemons, beside git where git has the concept.

A wrong server key, a ``--key`` contradicting the URL, git's ref lines for push and
fetch (forced updates, new branches and tags, rejections), and tags over sync: ``push
NAME`` of a tag, ``push --tags``, and a fetch that keeps a local tag the remote moved
unless ``--force``. git runs with ``core.abbrev = 12``: cof shows 12-digit ids, and
git's summary column is as wide as the ids it shows (``2 * abbrev + 3``).
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from protocol.peer.crypto import Identity
from tests.integration.conftest import CofSandbox
from tests.integration.test_sync import (
    FAST_NETWORK,
    Peer,
    _git,
    _git_run,
    commit_file,
    head_of,
    make_origin,
    share_and_clone,
    two_writers,
)

_IDS = re.compile(r"\b[0-9a-f]{12}\b")


def _mask(lines: list[str]) -> list[str]:
    return [_IDS.sub("<id>", line) for line in lines]


def _git12(*args: str | Path, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    return _git_run("-c", "core.abbrev=12", *args, cwd=cwd, check=check)


def _ref_lines(text: str) -> list[str]:
    """The ref lines of a fetch's or push's report (not "From"/"To", hints, errors)."""
    return _mask([line for line in text.splitlines() if line[:1] == " " and "->" in line])


def _git_commit(repo: Path, rel: str, text: str, message: str) -> None:
    (repo / rel).write_text(text)
    _git("add", rel, cwd=repo)
    _git("commit", "-q", "-m", message, cwd=repo)


def _git_bare_and_clones(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A bare git repository with one commit on main, and two clones of it."""
    bare, one, two = tmp_path / "bare.git", tmp_path / "one", tmp_path / "two"
    _git("init", "-q", "--bare", "-b", "main", bare, cwd=tmp_path)
    _git("clone", "-q", bare, one, cwd=tmp_path)
    _git("symbolic-ref", "HEAD", "refs/heads/main", cwd=one)
    _git_commit(one, "f.txt", "base\n", "initial")
    _git("push", "-q", "-u", "origin", "main", cwd=one)
    _git("clone", "-q", bare, two, cwd=tmp_path)
    return bare, one, two


def _tag_value(peer: Peer, repo: Path, name: str) -> str | None:
    for tag in json.loads(peer.cof("tag", "--json", cwd=repo).stdout):
        if tag["name"] == name:
            return str(tag["commit"])
    return None


def test_a_wrong_server_key_is_named_when_the_handshake_goes_unanswered(
    sandbox_factory: Callable[[], CofSandbox],
) -> None:
    """A server drops an INIT made for another key without a word (it must not answer
    strangers), so the client can only time out: it says which key it used and where
    that key comes from, in one line, and leaves nothing behind."""
    alice = Peer(sandbox_factory(), "Alice")
    bob = Peer(sandbox_factory(), "Bob", FAST_NETWORK)
    origin = make_origin(alice, {"f.txt": b"base\n"})
    alice.cof("peer", "grant", bob.key, "proj", "--read")
    wrong = Identity.generate().public.hex()
    url = f"cof://{wrong}@127.0.0.1:{alice.port}/proj"

    started = time.monotonic()
    failed = bob.cof("clone", url, "copy", check=False)
    assert failed.returncode == 15, failed.stderr
    assert len(failed.stderr.splitlines()) == 1, failed.stderr
    assert "did not answer the handshake within 0.8 s" in failed.stderr
    assert f"is {wrong[:16]}… the key 'cof peer key' shows on that machine" in failed.stderr
    assert "is its cofd running and listening on that address?" in failed.stderr
    assert time.monotonic() - started < 10
    assert not (bob.box.work / "copy").exists()

    # The same for a remote whose key went stale (fetch, push).
    bob.cof("clone", alice.url("proj"), "copy")
    copy = bob.box.work / "copy"
    bob.cof("remote", "set-url", "origin", url, cwd=copy)
    commit_file(alice, origin, "f.txt", b"more\n", "more")
    for args in (("fetch",), ("push",)):
        failed = bob.cof(*args, cwd=copy, check=False)
        assert failed.returncode == 15 and len(failed.stderr.splitlines()) == 1, failed.stderr
        assert f"is {wrong[:16]}… the key 'cof peer key' shows" in failed.stderr


def test_a_key_option_contradicting_the_url_is_refused(
    sandbox_factory: Callable[[], CofSandbox],
) -> None:
    """`clone cof://K2@... --key K1` and `remote add NAME cof://K2@... --key K1`: one
    line, exit 2 (usage), nothing made; the same key twice (any case) is fine."""
    alice = Peer(sandbox_factory(), "Alice")
    bob = Peer(sandbox_factory(), "Bob", FAST_NETWORK)
    make_origin(alice, {"f.txt": b"base\n"})
    alice.cof("peer", "grant", bob.key, "proj", "--read")
    other = Identity.generate().public.hex()

    refused = bob.cof("clone", alice.url("proj"), "copy", "--key", other, check=False)
    assert refused.returncode == 2, refused.stderr
    assert len(refused.stderr.splitlines()) == 1
    assert f"the key in the URL ({alice.key[:16]}…) and --key ({other[:16]}…) differ" in (
        refused.stderr
    )
    assert not (bob.box.work / "copy").exists()

    bob.cof("clone", alice.url("proj"), "copy", "--key", alice.key.upper())
    copy = bob.box.work / "copy"
    assert (copy / "f.txt").read_bytes() == b"base\n"
    remotes = (copy / ".cof" / "remotes.toml").read_text()
    refused = bob.cof(
        "remote", "add", "up", alice.url("proj"), "--key", other, cwd=copy, check=False
    )
    assert refused.returncode == 2 and "differ" in refused.stderr, refused.stderr
    assert (copy / ".cof" / "remotes.toml").read_text() == remotes


def test_push_force_shows_the_value_the_remote_had_as_git_does(
    sandbox_factory: Callable[[], CofSandbox], tmp_path: Path
) -> None:
    """Bob's origin/main is stale (Carol pushed since); his forced push prints the
    commit it replaced on the remote, in git's line. A fast-forward and a new branch
    get git's lines too. The same steps run on a bare git repository and two clones."""
    alice, bob, carol, origin, bob_copy, carol_copy = two_writers(sandbox_factory)
    _, git_carol, git_bob = _git_bare_and_clones(tmp_path)
    url = f"cof://127.0.0.1:{alice.port}/proj"

    stale = head_of(bob, bob_copy)
    commit_file(carol, carol_copy, "f.txt", b"carol\n", "carol")
    carols = head_of(carol, carol_copy)
    fast = carol.cof("push", cwd=carol_copy)
    _git_commit(git_carol, "f.txt", "carol\n", "carol")
    git_fast = _git12("push", cwd=git_carol)
    assert fast.stdout.splitlines()[1] == f"   {stale[:12]}..{carols[:12]}  main -> main"
    assert _ref_lines(fast.stdout) == _ref_lines(git_fast.stderr)

    mine = commit_file(bob, bob_copy, "f.txt", b"bob\n", "bob")
    forced = bob.cof("push", "--force", cwd=bob_copy)
    _git_commit(git_bob, "f.txt", "bob\n", "bob")
    git_forced = _git12("push", "--force", cwd=git_bob)
    assert forced.stdout.splitlines() == [
        f"To {url}",
        f" + {carols[:12]}...{mine[:12]} main -> main (forced update)",
    ]
    assert _ref_lines(forced.stdout) == _ref_lines(git_forced.stderr)
    assert head_of(alice, origin) == mine
    assert (
        json.loads(bob.cof("log", "-n", "1", "--json", "origin/main", cwd=bob_copy).stdout)[0]["id"]
        == mine
    )

    bob.cof("checkout", "-b", "topic", cwd=bob_copy)
    _git("checkout", "-q", "-b", "topic", cwd=git_bob)
    new = bob.cof("push", "origin", "topic", cwd=bob_copy)
    git_new = _git12("push", "origin", "topic", cwd=git_bob)
    assert new.stdout.splitlines()[1] == " * [new branch]" + " " * 16 + "topic -> topic"
    assert _ref_lines(new.stdout) == _ref_lines(git_new.stderr)


def test_fetch_shows_a_rewritten_branch_as_a_forced_update_as_git_does(
    sandbox_factory: Callable[[], CofSandbox], tmp_path: Path
) -> None:
    """The remote rewrites feature, moves main on and makes a branch: cof's fetch
    prints git's lines for each (``+ old...new feature -> origin/feature (forced
    update)``), and its JSON says how each ref moved."""
    alice, bob = Peer(sandbox_factory(), "Alice"), Peer(sandbox_factory(), "Bob")
    origin, copy = share_and_clone(alice, bob, {"f.txt": b"base\n"}, "--read", "feature")
    git_origin, git_copy = tmp_path / "origin", tmp_path / "copy"
    _git("init", "-q", "-b", "main", git_origin, cwd=tmp_path)
    _git_commit(git_origin, "f.txt", "base\n", "initial")
    _git("branch", "feature", cwd=git_origin)
    _git("clone", "-q", git_origin, git_copy, cwd=tmp_path)

    def both_fetch() -> tuple[str, str]:
        ours = bob.cof("fetch", cwd=copy).stdout
        theirs = _git12("fetch", cwd=git_copy).stderr
        assert _ref_lines(ours) == _ref_lines(theirs), (ours, theirs)
        return ours, theirs

    # feature moves on: a fast-forward.
    alice.cof("checkout", "feature", cwd=origin)
    commit_file(alice, origin, "g.txt", b"on feature\n", "on feature")
    alice.cof("checkout", "main", cwd=origin)
    _git("checkout", "-q", "feature", cwd=git_origin)
    _git_commit(git_origin, "g.txt", "on feature\n", "on feature")
    _git("checkout", "-q", "main", cwd=git_origin)
    ours, _ = both_fetch()
    assert len(_ref_lines(ours)) == 1 and "-> origin/feature" in ours

    # feature rewritten from main, main moved on, a new branch: three kinds of line.
    before = head_of(bob, copy)
    old_feature = json.loads(bob.cof("log", "-n", "1", "--json", "origin/feature", cwd=copy).stdout)
    alice.cof("checkout", "-b", "redo", cwd=origin)
    redone = commit_file(alice, origin, "r.txt", b"redone\n", "redone")
    alice.cof("checkout", "main", cwd=origin)
    alice.cof("branch", "-f", "feature", "redo", cwd=origin)
    moved = commit_file(alice, origin, "f.txt", b"more\n", "more")
    _git("checkout", "-q", "-b", "redo", cwd=git_origin)
    _git_commit(git_origin, "r.txt", "redone\n", "redone")
    _git("checkout", "-q", "main", cwd=git_origin)
    _git("branch", "-f", "feature", "redo", cwd=git_origin)
    _git_commit(git_origin, "f.txt", "more\n", "more")
    ours, theirs = both_fetch()
    old = old_feature[0]["id"]
    assert (
        ours.splitlines()[1:]
        == [  # git's order: the upstream first
            f"   {before[:12]}..{moved[:12]}  main       -> origin/main",
            f" + {old[:12]}...{redone[:12]} feature    -> origin/feature  (forced update)",
            " * [new branch]" + " " * 16 + "redo       -> origin/redo",
        ]
    )
    assert len(_ref_lines(theirs)) == 3

    # Nothing new: nothing said. JSON: the status of each ref.
    assert bob.cof("fetch", cwd=copy).stdout == ""
    alice.cof("branch", "-f", "redo", "main", cwd=origin)
    result = json.loads(bob.cof("fetch", "--json", cwd=copy).stdout)
    assert result["updated"] == [
        {
            "ref": "refs/remotes/origin/redo",
            "old": redone,
            "new": moved,
            "status": "forced",
            "reason": "",
        }
    ]
    assert result["rejected"] == []


def test_push_of_tags_as_git_does(
    sandbox_factory: Callable[[], CofSandbox], tmp_path: Path
) -> None:
    """`push REMOTE TAG` and `push --tags` send tags (an annotated tag's object and a
    tagged commit the remote lacks with them); a tag the remote has at another commit
    is refused ("already exists") unless --force, as git's: alone, in one line and
    nothing sent; beside tags that go, reported among their lines and exit 7."""
    alice, bob = Peer(sandbox_factory(), "Alice"), Peer(sandbox_factory(), "Bob")
    origin, copy = share_and_clone(alice, bob, {"f.txt": b"base\n"}, "--write")
    _, git_copy, _ = _git_bare_and_clones(tmp_path)
    base = head_of(bob, copy)

    def both(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        ours = bob.cof("push", *args, cwd=copy, check=False)
        theirs = _git12("push", *args, cwd=git_copy, check=False)
        assert (ours.returncode == 0) == (theirs.returncode == 0) == ok, (ours, theirs)
        assert _ref_lines(ours.stdout) == _ref_lines(theirs.stderr), (ours, theirs)
        return ours

    def tag(*args: str) -> None:
        bob.cof("tag", *args, cwd=copy)
        _git("tag", *args, cwd=git_copy)

    tag("v1")
    pushed = both("origin", "v1")
    assert pushed.stdout.splitlines()[1] == " * [new tag]" + " " * 19 + "v1 -> v1"
    assert _tag_value(alice, origin, "v1") == base

    # An annotated tag, and a lightweight one on a commit only Bob has.
    tag("-a", "v2", "-m", "second")
    unpushed = commit_file(bob, copy, "g.txt", b"unpushed\n", "unpushed")
    _git_commit(git_copy, "g.txt", "unpushed\n", "unpushed")
    tag("v3")
    pushed = both("--tags")
    assert len(_ref_lines(pushed.stdout)) == 2
    tags = {t["name"]: t for t in json.loads(alice.cof("tag", "--json", cwd=origin).stdout)}
    assert tags["v2"]["annotated"] and tags["v2"]["commit"] == base
    assert tags["v3"]["commit"] == unpushed and not tags["v3"]["annotated"]
    assert head_of(alice, origin) == base  # --tags pushes tags only, as git's
    alice.cof("fsck", cwd=origin)
    assert bob.cof("push", "--tags", cwd=copy).stdout == "Everything up-to-date\n"

    # v1 moved here: refused alone (one line, nothing sent), then beside a new tag.
    tag("-f", "v1")
    refused = bob.cof("push", "origin", "v1", cwd=copy, check=False)
    assert refused.returncode == 7 and len(refused.stderr.splitlines()) == 1, refused.stderr
    assert "v1: the remote has this tag at another commit (already exists" in refused.stderr
    assert _git12("push", "origin", "v1", cwd=git_copy, check=False).returncode != 0
    tag("v4")
    partly = both("--tags", ok=False)
    assert partly.returncode == 7 and partly.stderr.splitlines()[-1].startswith(
        "cof: failed to push some refs to cof://"
    )
    assert _ref_lines(partly.stdout) == [
        " * [new tag]" + " " * 19 + "v4 -> v4",
        " ! [rejected]" + " " * 18 + "v1 -> v1 (already exists)",
    ]
    assert _tag_value(alice, origin, "v1") == base
    assert _tag_value(alice, origin, "v4") == unpushed

    forced = both("--force", "origin", "v1")
    assert forced.stdout.splitlines()[1] == (
        f" + {base[:12]}...{unpushed[:12]} v1 -> v1 (forced update)"
    )
    assert _tag_value(alice, origin, "v1") == unpushed

    # Bad names: one line, nothing pushed.
    bob.cof("branch", "v4", cwd=copy)
    for args, code, why in (
        (("origin", "nope"), 4, "no local branch or tag 'nope'"),
        (("origin", "v4"), 2, "'v4' is both a branch and a tag"),
        (("origin", "v4", "--tags", "--delete"), 2, "--delete"),
    ):
        bad = bob.cof("push", *args, cwd=copy, check=False)
        assert bad.returncode == code and why in bad.stderr, (args, bad.stderr)
        assert len(bad.stderr.splitlines()) == 1
    assert "v4" not in alice.cof("branch", cwd=origin).stdout
    bob.cof("push", "origin", "refs/heads/v4", cwd=copy)
    assert "  v4\n" in alice.cof("branch", cwd=origin).stdout


def test_fetch_keeps_a_tag_the_remote_moved_unless_forced_as_git_does(
    sandbox_factory: Callable[[], CofSandbox], tmp_path: Path
) -> None:
    """A tag moved on the remote: fetch keeps the local one and says so in git's line
    (``! [rejected] v1 -> v1 (would clobber existing tag)``, as git's `fetch --tags`),
    exits 7, and still moves branches and makes new tags; `fetch --force` replaces it
    (``t [tag update]``)."""
    alice, bob = Peer(sandbox_factory(), "Alice"), Peer(sandbox_factory(), "Bob")
    origin = make_origin(alice, {"f.txt": b"base\n"})
    alice.cof("tag", "v1", cwd=origin)
    alice.cof("peer", "grant", bob.key, "proj", "--read")
    bob.cof("clone", alice.url("proj"), "copy")
    copy = bob.box.work / "copy"
    base = head_of(bob, copy)
    git_origin, git_copy = tmp_path / "origin", tmp_path / "copy"
    _git("init", "-q", "-b", "main", git_origin, cwd=tmp_path)
    _git_commit(git_origin, "f.txt", "base\n", "initial")
    _git("tag", "v1", cwd=git_origin)
    _git("clone", "-q", git_origin, git_copy, cwd=tmp_path)

    moved = commit_file(alice, origin, "f.txt", b"more\n", "more")
    alice.cof("tag", "-f", "v1", cwd=origin)
    alice.cof("tag", "-a", "v2", "-m", "second", cwd=origin)
    _git_commit(git_origin, "f.txt", "more\n", "more")
    _git("tag", "-f", "v1", cwd=git_origin)
    _git("tag", "-a", "v2", "-m", "second", cwd=git_origin)

    kept = bob.cof("fetch", cwd=copy, check=False)
    git_kept = _git12("fetch", "--tags", cwd=git_copy, check=False)
    assert kept.returncode == 7 and git_kept.returncode != 0, (kept.stderr, git_kept.stderr)
    assert _ref_lines(kept.stdout) == _ref_lines(git_kept.stderr), (kept.stdout, git_kept.stderr)
    assert " ! [rejected]" + " " * 18 + "v1         -> v1  (would clobber existing tag)" in (
        kept.stdout.splitlines()
    )
    assert kept.stderr.splitlines()[-1] == (
        "cof: a local tag differs from the remote's and was kept "
        "(cof fetch --force takes the remote's)"
    )
    assert _tag_value(bob, copy, "v1") == base
    assert _tag_value(bob, copy, "v2") == moved
    assert (
        json.loads(bob.cof("log", "-n", "1", "--json", "origin/main", cwd=copy).stdout)[0]["id"]
        == moved
    )
    again = bob.cof("fetch", "--json", cwd=copy, check=False)
    assert again.returncode == 7
    assert json.loads(again.stdout)["rejected"] == [
        {
            "ref": "refs/tags/v1",
            "old": base,
            "new": moved,
            "status": "rejected",
            "reason": "would clobber existing tag",
        }
    ]

    forced = bob.cof("fetch", "--force", cwd=copy)
    git_forced = _git12("fetch", "--tags", "--force", cwd=git_copy)
    assert _ref_lines(forced.stdout) == _ref_lines(git_forced.stderr)
    assert _ref_lines(forced.stdout) == [" t [tag update]" + " " * 16 + "v1         -> v1"]
    assert _tag_value(bob, copy, "v1") == moved
    assert bob.cof("fetch", cwd=copy).stdout == ""
