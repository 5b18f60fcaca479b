"""Running an operation whose output is a byte stream (``show REV:PATH``, ``archive``).

The daemon sends the bytes as ``Data`` messages (``protocol.rpc``); they are written
here as they arrive, so memory does not grow with the output. When the reader of our
stdout goes away (``cof show HEAD:big | head -c 10``), the write fails, the
connection closes, the daemon stops the operation, and we exit quietly with the
status a process killed by SIGPIPE has, as git does.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

from cofctl.client import Client

EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for git in that case


class BrokenOutputError(Exception):
    """The reader of the output went away; the command ends quietly."""


def call_streaming(op: str, params: Mapping[str, Any], write: Callable[[bytes], None]) -> Any:
    """Run ``op``, passing each piece of its output to ``write``; its result.

    Raises:
        BrokenOutputError: ``write`` raised ``BrokenPipeError``.
        CofError: the failure the daemon reported.
    """
    try:
        return Client.from_environ().call(op, params, output=write)
    except BrokenPipeError:
        raise BrokenOutputError from None


def stdout_writer() -> Callable[[bytes], None]:
    """Writes each piece to stdout at once (a pipe's reader sees bytes as they come)."""
    out = sys.stdout.buffer

    def write(data: bytes) -> None:
        out.write(data)
        out.flush()

    return write


def quiet_exit_after_broken_pipe() -> int:
    """Silence stdout (its buffer would fail again at exit) and return the exit status."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_BROKEN_PIPE
