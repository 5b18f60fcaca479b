"""Clone across two network namespaces joined by a lossy veth (tc netem 5% loss, 2 ms).

Needs root, ``ip`` and the netem qdisc; skipped with the reason otherwise. Each
daemon runs inside its namespace (``ip netns exec``), with its own COF_HOME.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import CofSandbox, make_sandbox

NS_A, NS_B = "cofnsA", "cofnsB"
VETH_A, VETH_B = "cofvA", "cofvB"
ADDR_A, ADDR_B = "10.231.7.1", "10.231.7.2"
PORT = 7420
CLONE_BYTES = 64 * 1024 * 1024
CLONE_TIMEOUT = 240.0


def _run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, check=check, timeout=30)


def _teardown_network() -> None:
    for ns in (NS_A, NS_B):
        _run("ip", "netns", "del", ns, check=False)
    _run("ip", "link", "del", VETH_A, check=False)


def _setup_network(netem: bool) -> str | None:
    """Build the namespaces; return why they cannot be built (then nothing is left)."""
    if os.geteuid() != 0:
        return "needs root"
    if shutil.which("ip") is None or (netem and shutil.which("tc") is None):
        return "needs iproute2 (ip, tc)"
    _teardown_network()
    steps = [
        ("ip", "netns", "add", NS_A),
        ("ip", "netns", "add", NS_B),
        ("ip", "link", "add", VETH_A, "type", "veth", "peer", "name", VETH_B),
        ("ip", "link", "set", VETH_A, "netns", NS_A),
        ("ip", "link", "set", VETH_B, "netns", NS_B),
    ]
    for ns, dev, addr in ((NS_A, VETH_A, ADDR_A), (NS_B, VETH_B, ADDR_B)):
        steps += [
            ("ip", "netns", "exec", ns, "ip", "addr", "add", f"{addr}/24", "dev", dev),
            ("ip", "netns", "exec", ns, "ip", "link", "set", dev, "up"),
            ("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"),
        ]
        if netem:
            steps.append(
                (
                    "ip",
                    "netns",
                    "exec",
                    ns,
                    "tc",
                    "qdisc",
                    "add",
                    "dev",
                    dev,
                    "root",
                    "netem",
                    "loss",
                    "5%",
                    "delay",
                    "2ms",
                )
            )
    for step in steps:
        result = _run(*step, check=False)
        if result.returncode != 0:
            _teardown_network()
            return f"{' '.join(step[:6])}... failed: {result.stderr.strip()}"
    return None


@contextlib.contextmanager
def lossy_link(netem: bool = True) -> Iterator[None]:
    problem = _setup_network(netem)
    if problem is not None:
        pytest.skip(f"network namespaces unavailable: {problem}")
    try:
        yield
    finally:
        _teardown_network()


class NsPeer:
    def __init__(self, box: CofSandbox, ns: str, addr: str, name: str) -> None:
        self.box, self.ns, self.addr = box, ns, addr
        box.home.mkdir(parents=True, exist_ok=True)
        (box.home / "config.toml").write_text(f'[peer]\nlisten = "{addr}:{PORT}"\n')
        box.env.update(COF_AUTHOR_NAME=name, COF_AUTHOR_EMAIL=f"{name}@example.com")

    def cof(self, *args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        cmd = ["ip", "netns", "exec", self.ns, sys.executable, "-m", "cofctl", *args]
        result = subprocess.run(
            cmd,
            cwd=cwd,
            env=self.box.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert result.returncode == 0, f"cof {args} failed:\n{result.stdout}\n{result.stderr}"
        return result

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.cof("daemon", "stop", cwd=self.box.work)
        shutil.rmtree(self.box.base, ignore_errors=True)


def clone_across(netem: bool) -> dict[str, object]:
    """Set up both peers, clone 64 MiB from A to B, verify; returns the clone result."""
    a = NsPeer(make_sandbox(), NS_A, ADDR_A, "alice")
    b = NsPeer(make_sandbox(), NS_B, ADDR_B, "bob")
    try:
        origin = a.box.work / "origin"
        origin.mkdir()
        data = os.urandom(CLONE_BYTES)
        (origin / "big.bin").write_bytes(data)
        a.cof("init", cwd=origin)
        a.cof("add", "-A", cwd=origin)
        a.cof("commit", "-q", "-m", "big", cwd=origin)
        a.cof("share", "proj", cwd=origin)
        a_key = a.cof("peer", "key", cwd=origin).stdout.strip()
        b_key = b.cof("peer", "key", cwd=b.box.work).stdout.strip()
        a.cof("peer", "grant", b_key, "proj", "--read", cwd=origin)
        url = f"cof://{a_key}@{ADDR_A}:{PORT}/proj"
        started = time.monotonic()
        result = b.cof("clone", url, "copy", "--json", cwd=b.box.work, timeout=CLONE_TIMEOUT)
        elapsed = time.monotonic() - started
        copied = (b.box.work / "copy" / "big.bin").read_bytes()
        assert hashlib.sha256(copied).digest() == hashlib.sha256(data).digest()
        out: dict[str, object] = json.loads(result.stdout)
        out["elapsed"] = elapsed
        return out
    finally:
        a.stop()
        b.stop()


@pytest.mark.slow
@pytest.mark.timeout(CLONE_TIMEOUT + 60)
def test_clone_64mib_over_lossy_veth() -> None:
    with lossy_link(netem=True):
        result = clone_across(netem=True)
    stats = result["fetch"]["stats"]  # type: ignore[index]
    assert stats["blocks"] == stats["listed"] >= CLONE_BYTES // 4096
