"""Ancestry queries against brute-force reachability on random commit graphs."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cofd.objects.ancestry import ReachableFrom, ahead_behind, is_ancestor
from cofd.objects.model import Commit, CommitId, Signature, TreeId

_SIG = Signature("T", "t@e", 0, 0)


def _graph(parent_picks: list[list[int]]) -> dict[CommitId, Commit]:
    """Commit k's parents are earlier commits (indices taken modulo k)."""
    ids = [CommitId(k.to_bytes(32, "big")) for k in range(len(parent_picks))]
    commits: dict[CommitId, Commit] = {}
    for k, picks in enumerate(parent_picks):
        parents = tuple(dict.fromkeys(ids[p % k] for p in picks)) if k else ()
        sequence = 1 + max((commits[p].sequence for p in parents), default=0)
        commits[ids[k]] = Commit(parents, TreeId(bytes(32)), _SIG, _SIG, "", sequence)
    return commits


def _reachable(commits: dict[CommitId, Commit], tip: CommitId) -> set[CommitId]:
    seen, stack = {tip}, [tip]
    while stack:
        for parent in commits[stack.pop()].parents:
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return seen


graphs = st.lists(st.lists(st.integers(0, 1000), max_size=3), min_size=1, max_size=60)


@settings(max_examples=300, deadline=None)
@given(graphs, st.integers(0, 1000), st.integers(0, 1000))
def test_ahead_behind_counts_what_each_side_lacks(
    picks: list[list[int]], one_pick: int, two_pick: int
) -> None:
    commits = _graph(picks)
    ids = list(commits)
    one, two = ids[one_pick % len(ids)], ids[two_pick % len(ids)]
    read = commits.__getitem__
    from_one, from_two = _reachable(commits, one), _reachable(commits, two)
    assert ahead_behind(read, one, two) == (len(from_one - from_two), len(from_two - from_one))
    assert is_ancestor(commits.__getitem__, two, one) == (two in from_one)


@settings(max_examples=200, deadline=None)
@given(graphs, st.integers(0, 1000), st.lists(st.integers(0, 1000), max_size=20))
def test_reachable_from_answers_many_questions_with_one_walk(
    picks: list[list[int]], tip_pick: int, asked: list[int]
) -> None:
    commits = _graph(picks)
    ids = list(commits)
    tip = ids[tip_pick % len(ids)]
    reachable = ReachableFrom(commits.__getitem__, tip)
    truth = _reachable(commits, tip)
    for pick in asked:  # in any order: later questions resume the same walk
        commit = ids[pick % len(ids)]
        assert reachable(commit) == (commit in truth)


def test_ahead_behind_on_a_long_history_reads_only_the_new_end() -> None:
    """One commit ahead of an upstream 5000 commits deep: a handful of reads."""
    commits = _graph([[k - 1] for k in range(5001)])
    ids = list(commits)
    reads = 0

    def read(commit_id: CommitId) -> Commit:
        nonlocal reads
        reads += 1
        return commits[commit_id]

    assert ahead_behind(read, ids[-1], ids[-2]) == (1, 0)
    assert ahead_behind(read, ids[-3], ids[-1]) == (0, 2)
    assert reads < 20
