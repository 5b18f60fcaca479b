"""Requests → operations: lookup, repository resolution, locking, the worker pool.

The event loop never runs operation code: every operation, repository lookup and
result encoding runs in the one bounded worker pool (but the sending part of an output
stream, which waits on its client: see ``STREAM_THREADS``). Expected failures (``CofError``)
go back as ``Error`` frames; anything else is a bug, logged with its traceback and
reported to the client as ``internal``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import itertools
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from cofd.daemon.migration import MigrationLoop
from cofd.daemon.output import Drain, OutputStream
from cofd.daemon.repos import OpenRepository, RepositoryCache
from cofd.ops.api import OPS, OpContext, Stream, find_repo_root
from protocol.errors import CofError, DaemonUnavailableError, InternalError, UsageError
from protocol.quoting import octal_undecodable
from protocol.rpc import PROTOCOL_VERSION, Error, Progress, Request, Result, encode_frame

log = logging.getLogger("cofd.dispatch")

SendFrame = Callable[[bytes], None]
BUILTINS = frozenset({"ping", "daemon_status", "shutdown"})
# Operations the migration loop does not yield to, run without the repository lock:
# they are maintenance themselves (``cof migrate --wait`` would wait for itself).
BACKGROUND_OPS = frozenset({"migrate"})
# Threads for output streams once resolved (cofd.ops.api.Stream): each mostly waits
# for its client, so they stay out of the worker pool (two pagers left open would
# take both workers of a two-core machine). Beyond this many at once a stream waits
# for a thread, holding only the prune lock. Bounded: each thread keeps its own index
# connection (and page cache) once it has read.
STREAM_THREADS = 32


def daemon_version() -> str:
    """The installed cof version, as reported by ``ping`` and ``daemon_status``."""
    try:
        return metadata.version("cof")
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True, slots=True)
class DaemonInfo:
    """Static facts about this daemon, for ``daemon_status``."""

    home: Path
    socket: Path
    log: Path
    pid: int
    version: str
    started: float  # time.monotonic() at start-up
    workers: int  # size of the worker pool
    env: dict[str, str]  # the daemon's environment: its COF_* apply when a repo is opened


@dataclass(slots=True)
class InFlight:
    op: str
    started: float  # time.monotonic()
    repo: str | None = None
    state: str = "running"  # or "waiting" (for the repository lock)


class ProgressRelay:
    """``ctx.progress`` for one request: called in a worker, sends on the loop.

    Progress is lossy by design: if reports arrive faster than the loop sends them,
    only the latest pending one is sent, so a chatty operation cannot flood the
    connection or the loop.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, send: SendFrame, request_id: int):
        self._loop, self._send, self._id = loop, send, request_id
        self._lock = threading.Lock()
        self._pending: dict[str, Any] | None = None
        self._scheduled = False
        self._closed = False

    def __call__(self, data: dict[str, Any]) -> None:
        with self._lock:
            if self._closed:
                return
            self._pending = dict(data)
            if self._scheduled:
                return
            self._scheduled = True
        self._loop.call_soon_threadsafe(self._flush)

    def _flush(self) -> None:
        with self._lock:
            data, self._pending, self._scheduled = self._pending, None, False
            if self._closed or data is None:
                return
        try:
            self._send(encode_frame(Progress(self._id, data)))
        except CofError as exc:  # unencodable progress: an operation bug, not fatal
            log.warning("dropped progress for request %d: %s", self._id, exc)

    def finish(self) -> None:
        """Send what is pending and ignore later reports (runs on the loop)."""
        self._flush()
        with self._lock:
            self._closed = True


def _error_frame(request_id: int, code: str, message: str) -> bytes:
    """An error reply that always encodes: a message naming a file whose name is not
    UTF-8 (a surrogate from ``os.fsdecode``) would make msgpack refuse it, and the
    client would see its connection drop instead of the error; such bytes are
    written in octal, as git's messages write them."""
    text = octal_undecodable(message)
    try:
        return encode_frame(Error(request_id, code, text))
    except CofError:  # a surrogate no file name produces: escaped, never dropped
        escaped = text.encode("utf-8", "backslashreplace").decode("utf-8")
        return encode_frame(Error(request_id, code, escaped))


