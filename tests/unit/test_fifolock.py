"""FifoLock: turns in arrival order; and a checkpointing writer lets a waiting one in."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from cofd.store.blockstore import BlockStore
from cofd.store.fifolock import FifoLock
from tests.unit.test_blockstore import block


def _wait_for(predicate: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.001)


def test_turns_are_granted_in_arrival_order() -> None:
    lock = FifoLock()
    lock.acquire()
    order: list[int] = []
    threads = []
    for n in range(5):
        thread = threading.Thread(
            target=lambda n=n: (lock.acquire(), order.append(n), lock.release())
        )
        thread.start()
        threads.append(thread)
        _wait_for(lambda n=n: lock.waiting == n + 1)  # queued before the next one starts
    assert lock.waiting == 5
    lock.release()
    for thread in threads:
        thread.join(5)
    assert order == [0, 1, 2, 3, 4]
    assert lock.waiting == 0


def test_a_checkpoint_lets_a_waiting_writer_commit(store: BlockStore) -> None:
    """A long transaction (a fetch) checkpoints while a commit waits for the store:
    the commit goes first, then the long one goes on; both end up stored."""
    committed: list[bytes] = []

    def short_writer() -> None:
        with store.transaction() as txn:
            committed.extend(txn.put_many([block(2)]))

    with store.transaction() as txn:
        first = txn.put_many([block(1)])
        assert not txn.others_waiting
        thread = threading.Thread(target=short_writer)
        thread.start()
        _wait_for(lambda: txn.others_waiting)
        assert txn.others_waiting
        txn.checkpoint()  # the waiting writer runs to its end in here
        assert committed and not txn.others_waiting
        second = txn.put_many([block(3)])
        thread.join(5)
    assert list(store.get_many(first + committed + second)) == [block(1), block(2), block(3)]
