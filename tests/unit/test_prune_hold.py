"""A serving session's hold on the prune lock (``cofd.sync.server.PruneHold``)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from cofd.daemon.repos import OpenRepository
from cofd.daemon.rwlock import ReadWriteLock
from cofd.sync import server
from cofd.sync.server import PruneHold

IDLE = 0.2


@pytest.fixture
def entry(monkeypatch: pytest.MonkeyPatch) -> OpenRepository:
    monkeypatch.setattr(server, "PRUNE_HOLD_IDLE", IDLE)
    return OpenRepository(cast(Any, None), ReadWriteLock())


def _running(entry: OpenRepository) -> tuple[PruneHold, asyncio.Task[None]]:
    hold = PruneHold(entry)
    return hold, asyncio.get_running_loop().create_task(hold.run())


async def test_gc_waits_while_requests_use_it_then_until_it_is_idle(
    entry: OpenRepository,
) -> None:
    loop = asyncio.get_running_loop()
    hold, task = _running(entry)
    async with hold.use() as held:
        assert held and entry.prune_lock.readers == 1
        pruning = entry.pruning()
        gc = loop.create_task(pruning.__aenter__())
        await asyncio.sleep(IDLE * 2)  # a request in progress: held however long
        assert not gc.done()
    done_at = loop.time()
    await asyncio.wait_for(gc, 5)
    assert loop.time() - done_at >= IDLE * 0.9  # let go once idle for IDLE
    assert hold.ended
    await pruning.__aexit__(None, None, None)
    await task


async def test_a_session_that_ends_lets_go_once_its_requests_are_done(
    entry: OpenRepository,
) -> None:
    hold, task = _running(entry)
    async with hold.use() as held:
        assert held
        hold.end()
        await asyncio.sleep(0.05)
        assert entry.prune_lock.readers == 1  # the request still reads blocks
    await asyncio.wait_for(task, 1)
    assert entry.prune_lock.readers == 0 and hold.ended


async def test_new_holds_queue_behind_a_waiting_gc(entry: OpenRepository) -> None:
    """The lock prefers writers: a session starting while gc waits for the others
    waits for gc, so a stream of new fetches cannot starve it."""
    loop = asyncio.get_running_loop()
    first = PruneHold(entry)
    first_task = loop.create_task(first.run())
    async with first.use():
        pruning = entry.pruning()
        gc = loop.create_task(pruning.__aenter__())
        await asyncio.sleep(0)
        late = PruneHold(entry)
        late_task = loop.create_task(late.run())
        late_use = late.use()
        waiting = loop.create_task(late_use.__aenter__())
        await asyncio.sleep(0.05)
        assert not gc.done() and not waiting.done()
        first.end()
    await asyncio.wait_for(gc, 1)
    assert not waiting.done()  # gc runs first
    late.end()  # the peer went away meanwhile: its request is told so
    await pruning.__aexit__(None, None, None)
    assert await asyncio.wait_for(waiting, 1) is False
    await late_use.__aexit__(None, None, None)
    await asyncio.gather(first_task, late_task)
    assert entry.prune_lock.readers == 0 and not entry.prune_lock.writing
