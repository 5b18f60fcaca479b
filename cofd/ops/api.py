"""The contract between the daemon and the operations.

An operation is a plain synchronous function ``fn(ctx, params) -> result`` registered
with :func:`op`. The daemon looks it up in :data:`OPS`, resolves the repository (for
ops with ``needs_repo``), serialises writers per repository, runs the function in its
bounded thread pool and sends the msgpack-able result back. Operations report progress
through ``ctx.progress`` (thread-safe; the daemon forwards it to the client).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cofd.config import Config, load_config

if TYPE_CHECKING:
    from cofd.ops.repository import Repository

ProgressFn = Callable[[dict[str, Any]], None]
OutputFn = Callable[[bytes | memoryview], None]


@dataclass(frozen=True, slots=True)
class OpContext:
    """What an operation may use besides its parameters."""

    cwd: Path  # the client's working directory (absolute)
    env: Mapping[str, str]  # the client's COF_* variables
    home: Path  # COF_HOME of the daemon (user config lives here)
    progress: ProgressFn
    repo: Repository | None = None  # set for ops registered with needs_repo=True
    # Set when the client went away (Ctrl-C): long operations that can stop at a safe
    # point (transfers) check it and stop; the others run to their end as before.
    cancelled: threading.Event = field(default_factory=threading.Event)
    # The client's output stream (its stdout, or ``-o FILE``): bytes of any size, sent
    # with back-pressure; raises ``CancelledError`` once the client stopped reading.
    # None outside the daemon's socket server.
    output: OutputFn | None = None
    # Closes this daemon's cached copy of the repository at a path, if it has one
    # (a clone resuming into a directory a command has opened since): blocks until
    # the commands running on it end. None outside the daemon.
    release_repository: Callable[[Path], None] | None = None

    def config(self) -> Config:
        """Configuration for this call: defaults < user < repository < environment."""
        repo_config = self.repo.config_path if self.repo is not None else None
        return load_config(repo_config, self.home / "config.toml", self.env)

    def require_repo(self) -> Repository:
        assert self.repo is not None, "operation registered without needs_repo"
        return self.repo


OpFn = Callable[[OpContext, dict[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class Stream:
    """What an op registered with ``streams=True`` returns once it has resolved
    everything it will send (revision, tree entries, content ids) under the
    repository's read lock: the daemon lets go of that lock, then calls ``send`` on a
    thread of its own, where it may wait on a slow client (``| less``) for hours
    without holding up writers or the worker pool. ``send`` reads only immutable
    blocks, which gc cannot delete before it returns; its value is the op's result."""

    send: Callable[[], Any]


# True: exclusive per repository; False: runs alongside other readers. A function of
# the request's parameters for commands that only read in some forms (``cof branch``
# lists, ``cof branch NAME`` creates).
Writes = bool | Callable[[dict[str, Any]], bool]


@dataclass(frozen=True, slots=True)
class OpSpec:
    name: str
    fn: OpFn
    writes: Writes
    needs_repo: bool  # True: the daemon resolves and opens the repository from ctx.cwd
    # Locking beside ``writes`` (see cofd.daemon.repos.OpenRepository): a transfer
    # only stores blocks and moves remote-tracking refs, so it runs beside readers and
    # writers and is kept from gc alone; ``prunes`` (gc, fsck) excludes everything.
    transfer: bool = False
    prunes: bool = False
    # A reader whose output goes to the client and that may return a :class:`Stream`:
    # see there (and cofd.daemon.repos.OpenRepository.streaming).
    streams: bool = False

    def writes_for(self, params: dict[str, Any]) -> bool:
        return self.writes if isinstance(self.writes, bool) else self.writes(params)


def unless_listing(params: dict[str, Any]) -> bool:
    """Writes, but for the ``list`` action (the default) of branch, tag and remote."""
    return (params.get("action") or "list") != "list"


OPS: dict[str, OpSpec] = {}


def op(
    name: str,
    *,
    writes: Writes,
    needs_repo: bool = True,
    transfer: bool = False,
    prunes: bool = False,
    streams: bool = False,
) -> Callable[[OpFn], OpFn]:
    def register(fn: OpFn) -> OpFn:
        if name in OPS:
            raise RuntimeError(f"operation {name!r} registered twice")
        if streams and writes is not False:
            raise RuntimeError(f"operation {name!r}: only a reader can stream without the lock")
        OPS[name] = OpSpec(name, fn, writes, needs_repo, transfer, prunes, streams)
        return fn

    return register


def find_repo_root(cwd: Path) -> Path:
    """The nearest directory at or above ``cwd`` containing ``.cof``."""
    from protocol.errors import NotARepositoryError

    cwd = cwd.resolve()
    for candidate in (cwd, *cwd.parents):
        if (candidate / ".cof" / "config.toml").is_file():
            return candidate
    raise NotARepositoryError(f"not a cof repository (or any parent): {cwd}")
