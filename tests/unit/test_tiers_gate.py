"""The migration loop's yielding and stopping, without a daemon."""

from __future__ import annotations

import os
import threading
import time

import pytest

from cofd.daemon.migration import pause_for_foreground
from cofd.store.blockstore import BlockStore
from cofd.store.maintenance_state import MaintenanceState, StoppedError
from cofd.store.pack import Tier
from cofd.store.rewrite import Migrator
from cofd.store.tiers import TierPolicy


def test_pause_waits_for_foreground_commands_and_stops_on_request() -> None:
    state = MaintenanceState()
    state.gate.enter()
    released = threading.Event()

    def worker() -> None:
        pause_for_foreground(state)
        released.set()

    thread = threading.Thread(target=worker)
    thread.start()
    time.sleep(0.3)
    assert not released.is_set() and state.progress.state == "waiting"
    state.gate.exit()
    thread.join(5)
    assert released.is_set()
    state.stop()
    with pytest.raises(StoppedError):
        pause_for_foreground(state)


def test_a_stopped_pass_leaves_every_block_readable(store: BlockStore) -> None:
    data = [os.urandom(1024) * 4 for _ in range(600)]
    with store.transaction() as txn:
        ids = txn.put_many(data)
        txn.assign_generation(1)
    calls = 0

    def pause() -> None:
        nonlocal calls
        calls += 1
        if calls > 3:
            raise StoppedError("stop")

    policy = TierPolicy(warm_threshold=0, cold_threshold=1)
    with pytest.raises(StoppedError):
        Migrator(store, policy, pause=pause).run(head_generation=10)
    tiers = {loc.tier for loc in store.index.lookup_many(ids).values()}
    assert list(store.get_many(ids)) == data
    # Stopped mid-way: the next pass finishes the job.
    result = Migrator(store, policy).run(head_generation=10)
    assert result.moved_blocks > 0 and Tier.HOT in tiers
    assert {loc.tier for loc in store.index.lookup_many(ids).values()} == {Tier.COLD}
    assert list(store.get_many(ids)) == data
