"""The daemon as a user meets it: autostart, lifecycle, errors, concurrency."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from cofctl.client import Client
from protocol.errors import (
    DaemonUnavailableError,
    InternalError,
    RepositoryLockedError,
    UsageError,
)

if TYPE_CHECKING:
    from conftest import CofRunner, CofSandbox

# Registers operations only tests need, then runs the real daemon entry point.
TEST_OPS_DAEMON = textwrap.dedent(
    """
    import sys, time
    from cofd.ops.api import op

    @op("test_boom", writes=False, needs_repo=False)
    def boom(ctx, params):
        raise ValueError("kaboom")

    @op("test_sleep", writes=False, needs_repo=False)
    def sleep(ctx, params):
        for step in range(params["steps"]):
            ctx.progress({"phase": "sleeping", "done": step, "total": params["steps"]})
            time.sleep(params["seconds"] / params["steps"])
        return {"slept": params["seconds"]}

    def interval(ctx, params):
        start = time.monotonic()
        time.sleep(params["seconds"])
        return [start, time.monotonic(), str(ctx.require_repo().root)]

    op("test_repo_write", writes=True)(interval)
    op("test_repo_read", writes=False)(interval)

    from cofd.__main__ import main
    sys.exit(main(sys.argv[1:]))
    """
)


def client(box: CofSandbox, *, autostart: bool = True, cwd: Path | None = None) -> Client:
    return Client(box.home, box.env, os.fspath(cwd or box.work), autostart=autostart)


def wait_for_socket(box: CofSandbox, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not client(box, autostart=False).is_running():
        assert time.monotonic() < deadline, "daemon did not come up"
        time.sleep(0.05)


def start_foreground(box: CofSandbox, *, test_ops: bool = False) -> subprocess.Popen[str]:
    """Run a daemon for ``box`` as our child (so we can read its exit status)."""
    if test_ops:
        script = box.base / "test_ops_daemon.py"
        script.write_text(TEST_OPS_DAEMON)
        argv = [sys.executable, os.fspath(script)]
    else:
        argv = [sys.executable, "-m", "cofd"]
    process = subprocess.Popen(
        [*argv, "--home", os.fspath(box.home)],
        env=box.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=os.fspath(box.base),
    )
    wait_for_socket(box)
    return process


def status(cof: CofRunner) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(cof("daemon", "status", "--json").stdout)
    return result


def test_autostart_on_first_command(sandbox: CofSandbox, cof: CofRunner) -> None:
    assert cof("daemon", "status", check=False).returncode == 13
    reply = client(sandbox).call("ping")
    assert reply["pong"] is True
    assert reply["pid"] == sandbox.daemon_pid()
    assert status(cof)["pid"] == reply["pid"]


def test_daemon_start_is_idempotent(cof: CofRunner, sandbox: CofSandbox) -> None:
    first = cof("daemon", "start").stdout
    assert first.startswith("cofd started (pid ")
    assert cof("daemon", "start").stdout == first.replace("started", "already running")


def test_socket_is_private(sandbox: CofSandbox, cof: CofRunner) -> None:
    cof("daemon", "start")
    mode = (sandbox.home / "cofd.sock").stat().st_mode
    assert stat.S_ISSOCK(mode)
    assert stat.S_IMODE(mode) == 0o600
    assert stat.S_IMODE(sandbox.home.stat().st_mode) == 0o700


def test_status_fields(sandbox: CofSandbox, cof: CofRunner) -> None:
    cof("daemon", "start")
    info = status(cof)
    assert info["running"] is True
    assert info["pid"] == sandbox.daemon_pid()
    assert info["home"] == os.fspath(sandbox.home)
    assert info["socket"] == os.fspath(sandbox.home / "cofd.sock")
    assert info["log"] == os.fspath(sandbox.home / "cofd.log")
    assert isinstance(info["version"], str) and info["uptime"] >= 0
    assert info["repositories"] == [] and info["in_flight"] == []
    assert info["workers"] >= 2
    text = cof("daemon", "status").stdout
    assert f"pid {info['pid']}" in text and "in flight: 0" in text


def test_status_when_not_running(cof: CofRunner) -> None:
    result = cof("daemon", "status", "--json", check=False)
    assert result.returncode == 13
    assert json.loads(result.stdout)["running"] is False


def test_stop_then_next_command_autostarts(sandbox: CofSandbox, cof: CofRunner) -> None:
    cof("daemon", "start")
    first = sandbox.daemon_pid()
    assert cof("daemon", "stop").stdout == f"cofd stopped (pid {first})\n"
    assert not (sandbox.home / "cofd.sock").exists()
    assert sandbox.daemon_pid() is None
    assert cof("daemon", "stop").stdout == "cofd is not running\n"
    second = client(sandbox).call("ping")["pid"]
    assert second != first


def test_second_daemon_refuses(sandbox: CofSandbox, cof: CofRunner) -> None:
    cof("daemon", "start")
    result = subprocess.run(
        [sys.executable, "-m", "cofd", "--home", os.fspath(sandbox.home)],
        env=sandbox.env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode != 0
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0] == (
        f"cofd: another cofd (pid {sandbox.daemon_pid()}) is already running for {sandbox.home}"
    )


def test_sigterm_exits_cleanly(sandbox: CofSandbox) -> None:
    process = start_foreground(sandbox)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert not (sandbox.home / "cofd.sock").exists()
    assert not (sandbox.home / "cofd.pid").exists()
    assert "SIGTERM received" in (sandbox.home / "cofd.log").read_text()


def test_sigterm_lets_in_flight_operation_finish(sandbox: CofSandbox) -> None:
    process = start_foreground(sandbox, test_ops=True)
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(client(sandbox).call, "test_sleep", {"seconds": 1.0, "steps": 4})
        deadline = time.monotonic() + 10
        while not client(sandbox).call("daemon_status")["in_flight"]:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        process.send_signal(signal.SIGTERM)
        assert future.result(timeout=30) == {"slept": 1.0}
    assert process.wait(timeout=30) == 0


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int) -> str:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("cof: "), result.stderr
    return lines[0]


def test_home_is_a_file(sandbox: CofSandbox, cof: CofRunner) -> None:
    sandbox.home.write_text("not a directory")
    line = assert_one_line_error(cof("daemon", "start", check=False), 13)
    assert "cannot start cofd" in line and os.fspath(sandbox.home) in line
    sandbox.home.unlink()


def test_daemon_start_failure_is_quoted(sandbox: CofSandbox, cof: CofRunner) -> None:
    sandbox.home.mkdir()
    (sandbox.home / "cofd.sock").write_text("squatter")  # not a socket: cofd refuses
    line = assert_one_line_error(cof("daemon", "start", check=False), 13)
    assert line.endswith("it is not a socket")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_home_not_writable(sandbox: CofSandbox, cof: CofRunner) -> None:
    sandbox.home.mkdir(mode=0o500)
    try:
        assert_one_line_error(cof("daemon", "start", check=False), 13)
    finally:
        sandbox.home.chmod(0o700)


def test_stale_socket_is_replaced(sandbox: CofSandbox, cof: CofRunner) -> None:
    sandbox.home.mkdir(mode=0o700)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(os.fspath(sandbox.home / "cofd.sock"))
    stale.close()  # the file stays, nobody listens: like a daemon killed with -9
    assert client(sandbox).call("ping")["pong"] is True


def test_twenty_concurrent_clients(sandbox: CofSandbox) -> None:
    # Nothing runs yet: all twenty race to autostart; exactly one daemon must win.
    with ThreadPoolExecutor(20) as pool:
        replies = list(pool.map(lambda _: client(sandbox).call("ping"), range(20)))
    assert len({reply["pid"] for reply in replies}) == 1
    assert all(reply["pong"] for reply in replies)


def test_concurrent_cli_autostart_race(sandbox: CofSandbox) -> None:
    argv = [sys.executable, "-m", "cofctl", "daemon", "start"]
    processes = [
        subprocess.Popen(argv, env=sandbox.env, stdout=subprocess.PIPE, text=True) for _ in range(6)
    ]
    outputs = [process.communicate(timeout=60)[0] for process in processes]
    assert all(process.returncode == 0 for process in processes)
    assert {line.rsplit("(", 1)[1] for line in outputs} == {f"pid {sandbox.daemon_pid()})\n"}


def test_internal_error_keeps_daemon_serving(sandbox: CofSandbox) -> None:
    start_foreground(sandbox, test_ops=True)
    with pytest.raises(InternalError) as caught:
        client(sandbox).call("test_boom")
    log = sandbox.home / "cofd.log"
    assert str(caught.value) == f"internal error: ValueError: kaboom; see {log}"
    assert "Traceback" in log.read_text()
    assert client(sandbox).call("ping")["pong"] is True


def test_unknown_operation_is_a_usage_error(sandbox: CofSandbox) -> None:
    with pytest.raises(UsageError, match="unknown operation 'no_such_op'"):
        client(sandbox).call("no_such_op")


def test_progress_is_streamed(sandbox: CofSandbox) -> None:
    start_foreground(sandbox, test_ops=True)
    seen: list[dict[str, Any]] = []
    result = client(sandbox).call("test_sleep", {"seconds": 0.4, "steps": 4}, seen.append)
    assert result == {"slept": 0.4}
    assert seen and all(report["phase"] == "sleeping" for report in seen)
    assert [report["done"] for report in seen] == sorted(report["done"] for report in seen)


def test_not_running_without_autostart(sandbox: CofSandbox) -> None:
    with pytest.raises(DaemonUnavailableError, match="cofd is not running"):
        client(sandbox, autostart=False).call("ping")


def make_repository(root: Path) -> None:
    repository = pytest.importorskip("cofd.ops.repository")
    root.mkdir()
    repository.create_layout(root)


def run_pair(box: CofSandbox, op: str, repo: Path) -> list[list[Any]]:
    barrier = threading.Barrier(2)

    def call(_: int) -> list[Any]:
        barrier.wait()
        result: list[Any] = client(box, cwd=repo).call(op, {"seconds": 0.3})
        return result

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(call, range(2)))


def test_writers_serialised_readers_concurrent(sandbox: CofSandbox) -> None:
    repo = sandbox.work / "repo"
    make_repository(repo)
    start_foreground(sandbox, test_ops=True)
    first, second = sorted(run_pair(sandbox, "test_repo_write", repo))
    assert first[2] == os.fspath(repo)
    assert second[0] >= first[1]  # the second writer waited for the first
    first, second = sorted(run_pair(sandbox, "test_repo_read", repo))
    assert second[0] < first[1]  # readers overlapped
    assert client(sandbox).call("daemon_status")["repositories"] == [os.fspath(repo)]


def test_repository_owned_by_another_daemon(
    sandbox: CofSandbox, sandbox_factory: Callable[[], CofSandbox]
) -> None:
    repo = sandbox.work / "repo"
    make_repository(repo)
    start_foreground(sandbox, test_ops=True)
    client(sandbox, cwd=repo).call("test_repo_read", {"seconds": 0})
    other = sandbox_factory()
    start_foreground(other, test_ops=True)
    with pytest.raises(RepositoryLockedError):
        client(other, cwd=repo).call("test_repo_read", {"seconds": 0})
