"""Fault injection at the syscall boundary, and a size-limited tmpfs for real ENOSPC.

Only ``os.pwrite`` is ever replaced, and the replacements still perform real writes
until the fault they model happens; nothing of the store itself is mocked.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

_real_pwrite = os.pwrite


class PwriteFault:
    """Pass the first ``ok_calls`` writes through, then fail each with ``OSError(err)``."""

    def __init__(self, ok_calls: int = 0, err: int = errno.ENOSPC) -> None:
        self.ok_calls = ok_calls
        self.err = err
        self.calls = 0
        self.failures = 0

    def __call__(self, fd: int, data: bytes, offset: int) -> int:
        self.calls += 1
        if self.calls > self.ok_calls:
            self.failures += 1
            raise OSError(self.err, os.strerror(self.err))
        return _real_pwrite(fd, data, offset)


class ShortPwrite:
    """Write at most ``limit`` bytes per call, as the kernel may (a legal short write)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.calls = 0

    def __call__(self, fd: int, data: bytes, offset: int) -> int:
        self.calls += 1
        return _real_pwrite(fd, bytes(memoryview(data)[: self.limit]), offset)


@contextlib.contextmanager
def small_tmpfs(mountpoint: Path, size: str) -> Iterator[Path]:
    """Mount a tmpfs of ``size`` (e.g. ``"2m"``) at ``mountpoint``; skip if not permitted."""
    mountpoint.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False, timeout=30)
