"""A low-order peer key (all zeros) through the real CLI: refused with one line
``cof: ...`` and a usage exit code, never an internal error (exit 70)."""

from __future__ import annotations

import socket
import subprocess
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import CofRunner, CofSandbox

ZERO = "00" * 32
MESSAGE = f"peer key {ZERO} is not a valid X25519 public key"


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _assert_refused(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert result.stderr.startswith("cof: ") and result.stderr.count("\n") == 1, result.stderr
    assert MESSAGE in result.stderr, result.stderr
    assert "internal error" not in result.stderr


def test_clone_remote_add_and_grant_refuse_an_all_zero_key(
    sandbox: CofSandbox, cof: CofRunner
) -> None:
    port = _free_udp_port()
    _assert_refused(cof("clone", f"cof://{ZERO}@127.0.0.1:{port}/proj", "x", check=False))
    assert not (sandbox.work / "x").exists()

    cof("init", "r")
    repo = sandbox.work / "r"
    _assert_refused(cof("remote", "add", "z", f"cof://{ZERO}@host/x", cwd=repo, check=False))
    _assert_refused(cof("remote", "add", "z", "cof://host/x", "--key", ZERO, cwd=repo, check=False))
    assert cof("remote", cwd=repo).stdout.strip() == ""

    cof("share", "proj", cwd=repo)
    _assert_refused(cof("peer", "grant", ZERO, "proj", "--read", check=False))


def test_grant_and_share_refuse_ambiguous_options(sandbox: CofSandbox, cof: CofRunner) -> None:
    """`peer grant --read --write` silently granted whichever option came last, and
    `share --remove` without a NAME listed the shares as if asked to: both are
    usage errors now, and nothing changes."""
    cof("init", "r")
    repo = sandbox.work / "r"
    cof("share", "proj", cwd=repo)
    key = cof("peer", "key").stdout.strip()
    for options in (["--read", "--write"], ["--write", "--read"], []):
        result = cof("peer", "grant", key, "proj", *options, check=False)
        assert result.returncode == 2 and "one of --read or --write" in result.stderr, result
    assert cof("share", "--list", "--json").stdout.count('"grants": []') == 1
    cof("peer", "grant", key, "proj", "--write")
    cof("peer", "grant", key, "proj", "--read")  # a new grant replaces the old one
    assert '"right": "read"' in cof("share", "--list", "--json").stdout

    result = cof("share", "--remove", cwd=repo, check=False)
    assert result.returncode == 2 and "--remove needs the NAME" in result.stderr, result
    result = cof("share", "--list", "--remove", "proj", cwd=repo, check=False)
    assert result.returncode == 2, result
    assert "proj" in cof("share", "--list").stdout  # still shared
    cof("share", "--remove", "proj", cwd=repo)
    assert cof("share", "--list").stdout.strip() == ""
