"""Start-up and shutdown: the instance lock, logging, signals, the event loop.

Start-up order matters: the home directory, then logging, then the instance lock
(so only the winner touches the socket), then the operations, then the socket (a
stale one is replaced), then serving. Shutdown reverses it: stop accepting, let
in-flight operations finish (bounded), close repositories (releasing their
flocks), then remove the socket and the pid file.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import logging.handlers
import os
import signal
import socket
import sys
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import uvloop

from cofd.daemon.dispatch import DaemonInfo, Dispatcher, daemon_version, default_workers
from cofd.daemon.peers import start_peer_service
from cofd.daemon.server import RpcServer, SocketSetupError, bind_private_socket, prepare_socket_dir
from protocol.home import EXIT_ALREADY_RUNNING, log_path, pid_path, socket_path

log = logging.getLogger("cofd")

# How long SIGTERM waits for in-flight operations before giving up on them.
SHUTDOWN_GRACE_SECONDS = 30.0
# The log rotates so a long-lived daemon cannot fill the disk with it.
LOG_MAX_BYTES = 10 * 1024 * 1024
LOG_BACKUPS = 3
EXIT_FAILURE = 1


class StartupError(Exception):
    """The daemon cannot start; the message is one line for the user."""


class AlreadyRunningError(StartupError):
    """Another daemon holds the instance lock for this home."""


class InstanceLock:
    """An exclusive flock on the pid file: one daemon per home.

    The kernel drops the flock when the process dies, so a crashed daemon never
    blocks the next one; the stale pid file is simply overwritten.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock and record our pid, or raise ``AlreadyRunningError``."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            home = self.path.parent
            raise AlreadyRunningError(
                f"another cofd (pid {holder}) is already running for {home}"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Remove the pid file, then drop the lock (in that order: see below)."""
        if self._fd is None:
            return
        # Unlinking while still locked means a new daemon never locks a file that is
        # about to disappear; it creates a fresh one.
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = None


def setup_logging(log_file: Path, level: str) -> None:
    """One-line timestamped records to the log file and to stderr."""
    formatter = logging.Formatter(
        "%(asctime)s %(levelname)s cofd[%(process)d] %(name)s: %(message)s"
    )
    file_handler = logging.handlers.RotatingFileHandler(
        log_file, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
    )
    stderr_handler = logging.StreamHandler(sys.stderr)
    for handler in (file_handler, stderr_handler):
        handler.setFormatter(formatter)
        log.addHandler(handler)
    log.setLevel(level.upper())
    log.propagate = False


def load_operations() -> None:
    """Import every operation module so it registers itself in ``OPS``."""
    import cofd.ops

    load_all = getattr(cofd.ops, "load_all", None)
    if load_all is None:
        log.error("cofd.ops.load_all() is missing: only built-in daemon operations work")
        return
    try:
        load_all()
    except Exception as exc:
        log.exception("loading operations failed")
        raise StartupError(f"cannot load operations: {type(exc).__name__}: {exc}") from exc


def prepare_home(home: Path) -> None:
    """Create the home directory (private to the user) or explain why not."""
    try:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise StartupError(f"cannot create home directory {home}: {exc.strerror}") from exc
    if not os.access(home, os.W_OK | os.X_OK):
        raise StartupError(f"home directory {home} is not writable")


def run(home: Path, env: Mapping[str, str], log_level: str = "info") -> int:
    """Run the daemon in the foreground until stopped; return the exit status."""
    try:
        prepare_home(home)
        setup_logging(log_path(home), log_level)
    except (StartupError, OSError) as exc:
        print(f"cofd: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    lock = InstanceLock(pid_path(home))
    try:
        lock.acquire()
    except AlreadyRunningError as exc:
        print(f"cofd: {exc}", file=sys.stderr)
        return EXIT_ALREADY_RUNNING
    try:
        return _run_locked(home, env)
    finally:
        lock.release()
        logging.shutdown()


def _run_locked(home: Path, env: Mapping[str, str]) -> int:
    started = time.monotonic()
    try:
        load_operations()
        sock_path = socket_path(home, env)
        prepare_socket_dir(sock_path)
        sock = bind_private_socket(sock_path)
    except (StartupError, SocketSetupError) as exc:
        log.error("%s", exc)
        # Plain last line on stderr: an autostarting client quotes it to the user.
        print(f"cofd: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    info = DaemonInfo(
        home=home,
        socket=sock_path,
        log=log_path(home),
        pid=os.getpid(),
        version=daemon_version(),
        started=started,
        workers=default_workers(),
        env=dict(env),
    )
    clean = uvloop.run(_serve(info, sock, env))
    if not clean:
        # A worker thread is still inside an operation and would block interpreter
        # exit; the socket and pid file are gone, the kernel releases the flocks.
        logging.shutdown()
        os._exit(EXIT_FAILURE)
    return 0


async def _serve(info: DaemonInfo, sock: socket.socket, env: Mapping[str, str]) -> bool:
    stop = asyncio.Event()
    # Handlers first: a SIGTERM that arrives while the peer service starts must
    # still shut down cleanly rather than kill the process outright.
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, _on_signal, signum, stop)
    executor = ThreadPoolExecutor(max_workers=info.workers, thread_name_prefix="cofd-worker")
    dispatcher = Dispatcher(info, executor, stop.set)
    server = RpcServer(dispatcher)
    await server.start(sock)
    peers = await start_peer_service(info.home, env, dispatcher)
    log.info(
        "cofd %s serving %s (pid %d, %d workers)",
        info.version,
        info.socket,
        info.pid,
        info.workers,
    )
    await stop.wait()
    if peers is not None:
        await peers.stop()
    return await _shutdown(info, server, dispatcher, executor)


def _on_signal(signum: int, stop: asyncio.Event) -> None:
    name = signal.Signals(signum).name
    if stop.is_set():
        log.warning("%s received again; still waiting for operations to finish", name)
        return
    log.info("%s received; shutting down", name)
    stop.set()


async def _shutdown(
    info: DaemonInfo, server: RpcServer, dispatcher: Dispatcher, executor: ThreadPoolExecutor
) -> bool:
    """Stop gracefully; False if operations were still running after the grace period."""
    dispatcher.stopping = True
    server.stop_accepting()
    with contextlib.suppress(FileNotFoundError):
        info.socket.unlink()
    dispatcher.stop_streams()
    clean = await dispatcher.wait_idle(SHUTDOWN_GRACE_SECONDS)
    await server.close_connections()
    if not clean:
        log.error(
            "%d operation(s) still running after %.0f s; exiting without them",
            dispatcher.in_flight,
            SHUTDOWN_GRACE_SECONDS,
        )
        return False
    await dispatcher.repos.close_all()
    executor.shutdown(wait=True)
    log.info("cofd stopped")
    return True
