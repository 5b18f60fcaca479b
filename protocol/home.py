"""Where the daemon keeps its state (``COF_HOME``), and the paths derived from it.

Shared by cofd and cofctl so both sides agree on the socket without talking. Every
function takes the environment as a mapping: only the entry points read
``os.environ``.

The default home is ``$XDG_STATE_HOME/cof`` (``~/.local/state/cof``), never
``~/.cof``: that name would collide with a cof repository whose root is the user's
home directory.
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path

TYPE_CHECKING = False  # not typing's: importing typing would slow every command's start-up
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Final

SOCKET_NAME: Final = "cofd.sock"
PID_NAME: Final = "cofd.pid"
LOG_NAME: Final = "cofd.log"
# stderr of an autostarted daemon, so the client can quote why it failed to start.
STARTUP_LOG_NAME: Final = "cofd-startup.log"
# sockaddr_un.sun_path is 108 bytes on Linux, including the terminating NUL.
MAX_SOCKET_PATH_BYTES: Final = 107
# Exit status of a cofd that found another daemon already running for its home: an
# autostarting client that lost the race keeps waiting for the winner's socket.
EXIT_ALREADY_RUNNING: Final = 75


def resolve_home(env: Mapping[str, str]) -> Path:
    """The daemon's state directory: ``COF_HOME``, else the XDG state directory.

    A relative ``COF_HOME`` is taken relative to the current directory; a relative
    ``XDG_STATE_HOME`` is ignored, as the XDG specification requires.
    """
    if env.get("COF_HOME"):
        return Path(env["COF_HOME"]).expanduser().absolute()
    state = env.get("XDG_STATE_HOME", "")
    if state and Path(state).is_absolute():
        return Path(state) / "cof"
    return _user_home(env) / ".local" / "state" / "cof"


def _user_home(env: Mapping[str, str]) -> Path:
    if env.get("HOME"):
        return Path(env["HOME"])
    return Path(pwd.getpwuid(os.getuid()).pw_dir)


def socket_path(home: Path, env: Mapping[str, str], uid: int | None = None) -> Path:
    """The daemon's Unix socket: ``home/cofd.sock`` when the path fits.

    Unix socket addresses are limited to :data:`MAX_SOCKET_PATH_BYTES`, and a deep
    ``COF_HOME`` (test directories, long user names) easily exceeds it. Then the socket
    moves to ``$XDG_RUNTIME_DIR/cof-<hash>.sock`` (a per-user 0700 directory) or, without
    one, ``/tmp/cof-<uid>/<hash>.sock``, where ``<hash>`` is derived from ``home`` so
    each home still gets its own daemon. The daemon creates ``/tmp/cof-<uid>`` with
    mode 0700 and refuses one it does not own.
    """
    preferred = home / SOCKET_NAME
    if _fits(preferred):
        return preferred
    import hashlib  # rarely needed: only for homes whose socket path is too long

    digest = hashlib.sha256(os.fsencode(home)).hexdigest()[:16]
    runtime = env.get("XDG_RUNTIME_DIR", "")
    if runtime and Path(runtime).is_absolute():
        candidate = Path(runtime) / f"cof-{digest}.sock"
        if _fits(candidate):
            return candidate
    return private_tmp_dir(uid) / f"{digest}.sock"


def private_tmp_dir(uid: int | None = None) -> Path:
    """The per-user fallback socket directory ``/tmp/cof-<uid>``."""
    return Path("/tmp") / f"cof-{os.getuid() if uid is None else uid}"


def _fits(path: Path) -> bool:
    return len(os.fsencode(path)) <= MAX_SOCKET_PATH_BYTES


def pid_path(home: Path) -> Path:
    """The pid file; the running daemon holds an exclusive flock on it."""
    return home / PID_NAME


def log_path(home: Path) -> Path:
    """The daemon's log (timestamps, one line per record, tracebacks for bugs)."""
    return home / LOG_NAME


def startup_log_path(home: Path) -> Path:
    """Where an autostarted daemon's stderr goes (before its log is set up)."""
    return home / STARTUP_LOG_NAME
