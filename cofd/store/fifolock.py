"""A lock granted in the order it was asked for, which can tell whether anyone waits.

The store's writer lock: a long writer (a fetch) checkpoints and, when others wait,
lets go and asks again, so a commit gets its turn within a batch. A plain
``threading.Lock`` would not do: the releasing thread usually takes it straight back
before a waiter wakes.
"""

from __future__ import annotations

import threading


class FifoLock:
    """Tickets: ``acquire`` takes the next one and waits until it is served."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._next_ticket = 0
        self._serving = 0

    def acquire(self) -> None:
        with self._cond:
            ticket = self._next_ticket
            self._next_ticket += 1
            self._cond.wait_for(lambda: self._serving == ticket)

    def release(self) -> None:
        with self._cond:
            self._serving += 1
            self._cond.notify_all()

    @property
    def waiting(self) -> int:
        """Threads waiting for the lock (not counting its holder); a hint, unlocked."""
        return max(0, self._next_ticket - self._serving - 1)
