"""Ancestry queries on the commit graph, pruned by generation numbers.

A commit's ``sequence`` is 1 + the largest sequence of its parents, so nothing
with a smaller generation than X can have X as an ancestor. Walks visit commits in
decreasing generation order and stop as soon as the answer cannot change.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

from cofd.objects.model import Commit, CommitId

ReadCommit = Callable[[CommitId], Commit]

_LEFT, _RIGHT, _STALE = 1, 2, 4


def is_ancestor(read: ReadCommit, ancestor: CommitId, descendant: CommitId) -> bool:
    """Whether ``ancestor`` is reachable from ``descendant`` (a commit is its own)."""
    if ancestor == descendant:
        return True
    floor = read(ancestor).sequence
    heap = [(-read(descendant).sequence, descendant)]
    seen = {descendant}
    while heap:
        neg_gen, commit_id = heapq.heappop(heap)
        if -neg_gen < floor:
            break
        for parent in read(commit_id).parents:
            if parent == ancestor:
                return True
            if parent not in seen:
                seen.add(parent)
                heapq.heappush(heap, (-read(parent).sequence, parent))
    return False


class ReachableFrom:
    """Answers "is X reachable from ``tip``?" for many X with one walk: the walk goes by
    decreasing generation and stops at the generation of the commit asked about, and
    the next question resumes it. Questions about recent commits read only the new
    end of the history; all of them together read it at most once (reflog expiry asks
    this of every entry of a long reflog)."""

    def __init__(self, read: ReadCommit, tip: CommitId) -> None:
        self._read = read
        self._tip = tip
        self._seen = {tip}
        self._heap: list[tuple[int, CommitId]] | None = None  # read on the first walk

    def __call__(self, commit: CommitId) -> bool:
        if commit in self._seen:
            return True  # the tip itself is answered without reading it
        read = self._read
        if self._heap is None:
            self._heap = [(-read(self._tip).sequence, self._tip)]
        floor = read(commit).sequence
        heap, seen = self._heap, self._seen
        # Every reachable commit of generation >= floor has a child on its path of a
        # higher generation, popped before the loop ends: it is in ``seen`` after it.
        while heap and -heap[0][0] >= floor:
            _, commit_id = heapq.heappop(heap)
            for parent in read(commit_id).parents:
                if parent not in seen:
                    seen.add(parent)
                    heapq.heappush(heap, (-read(parent).sequence, parent))
        return commit in seen


def merge_bases(read: ReadCommit, one: CommitId, two: CommitId) -> list[CommitId]:
    """The best common ancestors of two commits (several in criss-cross histories),
    ordered by generation (highest first), then id, so results are deterministic."""
    if one == two:
        return [one]
    flags: dict[CommitId, int] = {one: _LEFT, two: _RIGHT}
    heap = [(-read(one).sequence, one), (-read(two).sequence, two)]
    heapq.heapify(heap)
    common: list[CommitId] = []
    while heap and any(not flags[c] & _STALE for _, c in heap):
        _, commit_id = heapq.heappop(heap)
        flag = flags[commit_id]
        if flag & (_LEFT | _RIGHT) == (_LEFT | _RIGHT) and not flag & _STALE:
            common.append(commit_id)
            flag |= _STALE  # its ancestors cannot be *best* common ancestors
            flags[commit_id] = flag
        for parent in read(commit_id).parents:
            old = flags.get(parent, 0)
            new = old | flag
            if new != old:
                flags[parent] = new
                heapq.heappush(heap, (-read(parent).sequence, parent))
    # Drop candidates that are ancestors of other candidates.
    best = [c for c in common if not any(o != c and is_ancestor(read, c, o) for o in common)]
    return sorted(set(best), key=lambda c: (-read(c).sequence, c))


def ahead_behind(read: ReadCommit, one: CommitId, two: CommitId) -> tuple[int, int]:
    """How many commits ``one`` has that ``two`` lacks, and the reverse (what git's
    status counts against an upstream). The walk ends once every queued commit is
    reachable from both: a branch one commit ahead of its upstream costs a few commit
    reads, however long the history."""
    if one == two:
        return 0, 0
    both = _LEFT | _RIGHT
    flags = paint_ancestors(read, {one: _LEFT, two: _RIGHT}, lambda flag: flag != both)
    ahead = sum(1 for flag in flags.values() if flag == _LEFT)
    behind = sum(1 for flag in flags.values() if flag == _RIGHT)
    return ahead, behind


def paint_ancestors(
    read: ReadCommit, tips: dict[CommitId, int], unsettled: Callable[[int], bool]
) -> dict[CommitId, int]:
    """Each commit's flags: the OR of the flags (bits) of the ``tips`` that reach it,
    for every commit the walk met. The walk goes by decreasing generation, so a
    commit's flags are final when it is popped (all its children were), and stops once
    no queued entry carries flags ``unsettled`` says still matter: what lies below is
    then reached the same way, and is left out."""
    flags = dict(tips)
    # Entries carry the flags they were queued with (a commit's flags may grow later).
    heap = [(-read(c).sequence, c, flag) for c, flag in flags.items()]
    heapq.heapify(heap)
    pending = sum(1 for _, _, flag in heap if unsettled(flag))
    done: set[CommitId] = set()
    while pending:
        _, commit_id, queued = heapq.heappop(heap)
        if unsettled(queued):
            pending -= 1
        if commit_id in done:
            continue
        done.add(commit_id)
        flag = flags[commit_id]
        for parent in read(commit_id).parents:
            was = flags.get(parent, 0)
            now = was | flag
            if now != was:
                flags[parent] = now
                heapq.heappush(heap, (-read(parent).sequence, parent, now))
                pending += unsettled(now)
    return flags
