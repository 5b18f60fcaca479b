"""File objects over the store and over the client's output stream.

They let stdlib writers (``tarfile``, ``zipfile``, ``gzip``) stream a file's content
from its blocks to the client without ever holding the file: a reader hands out the
content as the store yields it, a writer forwards bytes to ``ctx.output``.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import TYPE_CHECKING

from cofd.ops.api import OutputFn
from cofd.ops.repository import Repository
from cofd.store.ids import BlockId

if TYPE_CHECKING:
    from typing_extensions import Buffer  # collections.abc.Buffer from Python 3.12

# Bytes buffered before they go to the client as one message: few round trips to the
# event loop per MiB, and the daemon holds at most this much of the stream.
OUTPUT_BUFFER_BYTES = 1024 * 1024


class ContentReader(io.RawIOBase):
    """A file's content, read lazily in the store's runs (up to 1 MiB at a time)."""

    def __init__(self, repo: Repository, content: BlockId, size: int) -> None:
        self._runs: Iterator[bytes | memoryview] = repo.objects.iter_content_runs(content, size)
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        while not self._pending:
            run = next(self._runs, None)
            if run is None:
                return 0
            self._pending = memoryview(run)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def open_content(repo: Repository, content: BlockId, size: int) -> io.BufferedReader:
    """A buffered reader over the content (``read(n)`` returns ``n`` bytes until the end)."""
    return io.BufferedReader(ContentReader(repo, content, size))


class _OutputSink(io.RawIOBase):
    def __init__(self, output: OutputFn) -> None:
        self._output = output

    def writable(self) -> bool:
        return True

    def write(self, data: Buffer, /) -> int:
        view = memoryview(data)
        self._output(view)  # copied into a frame before this returns
        return len(view)


def output_writer(output: OutputFn) -> io.BufferedWriter:
    """A buffered, unseekable writer to the client's output stream; flush it at the end."""
    return io.BufferedWriter(_OutputSink(output), OUTPUT_BUFFER_BYTES)
