"""``cof push REMOTE --delete TAG`` (and ``:refs/tags/TAG``) between two real daemons,
beside git's ``push --delete`` on a bare repository (``core.abbrev = 12``, cof's ids:
git's summary column is as wide as those make it)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.integration.conftest import CofSandbox
from tests.integration.test_sync import Peer, _git, share_and_clone
from tests.integration.test_sync_reports import _git12, _git_bare_and_clones


def _deleted_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(" - ")]


def _tags(peer: Peer, repo: Path) -> list[str]:
    return [t["name"] for t in json.loads(peer.cof("tag", "--json", cwd=repo).stdout)]


def test_push_delete_deletes_a_remote_tag_as_git_does(
    sandbox_factory: Callable[[], CofSandbox], tmp_path: Path
) -> None:
    """`push origin --delete v1` (a bare name) and `push origin :refs/tags/v2` (an
    annotated tag) delete the remote's tags with git's line and keep the local ones;
    a name that is both a branch and a tag there is refused until spelled out, one the
    remote lacks is refused, and a read-only peer may not delete."""
    alice, bob = Peer(sandbox_factory(), "Alice"), Peer(sandbox_factory(), "Bob")
    origin, copy = share_and_clone(alice, bob, {"f.txt": b"base\n"}, "--write")
    _, git_copy, _ = _git_bare_and_clones(tmp_path)
    url = f"cof://127.0.0.1:{alice.port}/proj"
    for args in (("v1",), ("-a", "v2", "-m", "annotated"), ("both",)):
        bob.cof("tag", *args, cwd=copy)
        _git("tag", *args, cwd=git_copy)
    bob.cof("branch", "both", cwd=copy)
    _git("branch", "both", cwd=git_copy)
    bob.cof("push", "--tags", cwd=copy)
    bob.cof("push", "origin", "refs/heads/both", cwd=copy)
    _git12("push", "-q", "--tags", cwd=git_copy)
    _git12("push", "-q", "origin", "refs/heads/both", cwd=git_copy)
    assert _tags(alice, origin) == ["both", "v1", "v2"]

    for args in (("--delete", "v1"), (":refs/tags/v2",)):
        ours = bob.cof("push", "origin", *args, cwd=copy)
        theirs = _git12("push", "origin", *args, cwd=git_copy)
        assert ours.stdout == f"To {url}\n - [deleted]" + " " * 19 + args[-1].split("/")[-1] + "\n"
        assert _deleted_lines(ours.stdout) == _deleted_lines(theirs.stderr), (ours, theirs)
    assert _tags(alice, origin) == ["both"]
    assert _tags(bob, copy) == ["both", "v1", "v2"]  # as git's: the local tags stay
    alice.cof("fsck", cwd=origin)

    # Gone there (git's refusal too, but for a full name); both a branch and a tag there.
    for args, code, why in (
        (("--delete", "v1"), 4, "the remote 'origin' has no branch 'v1' (nor a tag"),
        (("--delete", "refs/tags/v2"), 4, "the remote 'origin' has no tag 'v2'"),
        (("--delete", "both"), 2, "has both a branch and a tag 'both'"),
    ):
        refused = bob.cof("push", "origin", *args, cwd=copy, check=False)
        assert refused.returncode == code and why in refused.stderr, (args, refused.stderr)
        assert len(refused.stderr.splitlines()) == 1, refused.stderr
        if not args[-1].startswith("refs/"):  # git deletes a full name it lacks, and warns
            assert _git12("push", "origin", *args, cwd=git_copy, check=False).returncode != 0
    assert _tags(alice, origin) == ["both"]
    deleted = bob.cof("push", "origin", "--delete", "refs/tags/both", cwd=copy)
    assert deleted.stdout.endswith(" - [deleted]" + " " * 19 + "both\n"), deleted.stdout
    assert _tags(alice, origin) == []
    assert "  both\n" in alice.cof("branch", cwd=origin).stdout  # the branch stays

    # A read grant does not delete.
    alice.cof("tag", "v3", cwd=origin)
    alice.cof("peer", "grant", bob.key, "proj", "--read")
    denied = bob.cof("push", "origin", "--delete", "v3", cwd=copy, check=False)
    assert denied.returncode == 16 and "write" in denied.stderr, denied.stderr
    assert _tags(alice, origin) == ["v3"]