class Dispatcher:
    """Answers requests; owns the worker pool, the repository cache and in-flight."""

    def __init__(self, info: DaemonInfo, executor: Executor, on_shutdown: Callable[[], None]):
        self.info = info
        self._executor = executor
        # Where a Stream sends (see STREAM_THREADS), not the worker pool.
        self._streams = ThreadPoolExecutor(STREAM_THREADS, thread_name_prefix="cofd-stream")
        self._on_shutdown = on_shutdown
        self.repos = RepositoryCache(
            self.run_blocking,
            on_open=self._start_migration,
            on_close=self._stop_migration,
            home=info.home,
            env=info.env,
        )
        self.migrations: dict[Path, MigrationLoop] = {}
        self._retiring: set[asyncio.Task[None]] = set()  # removed repositories closing
        self._inflight: dict[int, InFlight] = {}
        self._sending: set[OutputStream] = set()  # streams that may wait on readers
        self._tokens = itertools.count(1)
        self._idle = asyncio.Event()
        self._idle.set()
        self.stopping = False

    async def run_blocking(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` in the worker pool without blocking the loop."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def handle(
        self,
        request: Request,
        send: SendFrame,
        cancelled: threading.Event | None = None,
        drain: Drain | None = None,
    ) -> None:
        """Run ``request`` to completion and send its progress and final reply.

        The request counts as in flight until its reply is written, so a graceful
        shutdown never drops a reply (not even the one to ``shutdown`` itself).
        ``cancelled`` is set by the caller when the client goes away; operations that
        can stop early see it as ``ctx.cancelled``. ``drain`` waits until the
        connection has taken what was sent: given it, operations may stream output
        through ``ctx.output`` (see ``cofd.daemon.output``).
        """
        relay = ProgressRelay(asyncio.get_running_loop(), send, request.id)
        cancelled = cancelled or threading.Event()
        loop = asyncio.get_running_loop()
        output = None if drain is None else OutputStream(loop, send, drain, request.id, cancelled)
        with self._track(request.op) as entry:
            try:
                value = await self._execute(request, relay, entry, cancelled, output)
            except CofError as exc:
                frame = _error_frame(request.id, exc.code, exc.message)
            except Exception as exc:
                frame = self._internal_error(request, exc)
            else:
                frame = await self._encode_result(request, value)
            relay.finish()
            send(frame)

    async def _encode_result(self, request: Request, value: Any) -> bytes:
        # Off the loop: a log or status listing can take a while to pack.
        try:
            frame: bytes = await self.run_blocking(encode_frame, Result(request.id, value))
        except CofError as exc:  # the operation returned something msgpack cannot hold
            return self._internal_error(request, exc)
        return frame

    def _internal_error(self, request: Request, exc: Exception) -> bytes:
        log.error("operation %r failed", request.op, exc_info=exc)
        error = InternalError(f"internal error: {type(exc).__name__}: {exc}; see {self.info.log}")
        return _error_frame(request.id, error.code, error.message)

    async def _execute(
        self,
        request: Request,
        relay: ProgressRelay,
        entry: InFlight,
        cancelled: threading.Event,
        output: OutputStream | None = None,
    ) -> Any:
        if request.op in BUILTINS:
            return self._builtin(request.op)
        spec = OPS.get(request.op)
        if spec is None:
            raise UsageError(f"unknown operation {request.op!r} (is cofd older than cofctl?)")
        if self.stopping:
            raise DaemonUnavailableError("the daemon is shutting down; retry in a moment")
        cwd = Path(request.cwd)
        if not cwd.is_absolute():
            raise UsageError(f"working directory must be absolute, got {request.cwd!r}")
        ctx = OpContext(
            cwd=cwd,
            env=dict(request.env),
            home=self.info.home,
            progress=relay,
            cancelled=cancelled,
            output=output,
            release_repository=functools.partial(
                self._release_from_worker, asyncio.get_running_loop()
            ),
        )
        if not spec.needs_repo:
            return await self.run_blocking(spec.fn, ctx, request.params)
        root = await self.run_blocking(find_repo_root, cwd)
        entry.repo, entry.state = str(root), "waiting"
        repository = await self.repos.get(root)
        if spec.name in BACKGROUND_OPS:
            # Maintenance synchronises with writers through the store's own locks;
            # holding the repository lock would make commits wait for a whole pass.
            entry.state = "running"
            ctx = dataclasses.replace(ctx, repo=repository.repo)
            return await self.run_blocking(spec.fn, ctx, request.params)
        writes = spec.writes_for(request.params)
        # A stream's locking yields how to let go of the repository lock early.
        locking: contextlib.AbstractAsyncContextManager[Callable[[], Awaitable[None]] | None]
        if spec.prunes:
            locking = repository.pruning()
        elif spec.transfer:
            locking = repository.transferring()
        elif spec.streams:
            locking = repository.streaming()
        else:
            locking = repository.lock.acquire(writes)
        async with locking as release:
            entry.state = "running"
            ctx = dataclasses.replace(ctx, repo=repository.repo)
            # Foreground work, streams included: the migration loop pauses meanwhile,
            # so no pack a stream reads is rewritten under it.
            gate = repository.repo.blocks.maintenance.gate
            gate.enter()
            try:
                value = await self.run_blocking(spec.fn, ctx, request.params)
                if release is not None and isinstance(value, Stream):
                    await release()  # resolved: writers may go on while it streams
                    running = asyncio.get_running_loop()
                    if output is not None:
                        self._sending.add(output)
                    try:
                        return await running.run_in_executor(self._streams, value.send)
                    finally:
                        self._sending.discard(output)
                return value
            finally:
                gate.exit()
                if writes and (loop := self.migrations.get(root)) is not None:
                    loop.wake()  # a commit may have aged blocks past a threshold

    def stop_streams(self) -> None:
        """End every stream still sending: a pager left open must not hold up a
        shutdown for its whole grace period (commits in flight still finish)."""
        for output in self._sending:
            output.stop("cofd is stopping")

    def _release_from_worker(self, loop: asyncio.AbstractEventLoop, root: Path) -> None:
        """For an op in the worker pool: close the cached repository at ``root``."""
        asyncio.run_coroutine_threadsafe(self.repos.release(root), loop).result()

    def _start_migration(self, root: Path, entry: OpenRepository) -> None:
        def retire() -> None:
            task = asyncio.create_task(self.repos.retire(root, entry))
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)

        loop = MigrationLoop(root, entry, self.info.home, self.info.env, on_removed=retire)
        self.migrations[root] = loop
        loop.start()

    async def _stop_migration(self, root: Path, entry: OpenRepository) -> None:
        loop = self.migrations.get(root)
        if loop is not None and loop.entry is entry:
            del self.migrations[root]
            await loop.stop()

    @contextmanager
    def _track(self, op: str) -> Iterator[InFlight]:
        token = next(self._tokens)
        entry = self._inflight[token] = InFlight(op, time.monotonic())
        self._idle.clear()
        try:
            yield entry
        finally:
            del self._inflight[token]
            if not self._inflight:
                self._idle.set()

    def _builtin(self, op: str) -> Any:
        if op == "ping":
            return {"pong": True, "pid": self.info.pid, "version": self.info.version}
        if op == "shutdown":
            log.info("shutdown requested by a client")
            self._on_shutdown()
            return {"pid": self.info.pid, "stopping": True}
        return self.status()

    def status(self) -> dict[str, Any]:
        """What ``daemon_status`` returns (all plain msgpack values)."""
        now = time.monotonic()
        return {
            "pid": self.info.pid,
            "version": self.info.version,
            "protocol": PROTOCOL_VERSION,
            "uptime": round(now - self.info.started, 3),
            "home": str(self.info.home),
            "socket": str(self.info.socket),
            "log": str(self.info.log),
            "workers": self.info.workers,
            "stopping": self.stopping,
            "repositories": self.repos.roots(),
            "migration": [loop.status() for loop in self.migrations.values()],
            "in_flight": [
                {"op": e.op, "seconds": round(now - e.started, 3), "repo": e.repo, "state": e.state}
                for e in self._inflight.values()
                if e.op not in BUILTINS
            ],
        }

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until no operation is in flight; False if ``timeout`` ran out first."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    @property
    def in_flight(self) -> int:
        return len(self._inflight)


def default_workers() -> int:
    """Pool size: one worker per CPU, at least two (blake3/zstd release the GIL)."""
    return max(2, os.cpu_count() or 2)
