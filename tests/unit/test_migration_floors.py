"""A migration pass scans the index only when ages crossed a tier threshold.

The floors (``Index.take_migration_floors``) promise that nothing below them waits to
move; these tests check that a pass with nothing newly due never walks the blocks,
and that every way a block can get an old generation (a fetch of old history, one
aged while a pass runs, ages restored by fsck) still gets it moved.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from cofd.store.blockstore import BlockStore
from cofd.store.ids import BlockId
from cofd.store.pack import Tier
from cofd.store.rewrite import Migrator
from cofd.store.tiers import TierPolicy

POLICY = TierPolicy(warm_threshold=2, cold_threshold=5)


@contextmanager
def scans(store: BlockStore) -> Iterator[list[str]]:
    """The statements of this thread's index connection that walk block ages."""
    seen: list[str] = []
    conn: sqlite3.Connection = store.index.conn

    def trace(sql: str) -> None:
        if "JOIN commit_age" in sql and "block_map" in sql:
            seen.append(sql)

    conn.set_trace_callback(trace)
    try:
        yield seen
    finally:
        conn.set_trace_callback(None)


def put(store: BlockStore, generation: int, count: int = 4) -> list[BlockId]:
    with store.transaction() as txn:
        ids = txn.put_many([os.urandom(4096) for _ in range(count)])
        txn.assign_generation(generation)
    return ids


def tiers(store: BlockStore, ids: list[BlockId]) -> set[Tier]:
    return {loc.tier for loc in store.index.lookup_many(ids).values()}


def test_a_pass_with_nothing_newly_due_does_not_walk_the_index(store: BlockStore) -> None:
    old = put(store, 1)
    with scans(store) as seen:
        assert Migrator(store, POLICY).run(head_generation=4).moved_blocks == 4
    assert seen, "the first pass (floors unknown) scans"
    assert tiers(store, old) == {Tier.WARM}
    with scans(store) as seen:  # same head: nothing can be due
        assert Migrator(store, POLICY).run(head_generation=4).moved_blocks == 0
        young = put(store, 4)  # a commit at the head: not due before head 7
        assert Migrator(store, POLICY).run(head_generation=5).moved_blocks == 0
        assert Migrator(store, POLICY).run(head_generation=6).moved_blocks == 0
    assert seen == []
    with scans(store) as seen:  # generation 1 crosses the cold line at head 7
        assert Migrator(store, POLICY).run(head_generation=7).moved_blocks == 8
    assert seen
    assert tiers(store, old) == {Tier.COLD} and tiers(store, young) == {Tier.WARM}
    # A full pass (``cof migrate --wait``) scans whatever the floors say.
    with scans(store) as seen:
        assert Migrator(store, POLICY).run(head_generation=7, full=True).moved_blocks == 0
    assert seen


def test_blocks_aged_below_the_floors_still_move(store: BlockStore) -> None:
    put(store, 20)
    Migrator(store, POLICY).run(head_generation=30)  # floors settle at 28 / 25
    fetched = put(store, 3)  # old history arriving by a fetch: cold at once
    assert Migrator(store, POLICY).run(head_generation=30).moved_blocks == 4
    assert tiers(store, fetched) == {Tier.COLD}

    # Aged while a pass runs (after its scan): the floors it settles stay below it.
    during: list[BlockId] = []

    def pause() -> None:
        if not during:
            during.extend(put(store, 5))

    put(store, 21)
    Migrator(store, POLICY, pause=pause).run(head_generation=31)
    assert store.index.take_migration_floors()[0] == (5, 5)
    Migrator(store, POLICY).run(head_generation=31)
    assert tiers(store, during) == {Tier.COLD}


def test_ages_written_by_fsck_make_the_next_pass_scan(store: BlockStore) -> None:
    put(store, 10)
    Migrator(store, POLICY).run(head_generation=10)
    with store.transaction() as txn:
        ids = txn.put_many([os.urandom(4096)])
    # fsck's restore_commit_ages writes ages without a generation_time row.
    store.index.conn.execute("INSERT INTO commit_age (id, generation) VALUES (?, 1)", (ids[0],))
    assert Migrator(store, POLICY).run(head_generation=10).moved_blocks == 0  # unseen
    store.index.forget_migration_floors()
    assert Migrator(store, POLICY).run(head_generation=10).moved_blocks == 1
    assert tiers(store, ids) == {Tier.COLD}


def test_auto_gc_growth_is_counted_as_blocks_are_added(store: BlockStore) -> None:
    index = store.index
    row = index.conn.execute("SELECT value FROM meta WHERE key = 'blocks_at_last_gc'")
    assert row.fetchone() == (0,)  # a new store starts from nothing
    put(store, 1, count=5)
    again = store.get(put(store, 1)[0])
    with store.transaction() as txn:  # an id already mapped is not new
        txn.put_many([os.urandom(4096), again])
    assert index.blocks_added() == 5 + 4 + 1
    index.reset_blocks_added(10)
    assert index.blocks_added() == 0
