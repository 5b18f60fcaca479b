"""Which commits ``cherry-pick`` and ``revert`` apply, in which order, as git picks
them from its arguments.

- ``REV...`` (no range): those commits, in the order given (each once);
- ``A..B`` (either side may be left out: HEAD) and ``^A B``: the commits reachable
  from the positive revisions and not from any negative one, walked as ``log``
  walks them (newest first; merges included, refused later unless ``-m``); a
  cherry-pick applies them oldest first, a revert newest first.

A first argument ``-`` means ``@{-1}`` (the branch checked out before), as in git.
One plain revision is a *single* pick, which keeps no series state (git's rule:
``git cherry-pick C`` may even run in the middle of a stopped series).
"""

from __future__ import annotations

from dataclasses import dataclass

from cofd.objects.model import Commit, CommitId
from cofd.ops.history import ancestors, walk_commits
from cofd.ops.repository import Repository
from cofd.ops.revisions import resolve
from protocol.errors import UsageError

MAX_ARGS = 4096  # revisions on one command line (a range is one)


@dataclass(frozen=True, slots=True)
class Selection:
    commits: list[CommitId]
    single: bool  # one plain revision: no series state


def _split(repo: Repository, args: list[str]) -> tuple[list[CommitId], list[CommitId], bool]:
    """(positive, negative, any range syntax) revisions of the arguments."""
    positive: list[CommitId] = []
    negative: list[CommitId] = []
    ranged = False
    for arg in args:
        if arg.startswith("^") and len(arg) > 1:
            negative.append(resolve(repo, arg[1:]))
            ranged = True
        elif ".." in arg:
            left, _, right = arg.partition("..")
            negative.append(resolve(repo, left or "HEAD"))
            positive.append(resolve(repo, right or "HEAD"))
            ranged = True
        else:
            positive.append(resolve(repo, arg))
    return positive, negative, ranged


def select(repo: Repository, args: list[str], oldest_first: bool) -> Selection:
    """The commits ``args`` name, in the order they are applied."""
    if not args:
        raise UsageError("no commit given")
    if len(args) > MAX_ARGS:
        raise UsageError(f"at most {MAX_ARGS} revisions at a time")
    if args[0] == "-":  # as git: the previously checked out branch
        args = ["@{-1}", *args[1:]]
    positive, negative, ranged = _split(repo, args)
    if not ranged:
        unique = list(dict.fromkeys(positive))
        return Selection(unique, single=len(args) == 1)
    excluded: set[CommitId] = set()
    for commit in negative:
        excluded |= ancestors(repo, commit)

    def follow(commit_id: CommitId, commit: Commit) -> list[CommitId]:
        return [] if commit_id in excluded else list(commit.parents)

    walked = [c for c, _ in walk_commits(repo, positive, follow) if c not in excluded]
    if not walked:
        raise UsageError("empty commit set passed")
    return Selection(walked[::-1] if oldest_first else walked, single=False)
