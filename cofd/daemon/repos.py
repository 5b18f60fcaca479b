"""The repository cache: each repository is opened once and kept open.

Opening takes the repository's ``.cof/locks/daemon.lock`` flock, so while this daemon
runs no other daemon can own the repository. Repositories are closed (their flocks
released) when the daemon stops, or when the directory no longer holds the repository
that was opened (removed, or removed and created again: ``rm -rf repo && cof clone ...
repo``): the next request for that path, or the repository's migration loop, notices
and retires the old one.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cofd.daemon.rwlock import ReadWriteLock

if TYPE_CHECKING:
    from cofd.ops.repository import Repository

# Runs a blocking callable off the event loop (the daemon's worker pool).
RunBlocking = Callable[..., Awaitable[Any]]
# Called on the loop after a repository is opened / before it is closed (the
# dispatcher starts and stops the repository's migration loop with these).
OpenHook = Callable[[Path, "OpenRepository"], None]
CloseHook = Callable[[Path, "OpenRepository"], Awaitable[None]]

log = logging.getLogger("cofd.repos")


def open_repository(
    root: Path, user_config: Path | None = None, env: Mapping[str, str] | None = None
) -> Repository:
    """Default opener: ``Repository.open`` (may raise ``RepositoryLockedError``)."""
    from cofd.ops.repository import Repository

    return Repository.open(root, user_config, env)


@dataclass(slots=True)
class OpenRepository:
    """A cached repository and its two locks.

    ``lock`` orders the commands that read or change the working tree, the staging
    area and local refs: many readers (status, log) or one writer (commit, checkout).
    ``prune_lock`` keeps block deletion away from transfers: a transfer (fetch, push,
    a push being received, a peer's fetch being served) holds it shared and no
    ``lock`` at all, so a commit or a checkout need not wait minutes for a big fetch;
    gc and fsck hold both exclusively (:meth:`pruning`), so nothing a transfer stored
    but no ref reaches yet is swept, and no block a peer was promised is.
    """

    repo: Repository
    lock: ReadWriteLock
    prune_lock: ReadWriteLock = field(default_factory=ReadWriteLock)

    @contextlib.asynccontextmanager
    async def pruning(self) -> AsyncIterator[None]:
        """Exclusive for gc and fsck: no command and no transfer runs meanwhile.

        The prune lock first: while gc waits for transfers to end, commands still run,
        and a session serving a fetch, which holds the prune lock shared between its
        requests, can still take ``lock`` shared to list its next page (the other
        order deadlocks them until the peer gives up)."""
        async with self.prune_lock.write(), self.lock.write():
            yield

    def transferring(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Shared among transfers, and beside readers and writers of ``lock``."""
        return self.prune_lock.read()

    @contextlib.asynccontextmanager
    async def streaming(self) -> AsyncIterator[Callable[[], Awaitable[None]]]:
        """For an output stream (``show REV:PATH``, ``archive``): both locks shared,
        ``lock`` only until the yielded ``release`` is awaited.

        The op resolves what it sends under ``lock``; then the stream, which may wait
        on a client's pager for hours, reads only immutable blocks, which nothing but
        gc and fsck deletes: holding the prune lock to the end, as a transfer does,
        keeps them out while commits proceed. The prune lock first, as in
        :meth:`pruning`: the other order would deadlock with a waiting gc."""
        async with self.prune_lock.read(), contextlib.AsyncExitStack() as reading:
            await reading.enter_async_context(self.lock.read())
            yield reading.aclose


class RepositoryCache:
    """Opens repositories on first use, in the worker pool, at most once each."""

    def __init__(
        self,
        run_blocking: RunBlocking,
        opener: Callable[[Path], Repository] | None = None,
        on_open: OpenHook | None = None,
        on_close: CloseHook | None = None,
        home: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """``home`` and ``env`` are the daemon's: the default opener layers
        ``home/config.toml`` and ``env`` over each repository's config.toml for what
        the store reads at open (not a later request's environment)."""
        self._run_blocking = run_blocking
        if opener is None:
            user_config = home / "config.toml" if home is not None else None
            opener = functools.partial(open_repository, user_config=user_config, env=env)
        self._opener = opener
        self._on_open = on_open
        self._on_close = on_close
        self._open: dict[Path, OpenRepository] = {}
        self._opening: dict[Path, asyncio.Lock] = {}

    def roots(self) -> list[str]:
        """Roots of the open repositories, for ``daemon_status``."""
        return sorted(str(root) for root in self._open)

    async def get(self, root: Path) -> OpenRepository:
        """The open repository at ``root``, opening it if needed.

        Raises:
            CofError: from ``Repository.open`` (``RepositoryLockedError`` when another
                daemon owns it); nothing is cached then, so a later call retries.
        """
        if (entry := self._open.get(root)) is not None and entry.repo.is_current():
            return entry
        # Two first requests for one root must not both try to take its flock.
        async with self._opening.setdefault(root, asyncio.Lock()):
            if (entry := self._open.get(root)) is not None and not entry.repo.is_current():
                await self.retire(root, entry)
                entry = None
            if entry is None:
                repo = await self._run_blocking(self._opener, root)
                entry = self._open[root] = OpenRepository(repo, ReadWriteLock())
                log.info("opened repository %s", root)
                if self._on_open is not None:
                    self._on_open(root, entry)
            return entry

    async def release(self, root: Path) -> None:
        """Close the repository at ``root`` if it is open (its next request reopens it)."""
        async with self._opening.setdefault(root, asyncio.Lock()):
            if (entry := self._open.get(root)) is not None:
                await self.retire(root, entry, "released for a clone resuming into it")

    async def retire(
        self,
        root: Path,
        entry: OpenRepository,
        why: str = "was removed or replaced on disk",
    ) -> None:
        """Close ``entry``, which ``root`` no longer holds, once its commands end.

        Closed before anything opens ``root`` again: when only the lock file was
        replaced, the old and the new object would share the same store files, and
        their writers must not overlap."""
        if self._open.get(root) is not entry:
            return  # retired already
        del self._open[root]
        log.warning("repository %s %s: closing it", root, why)
        try:
            if self._on_close is not None:
                await self._on_close(root, entry)
            async with entry.pruning():
                await self._run_blocking(entry.repo.close)
        except Exception:
            log.exception("closing the removed repository %s failed", root)

    async def close_all(self) -> None:
        """Close every repository, releasing its flock; log (not raise) failures."""
        while self._open:
            root, entry = self._open.popitem()
            try:
                if self._on_close is not None:
                    await self._on_close(root, entry)
                await self._run_blocking(entry.repo.close)
                log.info("closed repository %s", root)
            except Exception:
                log.exception("closing repository %s failed", root)
