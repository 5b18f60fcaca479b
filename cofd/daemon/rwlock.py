"""An asyncio readers–writer lock, one per repository root."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager


class ReadWriteLock:
    """Many readers or one writer; waiting writers block new readers.

    Writer preference keeps a steady stream of readers (status, log) from starving a
    commit. Must be used from the event loop thread only.
    """

    def __init__(self) -> None:
        self._cond = asyncio.Condition()
        self._readers = 0
        self._writer = False
        self._waiting_writers = 0

    @property
    def readers(self) -> int:
        return self._readers

    @property
    def writing(self) -> bool:
        return self._writer

    @asynccontextmanager
    async def read(self) -> AsyncIterator[None]:
        """Hold the lock shared for the body of the ``async with``."""
        async with self._cond:
            await self._cond.wait_for(lambda: not self._writer and not self._waiting_writers)
            self._readers += 1
        try:
            yield
        finally:
            async with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[None]:
        """Hold the lock exclusively for the body of the ``async with``."""
        async with self._cond:
            self._waiting_writers += 1
            try:
                await self._cond.wait_for(lambda: not self._writer and not self._readers)
            finally:
                self._waiting_writers -= 1
                # A cancelled writer may have been the only thing holding readers back.
                self._cond.notify_all()
            self._writer = True
        try:
            yield
        finally:
            async with self._cond:
                self._writer = False
                self._cond.notify_all()

    def acquire(self, exclusive: bool) -> AbstractAsyncContextManager[None]:
        """``write()`` when ``exclusive`` else ``read()`` (for ``async with``)."""
        return self.write() if exclusive else self.read()
