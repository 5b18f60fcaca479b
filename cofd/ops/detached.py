"""What git calls a detached HEAD in ``status`` and ``branch``.

git names a detached HEAD after the newest checkout in HEAD's reflog ("checkout:
moving from A to B"): B when B is a ref (tags and remote-tracking branches by their
short name, a branch by its full name) that still names the commit the checkout
arrived at, else that commit's abbreviated id. "at" while HEAD is still that commit,
"from" once commits were made (or a reset moved it) since. With no checkout in the
reflog (``clone -b TAG``) there is nothing to name it after: "(no branch)".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cofd.ops.repository import Repository
from cofd.ops.revisions import refs_named

_CHECKOUT_TO = re.compile(r"^checkout: moving from \S+ to (?P<target>\S+)$")
# Shown by their short name; any other ref (a branch) by its full name, as git.
_SHORTENED = ("refs/tags/", "refs/remotes/")


@dataclass(frozen=True, slots=True)
class Detached:
    name: str  # the ref, or the abbreviated commit id, HEAD was detached at
    at: bool  # HEAD is still there ("at"), or has moved on ("from")


def detached_head(repo: Repository) -> Detached | None:
    """How git describes the detached HEAD; None when the reflog records no checkout
    (or HEAD is on a branch, or has no commit)."""
    head = repo.refs.head()
    if head is None or repo.refs.head_target() is not None:
        return None
    for entry in repo.refs.reflog("HEAD"):
        match = _CHECKOUT_TO.match(entry.message)
        if match is None or entry.new is None:
            continue
        return Detached(_name_of(repo, match["target"], entry.new), entry.new == head)
    return None


def _name_of(repo: Repository, target: str, arrived: bytes) -> str:
    refs = list(refs_named(repo, target))
    # One ref under refs/ (not HEAD, nor an ambiguous name) still naming the commit.
    if len(refs) == 1 and refs[0].startswith("refs/"):
        value = repo.refs.read(refs[0])
        if value is not None and repo.objects.peel(value) == arrived:
            for prefix in _SHORTENED:
                if refs[0].startswith(prefix):
                    return refs[0].removeprefix(prefix)
            return refs[0]
    return arrived.hex()[:12]


def detached_fields(repo: Repository) -> dict[str, object]:
    """The fields ``status`` and ``branch`` report about a detached HEAD:
    ``detached_name`` (None: git's "no branch"), ``detached_at`` and ``no_branch``."""
    if repo.refs.head_target() is not None:
        return {}
    found = detached_head(repo)
    return {
        "detached_name": found.name if found else None,
        "detached_at": found.at if found else False,
        "no_branch": found is None,  # git's "Not currently on any branch."
    }
