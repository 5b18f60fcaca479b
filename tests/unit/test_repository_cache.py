"""The daemon's repository cache when a repository is removed or replaced on disk.

A user runs ``rm -rf repo && cof clone ... repo`` (or ``cof init repo``) while cofd has
the old repository open. The cache must notice that the path holds another
repository and stop using the old, unlinked files: before, commands in the new one read
the old index ("block ... is missing from the store", "'g' disappeared while being
read") and the old files kept their disk space until the daemon stopped.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from cofd.daemon.dispatch import DaemonInfo, Dispatcher
from cofd.daemon.repos import RepositoryCache
from cofd.ops.repository import create_layout


async def _in_thread(fn: Any, *args: Any) -> Any:
    return fn(*args)


def _new_repository(root: Path) -> None:
    root.mkdir(exist_ok=True)
    assert create_layout(root)


def test_a_repository_created_again_at_its_path_is_opened_afresh(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    _new_repository(root)

    async def main() -> None:
        cache = RepositoryCache(_in_thread, home=tmp_path, env={})
        try:
            old = await cache.get(root)
            assert await cache.get(root) is old  # cached while it is the same one
            shutil.rmtree(root)
            _new_repository(root)
            new = await cache.get(root)
            assert new is not old
            assert not old.repo.is_current() and new.repo.is_current()
            assert old.repo._lock_fd == -1  # closed: its flock and files released
            assert cache.roots() == [str(root)]
        finally:
            await cache.close_all()

    asyncio.run(main())


def test_a_replaced_lock_file_closes_the_old_object_before_the_new_one_opens(
    tmp_path: Path,
) -> None:
    """Same store files, new lock file: two objects must never write them at once."""
    root = tmp_path / "repo"
    _new_repository(root)
    opened: list[Any] = []

    def opener(path: Path) -> Any:
        from cofd.ops.repository import Repository

        # The old object must be closed by the time the new one is made.
        assert all(repo._lock_fd == -1 for repo in opened)
        repo = Repository.open(path)
        opened.append(repo)
        return repo

    async def main() -> None:
        cache = RepositoryCache(_in_thread, opener=opener)
        try:
            old = await cache.get(root)
            (root / ".cof" / "locks" / "daemon.lock").unlink()
            assert not old.repo.is_current()
            new = await cache.get(root)
            assert new is not old and len(opened) == 2
        finally:
            await cache.close_all()

    asyncio.run(main())


def test_the_migration_loop_retires_a_removed_repository(tmp_path: Path) -> None:
    """Without another request for the path: the loop's next wake-up notices."""
    root = tmp_path / "repo"
    _new_repository(root)
    home = tmp_path / "home"
    home.mkdir()
    info = DaemonInfo(
        home=home,
        socket=home / "cofd.sock",
        log=home / "cofd.log",
        pid=0,
        version="test",
        started=time.monotonic(),
        workers=2,
        env={},
    )

    async def main() -> None:
        with ThreadPoolExecutor(2) as executor:
            dispatcher = Dispatcher(info, executor, lambda: None)
            try:
                entry = await dispatcher.repos.get(root)
                assert root in dispatcher.migrations
                shutil.rmtree(root)
                dispatcher.migrations[root].wake()
                deadline = time.monotonic() + 20
                while dispatcher.repos.roots() and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                assert dispatcher.repos.roots() == []
                assert root not in dispatcher.migrations
                for _ in range(100):  # the close runs after the loop has stopped
                    if entry.repo._lock_fd == -1:
                        break
                    await asyncio.sleep(0.05)
                assert entry.repo._lock_fd == -1
            finally:
                await dispatcher.repos.close_all()

    asyncio.run(main())


def test_an_error_naming_a_file_that_is_not_utf8_still_reaches_the_client(
    tmp_path: Path,
) -> None:
    """A message holding os.fsdecode's stand-ins for bytes that are not UTF-8 cannot
    be encoded as is; the reply must still go out (the client saw its connection
    drop), with those bytes in octal as git writes them."""
    from cofd.ops.api import OPS, OpSpec
    from protocol.errors import PathError
    from protocol.rpc import Error, FrameDecoder, Request

    def failing(ctx: Any, params: dict[str, Any]) -> Any:
        raise PathError(f"cannot read {'bad' + chr(0xDCFF) + 'name'} or {chr(0xD800)}")

    home = tmp_path / "home"
    home.mkdir()
    info = DaemonInfo(home, home / "cofd.sock", home / "cofd.log", 0, "test", 0.0, 2, {})
    sent: list[bytes] = []

    async def main() -> None:
        with ThreadPoolExecutor(2) as executor:
            dispatcher = Dispatcher(info, executor, lambda: None)
            OPS["test_failing"] = OpSpec("test_failing", failing, False, False)
            try:
                request = Request(1, "test_failing", {}, str(tmp_path), {})
                await dispatcher.handle(request, sent.append)
            finally:
                del OPS["test_failing"]
                await dispatcher.repos.close_all()

    asyncio.run(main())
    (reply,) = FrameDecoder().feed(sent[-1])
    assert isinstance(reply, Error) and reply.code == PathError.code
    assert reply.message == "cannot read bad\\377name or \\ud800"
