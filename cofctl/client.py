"""The RPC client: connect to cofd (starting it if needed), call, stream progress.

Blocking sockets on purpose: a CLI makes one call and waits for it. The daemon is
found through ``protocol.home`` from the same environment the daemon would see, and
when nothing answers the client starts ``python -m cofd --home HOME`` detached and
waits for its socket.
"""

from __future__ import annotations

import _socket
import itertools
import os
import sys
import time
from pathlib import Path

from protocol.errors import DaemonUnavailableError, ProtocolError, error_from_wire
from protocol.home import (
    EXIT_ALREADY_RUNNING,
    log_path,
    pid_path,
    resolve_home,
    socket_path,
    startup_log_path,
)
from protocol.rpc import Data, Error, FrameDecoder, Progress, Request, Result, encode_frame

TYPE_CHECKING = False  # not typing's: importing typing would slow every command's start-up
if TYPE_CHECKING:
    import subprocess
    from collections.abc import Callable, Mapping
    from typing import Any

    ProgressCallback = Callable[[dict[str, Any]], None]
    OutputCallback = Callable[[bytes], None]

# Connecting to a live local socket is instant; this only guards a wedged daemon.
CONNECT_TIMEOUT = 5.0
# A cold Python start plus importing the operations takes well under this.
AUTOSTART_TIMEOUT = 10.0
POLL_INTERVAL = 0.05
# The daemon waits up to 30 s for in-flight operations before it exits.
STOP_TIMEOUT = 35.0
RECV_CHUNK = 256 * 1024

# Daemons this process spawned, kept so their Popen objects are not collected (and
# reaped) while they run; they are detached and outlive us.
_spawned: list[subprocess.Popen[bytes]] = []


class _NotListeningError(Exception):
    """No daemon answers at the socket path (missing or stale socket)."""


def client_env(env: Mapping[str, str]) -> dict[str, str]:
    """The part of the environment sent with every request: the ``COF_*`` variables."""
    return {key: value for key, value in env.items() if key.startswith("COF_")}


