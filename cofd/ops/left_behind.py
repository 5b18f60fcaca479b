"""The commits a switch away from a detached HEAD leaves behind: reachable from the
HEAD being left, but from no ref (branch, tag, remote-tracking branch, stash) and not
from where HEAD goes. git warns of them ("you are leaving N commits behind") since
only the reflog still reaches them, and garbage collection expires that.

The walk (:func:`cofd.objects.ancestry.paint_ancestors`) ends once every commit still
queued is reachable from a ref: leaving a detached HEAD one commit ahead of a branch
reads a few commits, however long the history.
"""

from __future__ import annotations

from typing import Any

from cofd.objects.ancestry import paint_ancestors
from cofd.objects.model import CommitId
from cofd.ops.repository import Repository

# git lists this many of the commits, newest first, then the last one (when exactly
# one more is left) or how many more there are.
LISTED = 4

_LEAVING, _KEPT = 1, 2


def left_behind(repo: Repository, old: CommitId, new: CommitId | None) -> list[CommitId]:
    """The commits only ``old`` reaches, newest first (by commit time, as git lists
    them; then by generation)."""
    read = repo.objects.read_commit
    tips: dict[CommitId, int] = {old: _LEAVING}
    for tip in _kept_tips(repo, new):
        tips[tip] = tips.get(tip, 0) | _KEPT
    # Only commits reached from ``old`` alone matter: the walk stops below the last.
    flags = paint_ancestors(read, tips, lambda flag: flag == _LEAVING)
    lost = [commit for commit, flag in flags.items() if flag == _LEAVING]
    lost.sort(key=lambda c: (-read(c).committer.timestamp, -read(c).sequence))
    return lost


def _kept_tips(repo: Repository, new: CommitId | None) -> list[CommitId]:
    """The commits the refs name (a tag may name a tree or file data: no history)."""
    peeled = [repo.objects.peel(value) for _, value in repo.refs.iter_refs("refs/")]
    tips = [tip for tip in peeled if repo.objects.is_commit(tip)]
    return [*tips, new] if new is not None else tips


def left_behind_report(repo: Repository, old: CommitId, new: CommitId | None) -> dict[str, Any]:
    """What the CLI prints on leaving the detached HEAD ``old`` for ``new``: the
    commits left behind (``count``, ``listed``, ``more``), or none."""
    lost = left_behind(repo, old, new)
    listed = lost[:LISTED] + (lost[-1:] if len(lost) == LISTED + 1 else [])
    return {
        "count": len(lost),
        "listed": [
            {"commit": c.hex(), "summary": repo.objects.read_commit(c).summary} for c in listed
        ],
        "more": len(lost) - len(listed),
    }
