"""``ctx.output`` for one request: an operation's output stream, sent as ``Data`` frames.

The operation runs in a worker thread and writes bytes of any total size (a file of
several GiB for ``cof show REV:PATH``, an archive); each call sends them as frames of
at most ``MAX_DATA_BYTES`` and returns only once the socket has taken them (the
stream writer drained below its high-water mark). That back-pressure is what bounds
the daemon's memory: a slow reader (``cof show ... | less``) slows the operation
down instead of piling frames up in the writer's buffer. Meanwhile the operation holds
no repository lock, only the prune lock (``OpenRepository.streaming``): writers go on.

When the client goes away (its stdout's reader closed early, Ctrl-C) the connection
watcher sets ``cancelled``, or the drain fails; either way the next write raises
``CancelledError`` and the operation ends at once, so the daemon is never left
writing for nobody.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable

from protocol.errors import CancelledError
from protocol.rpc import MAX_DATA_BYTES, Data, encode_frame

SendFrame = Callable[[bytes], None]
Drain = Callable[[], Awaitable[None]]
# How often a worker waiting for the socket re-checks whether the client left.
CANCEL_POLL_SECONDS = 0.25


class OutputStream:
    """Called in a worker with bytes; sends them in order on the loop, with back-pressure."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        send: SendFrame,
        drain: Drain,
        request_id: int,
        cancelled: threading.Event,
    ) -> None:
        self._loop, self._send, self._drain = loop, send, drain
        self._id, self._cancelled = request_id, cancelled
        self._why = "the client stopped reading the output"

    def stop(self, why: str) -> None:
        """End the stream from outside (the daemon is stopping): its next wait raises."""
        self._why = why
        self._cancelled.set()

    def __call__(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        for start in range(0, len(view), MAX_DATA_BYTES):
            # Encoded here, in the worker: copying a MiB is no work for the loop.
            frame = encode_frame(Data(self._id, bytes(view[start : start + MAX_DATA_BYTES])))
            self._wait(asyncio.run_coroutine_threadsafe(self._deliver(frame), self._loop))

    async def _deliver(self, frame: bytes) -> None:
        self._send(frame)
        await self._drain()

    def _wait(self, future: concurrent.futures.Future[None]) -> None:
        while True:
            if self._cancelled.is_set():
                future.cancel()
                raise CancelledError(self._why)
            try:
                future.result(timeout=CANCEL_POLL_SECONDS)
            except concurrent.futures.TimeoutError:
                continue
            except (ConnectionError, concurrent.futures.CancelledError):
                raise CancelledError("the client stopped reading the output") from None
            return
