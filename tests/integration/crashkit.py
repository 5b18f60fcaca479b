"""Killing the daemon in the middle of a command, for the crash-recovery tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path


def is_gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie no longer holds files or locks)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def wait_gone(pid: int, timeout: float = 10.0) -> None:
    """Wait until ``pid`` has exited; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not is_gone(pid):
        assert time.monotonic() < deadline, "killed daemon did not exit"
        time.sleep(0.02)


def kill_daemon_during(
    proc: subprocess.Popen[str], daemon_pid: int, delay: float, timeout: float
) -> tuple[str | None, str | None]:
    """SIGKILL the daemon ``delay`` seconds into ``proc``; return ``proc``'s output.

    ``proc`` (a client command already started) gets ``timeout`` seconds to finish
    after the kill and is killed itself if it overruns. Returns once the daemon has
    exited too.
    """
    try:
        time.sleep(delay)
        with contextlib.suppress(ProcessLookupError):
            os.kill(daemon_pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    wait_gone(daemon_pid)
    return out, err


def kill_daemon_when(
    work: Path,
    env: Mapping[str, str],
    daemon_pid: int,
    args: list[str],
    ready: Callable[[], bool],
    timeout: float = 60.0,
) -> None:
    """Run ``cof ARGS`` in ``work`` and SIGKILL the daemon as soon as ``ready()`` holds
    (polled every 2 ms); the command must not have finished and must fail in one line."""
    client = subprocess.Popen(
        [sys.executable, "-m", "cofctl", *args],
        cwd=work,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + timeout
    while not ready():
        assert client.poll() is None and time.monotonic() < deadline, "the moment never came"
        time.sleep(0.002)
    out, err = kill_daemon_during(client, daemon_pid, 0, timeout=30)
    assert client.returncode != 0, f"{args} finished before the kill: {out}"
    assert err is not None and "Traceback" not in err and err.count("cof: ") == 1, err
