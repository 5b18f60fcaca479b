"""Fixtures for integration tests: a private ``COF_HOME`` and the real CLI.

Every test that uses ``sandbox`` (or ``cof``, ``cof_env``, ``cof_home``) gets its own
home, so its own daemon, and that daemon is stopped at teardown (gracefully, then
SIGKILL by pid file), so no daemon outlives the test.

    def test_something(cof, sandbox):
        cof("init", cwd=sandbox.work)
        result = cof("status", "--json")          # cwd defaults to sandbox.work
        assert json.loads(result.stdout) == ...
        failed = cof("commit", check=False)       # check=False: inspect the failure
        assert failed.returncode == 1 and failed.stderr.startswith("cof: ")
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest

# Generous: the first command of a test also starts the daemon.
COMMAND_TIMEOUT = 60.0
STOP_TIMEOUT = 40.0


class CofRunner(Protocol):
    def __call__(
        self,
        *args: str | os.PathLike[str],
        cwd: str | os.PathLike[str] | None = None,
        input: str | None = None,
        check: bool = True,
        timeout: float = COMMAND_TIMEOUT,
    ) -> subprocess.CompletedProcess[str]: ...


@dataclass
class CofSandbox:
    """A private cof installation for one test.

    Attributes:
        base: a short temporary directory (Unix socket paths must stay short).
        home: ``COF_HOME`` (``base/home``; created by the daemon on first use).
        work: an empty scratch directory (``base/work``), the default ``cwd``.
        env: the environment commands run with (the test process's environment
            without any ``COF_*`` variable, plus ``COF_HOME``).
    """

    base: Path
    home: Path
    work: Path
    env: dict[str, str]

    def cof(
        self,
        *args: str | os.PathLike[str],
        cwd: str | os.PathLike[str] | None = None,
        input: str | None = None,
        check: bool = True,
        timeout: float = COMMAND_TIMEOUT,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``cof ARGS...`` (the real CLI, ``python -m cofctl``) as a subprocess.

        With ``check`` a non-zero exit fails the test, showing stdout and stderr.
        """
        result = subprocess.run(
            [sys.executable, "-m", "cofctl", *map(os.fspath, args)],
            cwd=os.fspath(cwd) if cwd is not None else self.work,
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            pytest.fail(
                f"cof {' '.join(map(os.fspath, args))} exited {result.returncode}\n"
                f"--- stdout\n{result.stdout}--- stderr\n{result.stderr}",
                pytrace=False,
            )
        return result

    def daemon_pid(self) -> int | None:
        """The pid in the daemon's pid file, if there is one."""
        try:
            return int((self.home / "cofd.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def stop_daemon(self) -> None:
        """Stop this home's daemon: ``cof daemon stop``, else SIGKILL by pid file."""
        pid = self.daemon_pid()
        if pid is None and not (self.home / "cofd.sock").exists():
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.cof("daemon", "stop", check=False, timeout=STOP_TIMEOUT)
        pid = self.daemon_pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)


def make_sandbox() -> CofSandbox:
    """A fresh sandbox (the ``sandbox`` fixture also stops its daemon afterwards)."""
    base = Path(tempfile.mkdtemp(prefix="cof")).resolve()
    work = base / "work"
    work.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith("COF_")}
    env["COF_HOME"] = os.fspath(base / "home")
    return CofSandbox(base=base, home=base / "home", work=work, env=env)


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[[], CofSandbox]]:
    """Makes extra sandboxes (e.g. a second daemon); all are cleaned up afterwards."""
    boxes: list[CofSandbox] = []

    def make() -> CofSandbox:
        boxes.append(make_sandbox())
        return boxes[-1]

    try:
        yield make
    finally:
        for box in boxes:
            box.stop_daemon()
            shutil.rmtree(box.base, ignore_errors=True)


@pytest.fixture
def sandbox(sandbox_factory: Callable[[], CofSandbox]) -> CofSandbox:
    """A private ``COF_HOME`` and work directory; the daemon is stopped afterwards."""
    return sandbox_factory()


@pytest.fixture
def cof(sandbox: CofSandbox) -> CofRunner:
    """``cof(*args, cwd=None, input=None, check=True, timeout=60) -> CompletedProcess``."""
    return sandbox.cof


@pytest.fixture
def cof_env(sandbox: CofSandbox) -> dict[str, str]:
    """The environment ``cof`` runs with (includes ``COF_HOME``)."""
    return sandbox.env


@pytest.fixture
def cof_home(sandbox: CofSandbox) -> Path:
    """The sandbox's ``COF_HOME``."""
    return sandbox.home
