"""Output streams keep no repository lock while a slow client reads them.

``cof show REV:PATH | less`` left open must not freeze the repository: the stream
resolves what it sends under the read lock, then holds only the prune lock, so
``add`` and ``commit`` go on, gc waits, and the bytes are the version resolved.
Each stream's stdout is a pipe nobody reads until the end, on a file twice what
the pipe, the client and the socket hold (measured: under 2 MiB, for show and
archive alike), so the daemon is blocked on it while the writers run.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

from tests.integration.conftest import CofRunner, CofSandbox

SIZE = 4 * 1024 * 1024
# Writers take well under a second; without the change they wait for the streams.
WRITER_TIMEOUT = 5.0
FIRST_BYTES = 64 * 1024  # read before blocking: the stream has resolved by then
AUTHOR = {"COF_AUTHOR_NAME": "T", "COF_AUTHOR_EMAIL": "t@e"}


def _write(path: Path) -> str:
    data = os.urandom(SIZE)
    path.write_bytes(data)
    return _sha(data)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _start(sandbox: CofSandbox, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "cofctl", *args],
        cwd=sandbox.work,
        env=sandbox.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


class _Streams:
    """``cof`` commands whose stdout is read only at the end, after its first bytes
    (which show that the command has resolved what it sends); killed if left."""

    def __init__(self, sandbox: CofSandbox) -> None:
        self.sandbox = sandbox
        self.procs: list[subprocess.Popen[bytes]] = []
        self.heads: list[bytes] = []

    def start(self, *commands: tuple[str, ...]) -> None:
        self.procs = [_start(self.sandbox, *args) for args in commands]
        for proc in self.procs:
            assert proc.stdout is not None
            self.heads.append(proc.stdout.read(FIRST_BYTES))

    def waiting(self) -> bool:
        return all(proc.poll() is None for proc in self.procs)

    def outputs(self) -> list[bytes]:
        outputs = []
        for proc, head in zip(self.procs, self.heads, strict=True):
            out, err = proc.communicate(timeout=30)
            assert proc.returncode == 0, err
            outputs.append(head + out)
        return outputs

    def kill(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


@contextlib.contextmanager
def _streams(sandbox: CofSandbox) -> Iterator[_Streams]:
    streams = _Streams(sandbox)
    try:
        yield streams
    finally:
        streams.kill()  # a failed check must not leave the daemon writing to them


def _wait_until_waiting(cof: CofRunner, op: str) -> None:
    """Until the daemon lists ``op`` as waiting for the repository's locks."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = json.loads(cof("daemon", "status", "--json").stdout)
        if any(e["op"] == op and e["state"] == "waiting" for e in status["in_flight"]):
            return
        time.sleep(0.05)
    raise AssertionError(f"{op} never waited: {status['in_flight']}")


def test_show_and_archive_let_writers_in(cof: CofRunner, sandbox: CofSandbox) -> None:
    sandbox.env.update(AUTHOR)
    cof("init")
    v1 = _write(sandbox.work / "big")
    (sandbox.work / "small").write_text("one\n")
    cof("add", ".")
    cof("commit", "-q", "-m", "v1")
    with _streams(sandbox) as streams:
        streams.start(("show", "HEAD:big"), ("archive", "HEAD"))
        # Both wait on their readers: writers must not wait on them.
        _write(sandbox.work / "big")
        (sandbox.work / "small").write_text("two\n")
        cof("add", ".", timeout=WRITER_TIMEOUT)
        cof("commit", "-q", "-m", "v2", timeout=WRITER_TIMEOUT)
        assert streams.waiting()
        shown, archive = streams.outputs()
    # What HEAD named when they started, not what it names now.
    assert _sha(shown) == v1
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert sorted(tar.getnames()) == ["big", "small"]
        big, small = tar.extractfile("big"), tar.extractfile("small")
        assert big is not None and small is not None
        assert _sha(big.read()) == v1 and small.read() == b"one\n"


def test_gc_waits_for_a_stream(cof: CofRunner, sandbox: CofSandbox) -> None:
    sandbox.env.update(AUTHOR)
    cof("init")
    v1 = _write(sandbox.work / "big")
    cof("add", "big")  # staged only: unreachable once replaced, so gc's to delete
    with _streams(sandbox) as streams:
        streams.start(("show", ":big"))
        # gc would delete v1's blocks under the stream once the add below replaces
        # them: it must wait for the stream, and the writers for neither.
        gc = _start(sandbox, "gc", "--prune=now")
        _write(sandbox.work / "big")
        cof("add", "big", timeout=WRITER_TIMEOUT)
        cof("commit", "-q", "-m", "v2", timeout=WRITER_TIMEOUT)
        _wait_until_waiting(cof, "gc")
        assert streams.waiting()
        [shown] = streams.outputs()
    assert _sha(shown) == v1
    _, err = gc.communicate(timeout=30)
    assert gc.returncode == 0, err


def test_stopping_the_daemon_ends_a_blocked_stream(cof: CofRunner, sandbox: CofSandbox) -> None:
    """``cof daemon stop`` with a pager left open: the stream ends with a clear error
    within the connections' close grace (2 s) instead of holding the shutdown for its
    whole grace period (35 s, after which ``daemon stop`` reported a failure)."""
    sandbox.env.update(AUTHOR)
    cof("init")
    _write(sandbox.work / "big")
    cof("add", "big")
    cof("commit", "-q", "-m", "v1")
    with _streams(sandbox) as streams:
        streams.start(("show", "HEAD:big"))
        started = time.monotonic()
        cof("daemon", "stop", timeout=10)
        stopped = time.monotonic() - started
        [proc] = streams.procs
        _, err = proc.communicate(timeout=10)
    assert stopped < 8, f"daemon stop took {stopped:.1f} s"
    # The error frame may sit behind the unread output: then the cut is what it sees.
    assert proc.returncode != 0, err
    assert b"cofd is stopping" in err or b"cofd closed the connection" in err, err