class Client:
    """Calls operations on the daemon for one home, environment and directory.

    Args:
        home: ``COF_HOME`` (see ``protocol.home.resolve_home``).
        env: the client's environment; ``COF_*`` variables travel with each request
            and the whole of it is given to an autostarted daemon.
        cwd: absolute working directory the daemon resolves the repository from.
        autostart: start the daemon when none answers (else raise).
    """

    def __init__(
        self, home: Path, env: Mapping[str, str], cwd: str, *, autostart: bool = True
    ) -> None:
        self.home = home
        self.env = dict(env)
        self.cwd = cwd
        self.autostart = autostart
        self.socket_path = socket_path(home, env)
        self._ids = itertools.count(1)

    @classmethod
    def from_environ(cls, *, autostart: bool = True) -> Client:
        """A client for this process's environment and working directory."""
        env = dict(os.environ)
        return cls(resolve_home(env), env, os.getcwd(), autostart=autostart)

    def call(
        self,
        op: str,
        params: Mapping[str, Any] | None = None,
        progress: ProgressCallback | None = None,
        output: OutputCallback | None = None,
    ) -> Any:
        """Run ``op`` in the daemon and return its result.

        ``output`` receives the operation's output stream (``Data`` messages) piece by
        piece as it arrives; whatever it raises (``BrokenPipeError`` when stdout's
        reader left) ends the call and closes the connection, which tells the daemon
        to stop the operation.

        Raises:
            CofError: the subclass the daemon reported, rebuilt from its wire code.
            DaemonUnavailableError: no daemon could be reached or started.
        """
        request = Request(next(self._ids), op, dict(params or {}), self.cwd, client_env(self.env))
        sock = self.connect()
        try:
            return self._roundtrip(sock, request, progress, output)
        finally:
            sock.close()

    def is_running(self) -> bool:
        """Whether a daemon answers on the socket (never starts one)."""
        try:
            self._try_connect().close()
        except (_NotListeningError, DaemonUnavailableError):
            return False
        return True

    def connect(self) -> _socket.socket:
        """A connected socket, starting the daemon first if allowed and needed."""
        try:
            return self._try_connect()
        except _NotListeningError as exc:
            if not self.autostart:
                raise DaemonUnavailableError(f"cofd is not running ({exc})") from None
        return self._autostart()

    def _try_connect(self) -> _socket.socket:
        # The C socket that socket.socket wraps: importing the socket module builds four
        # IntEnums and imports selectors, which cost every command about 2 ms at start-up
        # for conveniences one blocking connection does not need.
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        sock.settimeout(CONNECT_TIMEOUT)
        try:
            sock.connect(os.fspath(self.socket_path))
        except (FileNotFoundError, NotADirectoryError, ConnectionRefusedError) as exc:
            sock.close()
            raise _NotListeningError(f"{self.socket_path}: {exc.strerror}") from None
        except OSError as exc:
            sock.close()
            raise DaemonUnavailableError(
                f"cannot connect to {self.socket_path}: {exc.strerror or exc}"
            ) from None
        sock.settimeout(None)  # operations may legitimately run for a long time
        return sock

    def _autostart(self) -> _socket.socket:
        deadline = time.monotonic() + AUTOSTART_TIMEOUT
        process = self._spawn()
        while True:
            try:
                return self._try_connect()
            except _NotListeningError:
                pass
            status = process.poll()
            if status is not None and status != EXIT_ALREADY_RUNNING:
                raise DaemonUnavailableError(f"cannot start cofd: {self._startup_failure(status)}")
            if status == EXIT_ALREADY_RUNNING and not pid_path(self.home).exists():
                # We lost a start race to a daemon that has since exited: try again.
                process = self._spawn()
            if time.monotonic() > deadline:
                raise DaemonUnavailableError(
                    f"cofd did not answer within {AUTOSTART_TIMEOUT:.0f} s; "
                    f"see {startup_log_path(self.home)}"
                )
            time.sleep(POLL_INTERVAL)

    def _spawn(self) -> subprocess.Popen[bytes]:
        import subprocess  # only when starting the daemon: keeps every command's start-up lean

        _spawned[:] = [p for p in _spawned if p.poll() is None]
        try:
            self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
            startup_log = startup_log_path(self.home).open("wb")
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise DaemonUnavailableError(
                f"cannot start cofd: cannot use {self.home}: {reason}"
            ) from None
        with startup_log:
            process = subprocess.Popen(
                [sys.executable, "-m", "cofd", "--home", os.fspath(self.home)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=startup_log,
                env=self.env,
                cwd="/",  # do not pin the client's directory for the daemon's lifetime
                start_new_session=True,  # no terminal signals (Ctrl-C) reach the daemon
            )
        _spawned.append(process)
        return process

    def _startup_failure(self, status: int) -> str:
        try:
            lines = startup_log_path(self.home).read_text(errors="replace").splitlines()
        except OSError:
            lines = []
        last = next((line.strip() for line in reversed(lines) if line.strip()), "")
        if not last:
            return f"it exited with status {status}"
        return last.removeprefix("cofd: ")

    def _roundtrip(
        self,
        sock: _socket.socket,
        request: Request,
        progress: ProgressCallback | None,
        output: OutputCallback | None = None,
    ) -> Any:
        try:
            sock.sendall(encode_frame(request))
        except OSError as exc:
            raise DaemonUnavailableError(f"lost connection to cofd: {exc.strerror}") from None
        decoder = FrameDecoder()
        while True:
            try:
                data = sock.recv(RECV_CHUNK)
            except OSError as exc:
                raise DaemonUnavailableError(f"lost connection to cofd: {exc.strerror}") from None
            if not data:
                raise DaemonUnavailableError(
                    f"cofd closed the connection during {request.op!r}; see {log_path(self.home)}"
                )
            for message in decoder.feed(data):
                if isinstance(message, Error) and message.id in (0, request.id):
                    raise error_from_wire(message.code, message.message)
                if message.id != request.id:
                    raise ProtocolError(f"reply for request {message.id}, expected {request.id}")
                if isinstance(message, Result):
                    return message.value
                if isinstance(message, Progress):
                    if progress is not None:
                        progress(message.data)
                    continue
                if isinstance(message, Data) and output is not None:
                    output(message.data)
                    continue
                raise ProtocolError(f"unexpected {type(message).__name__} from cofd")

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """Ask the daemon to stop and wait until it has exited.

        Returns:
            The stopped daemon's pid, or None if no daemon was running.

        Raises:
            DaemonUnavailableError: the daemon did not exit within ``timeout``.
        """
        quiet = Client(self.home, self.env, self.cwd, autostart=False)
        try:
            pid = int(quiet.call("shutdown")["pid"])
        except DaemonUnavailableError:
            return None
        deadline = time.monotonic() + timeout
        while _pid_file_names(pid_path(self.home), pid) or _alive(pid):
            if time.monotonic() > deadline:
                raise DaemonUnavailableError(
                    f"cofd (pid {pid}) did not stop within {timeout:.0f} s"
                )
            time.sleep(POLL_INTERVAL)
        return pid


def _pid_file_names(path: Path, pid: int) -> bool:
    try:
        return path.read_text().strip() == str(pid)
    except OSError:
        return False


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs; a zombie (exited, not yet reaped) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs: trust kill()
    return stat.rpartition(")")[2].split()[0] != "Z"
