"""The daemon's per-repository readers–writer lock."""

from __future__ import annotations

import asyncio

from cofd.daemon.rwlock import ReadWriteLock


async def test_readers_share() -> None:
    lock = ReadWriteLock()
    inside = 0
    peak = 0

    async def reader() -> None:
        nonlocal inside, peak
        async with lock.read():
            inside += 1
            peak = max(peak, inside)
            await asyncio.sleep(0.01)
            inside -= 1

    await asyncio.gather(*(reader() for _ in range(5)))
    assert peak == 5


async def test_writer_excludes_everyone() -> None:
    lock = ReadWriteLock()
    log: list[str] = []

    async def worker(name: str, exclusive: bool) -> None:
        async with lock.acquire(exclusive):
            log.append(f"{name}+")
            await asyncio.sleep(0.01)
            log.append(f"{name}-")

    await asyncio.gather(worker("r1", False), worker("w", True), worker("r2", False))
    w = log.index("w+")
    assert log[w + 1] == "w-"  # nothing interleaves with the writer
    assert not lock.writing and lock.readers == 0


async def test_waiting_writer_blocks_new_readers() -> None:
    lock = ReadWriteLock()
    order: list[str] = []
    first_reader_in = asyncio.Event()
    release_first = asyncio.Event()

    async def first_reader() -> None:
        async with lock.read():
            first_reader_in.set()
            await release_first.wait()
            order.append("r1")

    async def writer() -> None:
        async with lock.write():
            order.append("w")

    async def late_reader() -> None:
        async with lock.read():
            order.append("r2")

    tasks = [asyncio.create_task(first_reader())]
    await first_reader_in.wait()
    tasks.append(asyncio.create_task(writer()))
    await asyncio.sleep(0)
    tasks.append(asyncio.create_task(late_reader()))
    await asyncio.sleep(0.01)
    release_first.set()
    await asyncio.gather(*tasks)
    assert order == ["r1", "w", "r2"]


async def test_cancelled_writer_unblocks_readers() -> None:
    lock = ReadWriteLock()
    hold = asyncio.Event()

    async def reader_holding() -> None:
        async with lock.read():
            await hold.wait()

    holder = asyncio.create_task(reader_holding())
    await asyncio.sleep(0)
    waiting_writer = asyncio.create_task(lock.write().__aenter__())
    await asyncio.sleep(0)
    late = asyncio.create_task(lock.read().__aenter__())
    await asyncio.sleep(0.01)
    assert not late.done()
    waiting_writer.cancel()
    await asyncio.wait_for(late, 1)
    hold.set()
    await holder
