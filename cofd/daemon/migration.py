"""The tier migration loop: one asyncio task per open repository.

The task sleeps until woken (after every writing operation, by ``cof migrate``
without ``--wait``) or until :data:`PERIOD_SECONDS` pass, then runs one migration
pass (``cofd.ops.maintenance.migrate_pass``) on its own thread, so the worker pool
stays free for commands. The pass yields to foreground commands: before each frame
or record it waits while any command runs on the repository (the store's
``ForegroundGate``). When enough has been written since the last gc and
``gc.auto_gc`` is on, it then takes the repository's writer lock and collects
garbage, once no command has run on the repository for
``gc.auto_gc_quiet_seconds`` (10).

Nothing here needs to survive a crash: a pass works from what the index says, so
after a restart the next pass simply continues.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cofd.config import Config, load_config
from cofd.store.maintenance_state import MaintenanceState, StoppedError
from cofd.store.rewrite import lower_thread_priority

if TYPE_CHECKING:
    from cofd.daemon.repos import OpenRepository

log = logging.getLogger("cofd.migration")

# A pass runs at least this often even without commits (ages only change with
# commits, but an interrupted pass or a failed one is retried this way).
PERIOD_SECONDS = 300.0
# How long a paused pass waits between checks of the stop flag.
PAUSE_POLL_SECONDS = 0.5
# Bound on how long closing a repository waits for the current unit of work.
STOP_TIMEOUT_SECONDS = 30.0
# Niceness of the migration threads: commands keep the CPU when they need it.
MIGRATION_NICE = 10


def pause_for_foreground(state: MaintenanceState) -> None:
    """Wait while foreground commands run; raise ``StoppedError`` when stopping."""
    state.check()
    if state.gate.active:
        previous = state.progress.state
        state.progress.state = "waiting"
        try:
            while not state.gate.wait_idle(PAUSE_POLL_SECONDS):
                state.check()
        finally:
            state.progress.state = previous
    state.check()


class MigrationLoop:
    def __init__(
        self,
        root: Path,
        entry: OpenRepository,
        home: Path,
        env: Mapping[str, str] | None = None,
        on_removed: Callable[[], None] | None = None,
    ) -> None:
        """``on_removed`` is called (on the loop) when a wake-up finds the repository
        gone from ``root``; the loop then ends."""
        self.root = root
        self.entry = entry
        self._on_removed = on_removed
        self.home = home
        self.env = dict(env or {})  # the daemon's: background work has no client's
        self.state: MaintenanceState = entry.repo.blocks.maintenance
        self._event = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._thread = ThreadPoolExecutor(
            1,
            thread_name_prefix="cofd-migrate",
            initializer=lower_thread_priority,
            initargs=(MIGRATION_NICE,),
        )
        self._task: asyncio.Task[None] | None = None
        self._gc_wake: asyncio.TimerHandle | None = None  # auto gc re-checks quiet then

    def start(self) -> None:
        self.state.set_waker(self._wake_threadsafe)
        self._event.set()  # a pass right away: resumes what a crash interrupted
        self._task = asyncio.create_task(self._run(), name=f"migration {self.root}")

    def wake(self) -> None:
        self._event.set()

    def _wake_threadsafe(self) -> None:
        self._loop.call_soon_threadsafe(self._event.set)

    async def stop(self) -> None:
        """Stop after the current unit of work; never leaves a half-moved block."""
        if self._gc_wake is not None:
            self._gc_wake.cancel()
        self.state.set_waker(None)
        self.state.stop()
        self._event.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), STOP_TIMEOUT_SECONDS)
            except TimeoutError:
                log.error("migration of %s did not stop in time", self.root)
            except asyncio.CancelledError:
                self._task.cancel()
                raise
        self._thread.shutdown(wait=False)

    def status(self) -> dict[str, Any]:
        return {"repo": str(self.root), **self.state.progress.to_dict()}

    def _config(self) -> Config:
        repo = self.entry.repo
        return load_config(repo.config_path, self.home / "config.toml", self.env)

    async def _run_here(self, fn: Any, *args: Any) -> Any:
        return await self._loop.run_in_executor(self._thread, fn, *args)

    async def _run(self) -> None:
        while not self.state.stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), PERIOD_SECONDS)
            self._event.clear()
            if self.state.stopping:
                return
            if not self.entry.repo.is_current():
                # Removed from disk: its open files would keep the space in use until
                # the daemon stops, and a pass over them is wasted work.
                if self._on_removed is not None:
                    self._on_removed()
                return
            try:
                await self._run_here(self._pass)
                await self._maybe_gc()
            except StoppedError:
                return
            except Exception as exc:
                log.exception("migration of %s failed", self.root)
                self.state.progress.last_error = f"{type(exc).__name__}: {exc}"

    def _pass(self) -> None:
        from cofd.ops.maintenance import migrate_pass

        state = self.state
        if not state.pass_lock.acquire(blocking=False):
            return  # ``cof migrate --wait`` is running a pass right now
        try:
            config = self._config()
            result = migrate_pass(
                self.entry.repo,
                config,
                pause=lambda: pause_for_foreground(state),
                nice=MIGRATION_NICE,
            )
            if result.moved_blocks or result.compacted_packs or result.deleted_packs:
                log.info(
                    "%s: moved %d blocks (%d -> %d bytes), compacted %d packs, deleted %d",
                    self.root,
                    result.moved_blocks,
                    result.moved_raw_bytes,
                    result.moved_stored_bytes,
                    result.compacted_packs,
                    result.deleted_packs,
                )
        finally:
            state.pass_lock.release()

    async def _maybe_gc(self) -> None:
        from cofd.ops.maintenance import auto_gc_due, collect_garbage, parse_prune

        config = self._config()
        if not await self._run_here(auto_gc_due, self.entry.repo, config):
            return
        # gc holds the writer lock from mark to sweep: every command waits for it. Run
        # it once the repository has been left alone for a while, not right after the
        # commit that made it due (when the user's next command is likely coming).
        quiet = self.state.gate.quiet_for()
        wanted = config.gc.auto_gc_quiet_seconds
        if quiet < wanted:
            if self._gc_wake is not None:  # one pending wake-up, however many commands
                self._gc_wake.cancel()
            delay = wanted - quiet + 0.1
            self._gc_wake = self._loop.call_later(delay, self._event.set)
            return
        async with self.entry.pruning():
            if self.state.stopping:
                return
            cutoff = parse_prune(None, config)
            result = await self._run_here(collect_garbage, self.entry.repo, cutoff, config)
            log.info("%s: auto gc deleted %d blocks", self.root, result.deleted_blocks)
