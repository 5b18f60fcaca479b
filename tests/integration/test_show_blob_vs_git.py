"""Differential tests: ``cof show REV:PATH`` / ``:PATH`` against ``git show``.

The file's bytes must come out exactly (binary, a few MiB), a directory as git's
listing, and the errors where git fails. Memory: the daemon sends the file as Data
frames of at most 1 MiB and waits for the socket to take each one (``cofd/daemon/
output.py``), the client writes each to stdout as it comes (``cofctl/stream_out.py``),
so neither side holds more than a couple of MiB whatever the file's size; the 3 MiB
file here spans several frames, so framing and ordering are exercised.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time

from tests.integration.gitpair import GitPair
from tests.integration.test_merge_conflicts import apply, commit_both, pair

__all__ = ["pair"]  # a fixture, used by name

BIG = random.Random(7).randbytes(3 * 1024 * 1024 + 123)


Run = subprocess.CompletedProcess[bytes]


def same_bytes(pair: GitPair, spec: str, cwd: str = "") -> bytes:
    git, cof = pair.both_bytes(["show", spec], cwd=cwd)
    assert git.returncode == 0, git.stderr
    assert cof.returncode == 0, cof.stderr
    assert cof.stdout == git.stdout, (spec, cof.stdout[:200], git.stdout[:200])
    return cof.stdout


def fails_alike(pair: GitPair, spec: str, cwd: str = "") -> None:
    """Both fail; cof's one line says what git's first line says, in its style."""
    git, cof = pair.both_bytes(["show", spec], cwd=cwd)
    assert git.returncode != 0 and cof.returncode != 0, (spec, git, cof)
    assert cof.stdout == b""
    git_line = git.stderr.decode().splitlines()[0].removeprefix("fatal: ")
    cof_lines = cof.stderr.decode().splitlines()
    assert len(cof_lines) == 1 and cof_lines[0].startswith(f"cof: {git_line}"), (spec, git, cof)


def test_show_rev_path_matches_git(pair: GitPair) -> None:
    apply(
        pair,
        {
            "big.bin": BIG,
            "bytes": bytes(range(256)) * 3,
            "a.txt": b"a\n",
            "d/e/f": b"f\n",
            "d/g": b"g",
            "d.txt": b"sorted before d/ by git\n",
            "sp ace": b"s",
        },
    )
    for root in (pair.git_root, pair.cof_root):
        os.symlink("d/g", root / "link")
        (root / "empty").write_bytes(b"")
    commit_both(pair, "one")
    apply(pair, {"big.bin": BIG[::-1], "bytes": b"\0two"})
    commit_both(pair, "two")
    apply(pair, {"big.bin": BIG[:5000], "d/g": b"staged"})
    pair.both(["add", "-A"])
    apply(pair, {"d/g": b"on disk only"})

    assert same_bytes(pair, "HEAD~1:big.bin") == BIG
    assert same_bytes(pair, "HEAD:big.bin") == BIG[::-1]
    assert same_bytes(pair, ":big.bin") == BIG[:5000]
    assert same_bytes(pair, ":0:d/g") == b"staged"
    for spec in ("HEAD~1:bytes", "main:link", "HEAD:", "HEAD:d/"):
        same_bytes(pair, spec)
    assert same_bytes(pair, "HEAD:../g", cwd="d/e") == b"g"

    apply(pair, {"untracked": b"u"})
    for spec in ("HEAD:a.txt/", "HEAD:untracked", ":untracked", ":nope"):
        fails_alike(pair, spec)
    fails_alike(pair, "HEAD:g", cwd="d")

    # rev-parse takes REV:PATH too: ids differ (BLAKE3), so only what succeeds, what
    # fails and which entries share an id are compared.
    specs = ("HEAD:d/g", "HEAD:d/", ":d/g", "HEAD~1:bytes", "HEAD:bytes", "HEAD~1:d/g")
    git, cof = pair.both_bytes(["rev-parse", *specs])
    assert (git.returncode, cof.returncode) == (0, 0), cof.stderr
    git_ids, cof_ids = git.stdout.split(), cof.stdout.split()
    assert [git_ids.index(i) for i in git_ids] == [cof_ids.index(i) for i in cof_ids]
    git, cof = pair.both_bytes(["rev-parse", "-q", "--verify", "HEAD:nope"])
    assert (git.returncode, cof.returncode, cof.stdout, cof.stderr) == (1, 1, b"", b"")

    # ``cof show HEAD:big | head -c 10``: the first bytes, no message, and the daemon is
    # not left streaming for nobody: nothing is in flight a moment later.
    cof = f"{sys.executable} -m cofctl"
    result = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {cof} show HEAD~1:big.bin | head -c 10"],
        cwd=pair.cof_root,
        env=pair.sandbox.env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.stdout == BIG[:10]
    assert result.stderr == b""
    assert result.returncode == 141  # as git: SIGPIPE's status, from the writer
    deadline = time.monotonic() + 5
    while "in flight: 0" not in pair.cof("daemon", "status").stdout:
        assert time.monotonic() < deadline, "the daemon is still busy with the show"
        time.sleep(0.05)
