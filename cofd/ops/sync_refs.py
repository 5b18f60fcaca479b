"""How each ref of a push or a fetch moves, decided as git decides it.

git reports every ref a push or fetch changes with a status (``transport.c``,
``builtin/fetch.c``): new, fast-forward, forced (history rewritten), rejected, or
rejected by the remote. The daemon decides the status here; the CLI draws git's line.

- A pushed branch must fast-forward the remote's unless forced: "fetch first" when the
  remote's commit is unknown here, "needs force" when the remote's value or the pushed
  one is not a commit (a ref written by hand at a tree), "non-fast-forward" when it
  is not an ancestor.
- A pushed tag the remote has at another value is refused unless forced ("already
  exists"), fast-forward or not, as git refuses to move a tag under a user.
- A fetched branch moves its remote-tracking branch whatever happened (``+refs/heads/*``
  in git's refspec), marked forced when the remote rewrote it; a fetched tag that
  differs from the local tag of that name is left alone unless forced ("would clobber
  existing tag", git's ``fetch --tags``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cofd.objects.ancestry import is_ancestor
from cofd.objects.model import CommitId
from cofd.objects.refs import ref_name_problem
from cofd.ops.repository import Repository
from cofd.sync.serving import check_ref_name, peeled_kind
from protocol.errors import CofError, RevisionError, UsageError
from protocol.peer import messages as m

HEADS, TAGS = "refs/heads/", "refs/tags/"
Change = tuple[str, CommitId | None, CommitId]  # a fetched ref: local name, old, new

UP_TO_DATE = "up-to-date"
NEW = "new"
FAST_FORWARD = "fast-forward"
FORCED = "forced"
REJECTED = "rejected"  # refused here, before anything was sent
REMOTE_REJECTED = "remote-rejected"  # refused by the remote daemon
MOVED = frozenset({NEW, FAST_FORWARD, FORCED})
FAILED = frozenset({REJECTED, REMOTE_REJECTED})

# git's reasons for a refusal, and what the one-line error adds to each.
FETCH_FIRST = "fetch first"
NON_FAST_FORWARD = "non-fast-forward"
NEEDS_FORCE = "needs force"
TAG_EXISTS = "already exists"
TAG_CLOBBER = "would clobber existing tag"
_EXPLAINED = {
    FETCH_FIRST: "the remote has commits not here (fetch first)",
    NON_FAST_FORWARD: "non-fast-forward (fetch and merge first, or push --force)",
    NEEDS_FORCE: "not a commit, there or here (needs force: push --force)",
    TAG_EXISTS: "the remote has this tag at another commit (already exists; "
    "push --force replaces it)",
}


@dataclass(frozen=True, slots=True)
class RefMove:
    """One ref of a push (``ref`` is the remote's) or a fetch (``ref`` is the local
    ref written): its value before and after, and how it moved or why it did not."""

    ref: str
    old: CommitId | None
    new: CommitId
    status: str
    reason: str = ""

    @property
    def landed(self) -> bool:
        """Whether the remote has the ref at ``new`` now (a push)."""
        return self.status in MOVED or self.status == UP_TO_DATE

    def update(self) -> m.RefUpdate:
        return m.RefUpdate(self.ref, self.old, self.new)

    def explained(self) -> str:
        """``NAME: why`` for a one-line error."""
        name = self.ref.removeprefix(HEADS).removeprefix(TAGS)
        return f"{name}: {_EXPLAINED.get(self.reason, self.reason)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "old": self.old.hex() if self.old is not None else None,
            "new": self.new.hex(),
            "status": self.status,
            "reason": self.reason,
        }


def fast_forward(repo: Repository, old: CommitId, new: CommitId) -> bool | None:
    """Whether ``new`` descends from ``old``; None when ``old`` is not (wholly) here."""
    try:
        if repo.objects.kind_of(old) != "commit":
            return None
        return is_ancestor(repo.objects.read_commit, old, repo.objects.peel(new))
    except CofError:  # a partial fetch left the commit but not its history
        return None


def plan_push(
    repo: Repository, ref: str, new: CommitId, old: CommitId | None, force: bool
) -> RefMove:
    """How pushing ``new`` to the remote's ``ref`` (now ``old`` there) goes."""
    if old == new:
        return RefMove(ref, old, new, UP_TO_DATE)
    if old is None:
        return RefMove(ref, old, new, NEW)
    if ref.startswith(TAGS):
        return (
            RefMove(ref, old, new, FORCED)
            if force
            else RefMove(ref, old, new, REJECTED, TAG_EXISTS)
        )
    # git's order: an unknown remote value asks for a fetch first; a known one that is
    # no commit, or a pushed value that is none, asks for --force.
    old_kind = peeled_kind(repo, old)
    if old_kind is not None and (old_kind != "commit" or peeled_kind(repo, new) != "commit"):
        if force:
            return RefMove(ref, old, new, FORCED)
        return RefMove(ref, old, new, REJECTED, NEEDS_FORCE)
    ahead = fast_forward(repo, old, new)
    if ahead:
        return RefMove(ref, old, new, FAST_FORWARD)
    if force:
        return RefMove(ref, old, new, FORCED)
    return RefMove(ref, old, new, REJECTED, FETCH_FIRST if ahead is None else NON_FAST_FORWARD)


