"""Shared state between background maintenance (migration, compaction, gc) and the rest.

The store's maintenance runs in worker threads; the daemon drives it from an
asyncio task. This module holds what they share: one lock so that only one rewrite
runs at a time, a gate through which background work yields to foreground commands,
a stop flag for shutdown, and the progress ``cof daemon status`` shows.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any


class StoppedError(Exception):
    """Background work was asked to stop (the repository is closing)."""


class ForegroundGate:
    """Counts foreground operations; background work waits until none is running."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active = 0
        self.last_active = time.monotonic()  # when a foreground operation last ran

    def enter(self) -> None:
        with self._cond:
            self._active += 1
            self.last_active = time.monotonic()

    def exit(self) -> None:
        with self._cond:
            self._active -= 1
            self.last_active = time.monotonic()
            if self._active == 0:
                self._cond.notify_all()

    def quiet_for(self) -> float:
        """Seconds since the last foreground operation ended (0 while one runs)."""
        if self._active:
            return 0.0
        return max(0.0, time.monotonic() - self.last_active)

    @property
    def active(self) -> int:
        return self._active

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no foreground operation runs; False if ``timeout`` ran out."""
        with self._cond:
            return self._cond.wait_for(lambda: self._active == 0, timeout)


@dataclass(slots=True)
class MigrationProgress:
    """What ``daemon_status`` reports about one repository's migration loop."""

    state: str = "idle"  # idle | planning | migrating | compacting | gc | waiting
    runs: int = 0
    moved_blocks: int = 0
    moved_raw_bytes: int = 0
    moved_stored_bytes: int = 0
    compacted_packs: int = 0
    pending_blocks: int = 0  # still to move at the last planning
    last_run: float | None = None  # wall-clock end of the last completed pass
    last_error: str | None = None
    skipped_blocks: int = 0  # unreadable blocks left where they are (see fsck)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class MaintenanceState:
    def __init__(self) -> None:
        self.lock = threading.Lock()  # one rewrite (migration, compaction, gc) at a time
        self.pass_lock = threading.Lock()  # one migration pass at a time
        self.gate = ForegroundGate()
        self.progress = MigrationProgress()
        # Whether a pass has looked for packs to compact since the store was opened.
        self.compaction_checked = False
        self._stop = threading.Event()
        self._wake: Callable[[], None] | None = None

    def set_waker(self, wake: Callable[[], None] | None) -> None:
        """Register how to wake the background loop (the daemon's task)."""
        self._wake = wake

    def wake(self) -> bool:
        """Ask the background loop to run now; False if no loop is attached."""
        if self._wake is None:
            return False
        self._wake()
        return True

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def check(self) -> None:
        """Raise ``StoppedError`` when asked to stop (called between units of work)."""
        if self._stop.is_set():
            raise StoppedError("maintenance stopped")
