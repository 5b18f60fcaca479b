"""A set of ids with a memory bound, for the walks and transfers that stream ids.

A transfer may list hundreds of millions of block ids (4 KiB blocks of a 1 TiB
repository), so nothing on its path may remember every id it has seen. What the
remembering is for tolerates forgetting: a walk that forgets a subtree it already
listed lists it again (the receiver drops ids it already has), a receiver that forgets
a block it already fetched may fetch it twice (the store keeps the first copy). So an
exact set over the whole transfer is traded for one over its recent part.
"""

from __future__ import annotations

from collections.abc import Iterable


class RecentIds:
    """Remembers at least the last ``capacity // 2`` distinct ids added, at most ``capacity``.

    Two generations: ids go into the young one; when it fills, it becomes the old one
    and the previous old generation is dropped whole. Both operations are a couple of
    set operations: no per-id ordering to maintain.

    With ``refresh``, a hit in the old generation copies the id into the young one,
    so ids that keep recurring (the zero block of a sparse image, a subtree shared by
    many directories) stay — at the price of the guarantee above, since hits then
    fill the young generation too. A walk's memory of what it listed wants that; a
    record of what was listed to a peer (served only while remembered) must not
    have it, and its lookups must not write: they run on another thread than the
    one adding.
    """

    __slots__ = ("_half", "_old", "_refresh", "_young")

    def __init__(self, capacity: int, *, refresh: bool = False) -> None:
        if capacity < 2:
            raise ValueError("capacity must be at least 2")
        self._half = capacity // 2
        self._refresh = refresh
        self._young: set[object] = set()
        self._old: set[object] = set()

    def add(self, item: object) -> None:
        young = self._young
        young.add(item)
        if len(young) >= self._half:
            self._old, self._young = young, set()

    def update(self, items: Iterable[bytes]) -> None:
        for item in items:
            self.add(item)

    def __contains__(self, item: object) -> bool:
        if item in self._young:
            return True
        if item in self._old:
            if self._refresh:
                self.add(item)
            return True
        return False

    def __len__(self) -> int:
        young = self._young
        return len(young) + sum(1 for item in self._old if item not in young)