def with_verdicts(moves: list[RefMove], result: m.PushResult) -> list[RefMove]:
    """``moves`` with the remote's refusals of those it was sent."""
    refused = {name: message for name, ok, message in result.results if not ok}
    return [
        RefMove(mv.ref, mv.old, mv.new, REMOTE_REJECTED, refused[mv.ref])
        if mv.status in MOVED and mv.ref in refused
        else mv
        for mv in moves
    ]


def push_failure(url: str, moves: list[RefMove]) -> str | None:
    """The one-line error of a push some refs of which were refused, None when none
    was: the reasons when no ref moved (nothing changed there), else git's "failed to
    push some refs" (the ref lines say which went and which did not)."""
    failed = [mv for mv in moves if mv.status in FAILED]
    if not failed:
        return None
    if any(mv.status in MOVED for mv in moves):
        return f"failed to push some refs to {url}"
    return f"push to {url} rejected: " + "; ".join(mv.explained() for mv in failed)


def push_ref_name(repo: Repository, name: str) -> str:
    """The local ref ``name`` stands for in ``cof push REMOTE NAME``: a full
    ``refs/heads/*`` or ``refs/tags/*`` name, else the branch or the tag of that name
    (refused when both exist, as git's "src refspec matches more than one")."""
    problem = check_ref_name(name) if name.startswith((HEADS, TAGS)) else ref_name_problem(name)
    if problem is not None:
        raise UsageError(f"'{name}' is not a valid branch or tag name: {problem}")
    if name.startswith((HEADS, TAGS)):
        return name
    found = [ref for ref in (HEADS + name, TAGS + name) if repo.refs.read(ref) is not None]
    if len(found) > 1:
        raise UsageError(
            f"'{name}' is both a branch and a tag here: push refs/heads/{name} or refs/tags/{name}"
        )
    if not found:
        raise RevisionError(f"no local branch or tag '{name}' to push")
    return found[0]


def plan_fetch(
    repo: Repository, tracking_prefix: str, refs: dict[str, bytes], force: bool
) -> tuple[list[Change], list[RefMove]]:
    """The local refs a fetch of ``refs`` (the remote's, in its order) changes, and the
    tags it refuses to change. A branch ``b`` lands in ``<tracking_prefix>b``, a tag
    in itself."""
    taken: list[Change] = []
    refused: list[RefMove] = []
    for name, value in refs.items():
        ref = tracking_prefix + name.removeprefix(HEADS) if name.startswith(HEADS) else name
        old, new = repo.refs.read(ref), CommitId(value)
        if old == new:
            continue
        if ref.startswith(TAGS) and old is not None and not force:
            refused.append(RefMove(ref, old, new, REJECTED, TAG_CLOBBER))
        else:
            taken.append((ref, old, new))
    return taken, refused


def fetched_move(repo: Repository, ref: str, old: CommitId | None, new: CommitId) -> RefMove:
    """How a fetch moved local ``ref`` (its objects are here now)."""
    if old is None:
        return RefMove(ref, old, new, NEW)
    if ref.startswith(TAGS) or not fast_forward(repo, old, new):
        return RefMove(ref, old, new, FORCED)
    return RefMove(ref, old, new, FAST_FORWARD)
