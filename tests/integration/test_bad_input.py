"""Bad input through the real CLI and daemon: every expected failure is one line
``cof: ...`` on stderr, the documented exit code, and no change on disk."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import CofRunner, CofSandbox

MIB = 1024 * 1024
AUTHOR = {"COF_AUTHOR_NAME": "Tess Ter", "COF_AUTHOR_EMAIL": "tess@example.com"}

Snapshot = dict[str, str]


def snapshot(root: Path) -> Snapshot:
    """Hash of every file and symlink under ``root`` (the work tree and ``.cof/``).

    SQLite's shared-memory index (``-shm``) changes on reads and holds no data.
    """
    out: Snapshot = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            full = Path(dirpath, name)
            rel = full.relative_to(root).as_posix()
            if full.is_symlink():
                out[rel] = "-> " + os.readlink(full)
            elif full.is_file() and not name.endswith("-shm"):
                out[rel] = hashlib.sha256(full.read_bytes()).hexdigest()
            elif full.is_dir():
                out[rel] = "dir"
    return out


# A progress line (drawn on stderr for work over a second), e.g.
# "adding 32.0 MiB / 64.0 MiB (50%)".
PROGRESS_LINE = re.compile(r"^[a-z][a-z ]* \d.* \(\d+%\)$")


def assert_fails(result: subprocess.CompletedProcess[str], exit_code: int, *fragments: str) -> str:
    """One line ``cof: ...`` ending stderr, no traceback, ``exit_code``; returns the line.

    Only progress lines may precede the error line.
    """
    assert result.returncode == exit_code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.endswith("\n"), result.stderr
    *before, line = result.stderr.splitlines()
    assert line.startswith("cof: "), result.stderr
    assert all(PROGRESS_LINE.match(other) for other in before), result.stderr
    for fragment in fragments:
        assert fragment in line, (fragment, result.stderr)
    return line


@pytest.fixture
def repo(sandbox: CofSandbox, cof: CofRunner) -> Path:
    """A repository with one commit of ``a.bin`` and ``dir/b.bin``, clean."""
    sandbox.env.update(AUTHOR)
    cof("init")
    (sandbox.work / "a.bin").write_bytes(b"alpha\n")
    (sandbox.work / "dir").mkdir()
    (sandbox.work / "dir" / "b.bin").write_bytes(b"beta\n")
    cof("add", "-A")
    cof("commit", "-q", "-m", "base")
    return sandbox.work


@contextlib.contextmanager
def unchanged(root: Path) -> Iterator[None]:
    before = snapshot(root)
    yield
    assert snapshot(root) == before


def test_not_a_repository(sandbox: CofSandbox, cof: CofRunner) -> None:
    (sandbox.work / "f").write_bytes(b"x")
    with unchanged(sandbox.work):
        for args in (("status",), ("add", "f"), ("log",), ("commit", "-m", "x")):
            assert_fails(cof(*args, check=False), 3, "not a cof repository")
    assert not (sandbox.work / ".cof").exists()


def test_path_outside_the_repository(repo: Path, cof: CofRunner, sandbox: CofSandbox) -> None:
    outside = sandbox.base / "outside.bin"
    outside.write_bytes(b"out")
    with unchanged(repo):
        assert_fails(cof("add", "../outside.bin", check=False), 5)
        assert_fails(cof("add", os.fspath(outside), check=False), 5)
        assert_fails(cof("add", "/etc/hostname", check=False), 5)
        assert_fails(cof("rm", "../outside.bin", check=False), 5)
        assert_fails(cof("restore", "../outside.bin", check=False), 5)
        assert_fails(cof("status", "..", check=False), 5)
    assert outside.read_bytes() == b"out"


def test_pathspec_matching_nothing(repo: Path, cof: CofRunner) -> None:
    (repo / "new.bin").write_bytes(b"new")
    with unchanged(repo):
        # One bad pathspec fails the whole command: new.bin is not staged either.
        assert_fails(cof("add", "new.bin", "nope.bin", check=False), 5, "nope.bin")
        assert_fails(cof("rm", "nope.bin", check=False), 5, "nope.bin")
        assert_fails(cof("rm", "new.bin", check=False), 5, "new.bin")
        assert_fails(cof("restore", "nope.bin", check=False), 5, "nope.bin")
        assert_fails(cof("restore", "--source", "HEAD", "nope.bin", check=False), 5)
    assert cof("status", "--porcelain").stdout == "?? new.bin\n"


def test_nothing_to_commit(sandbox: CofSandbox, cof: CofRunner) -> None:
    sandbox.env.update(AUTHOR)
    cof("init")
    cof("status")  # the daemon opens the repository (index, lock) before the snapshot
    with unchanged(sandbox.work):
        assert_fails(cof("commit", "-m", "empty", check=False), 1, "nothing to commit")
    (sandbox.work / "f").write_bytes(b"f")
    cof("add", "f")
    cof("commit", "-m", "one")
    (sandbox.work / "untracked").write_bytes(b"u")
    with unchanged(sandbox.work):
        assert_fails(cof("commit", "-m", "again", check=False), 1, "nothing to commit")
    assert len(json.loads(cof("log", "--json").stdout)) == 1


def test_empty_and_blank_messages(repo: Path, cof: CofRunner) -> None:
    (repo / "a.bin").write_bytes(b"changed")
    cof("add", "a.bin")
    with unchanged(repo):
        for message in ("", "   ", "\n\n", " \t\n  \n"):
            assert_fails(cof("commit", "-m", message, check=False), 2, "empty commit message")
    assert len(json.loads(cof("log", "--json").stdout)) == 1


def test_unknown_revision(repo: Path, cof: CofRunner) -> None:
    with unchanged(repo):
        assert_fails(cof("log", "nope", check=False), 4, "unknown revision 'nope'")
        assert_fails(cof("show", "nope", check=False), 4, "nope")
        assert_fails(cof("log", "HEAD~5", check=False), 4, "HEAD~5")
        assert_fails(cof("log", "HEAD^2", check=False), 4, "HEAD^2")
        assert_fails(cof("log", "0000000000", check=False), 4)
        assert_fails(cof("log", "f" * 65, check=False), 4)
        assert_fails(cof("restore", "--source", "nope", "a.bin", check=False), 4, "nope")


def _commit_in_process(root: Path, until: Callable[[list[str]], bool]) -> list[str]:
    """Append empty commits to ``main`` until ``until(ids)``, in-process (no daemon).

    One store transaction and one ref update for the whole chain: committing each
    through the CLI (or the commit operation, one fsync each) would take minutes.
    """
    from cofd.objects.model import Commit
    from cofd.ops.repository import Repository
    from cofd.ops.trees import build

    repository = Repository.open(root)
    ids: list[str] = []
    try:
        who = Repository.signature(AUTHOR["COF_AUTHOR_NAME"], AUTHOR["COF_AUTHOR_EMAIL"])
        parents: tuple[Any, ...] = ()
        with repository.blocks.transaction() as txn:
            tree = build(repository.objects, txn, {})
            while not until(ids):
                assert len(ids) < 5000, "no 4-digit prefix collision in 5000 commits"
                commit = Commit(parents, tree, who, who, f"c{len(ids)}\n", len(ids) + 1)
                commit_id = repository.objects.write_commit(txn, commit)
                txn.assign_generation(commit.sequence)
                parents = (commit_id,)
                ids.append(commit_id.hex())
        repository.refs.update("HEAD", parents[0], who, "commit: chain", expected=None)
    finally:
        repository.close()
    return ids


def test_ambiguous_prefix(sandbox: CofSandbox, cof: CofRunner) -> None:
    sandbox.env.update(AUTHOR)
    cof("init")
    sandbox.stop_daemon()  # the in-process repository needs the flock
    # Hundreds of commits would age blocks into other tiers; keep the migration loop
    # idle so that the store only changes through the commands under test.
    config = sandbox.work / ".cof" / "config.toml"
    text = config.read_text()
    for key in ("warm_threshold", "cold_threshold"):
        text = re.sub(rf"(?m)^(# )?{key} = \d+$", f"{key} = 1000000", text)
    config.write_text(text)
    prefixes: dict[str, str] = {}
    shared: list[str] = []

    def collided(ids: list[str]) -> bool:
        if ids:
            other = prefixes.setdefault(ids[-1][:4], ids[-1])
            if other != ids[-1]:
                shared.extend([other, ids[-1]])
        return bool(shared)

    ids = _commit_in_process(sandbox.work, collided)
    logged = [c["id"] for c in json.loads(cof("log", "--json").stdout)]
    assert logged == ids[::-1]
    first, second = shared
    prefix = first[:4]
    with unchanged(sandbox.work):
        line = assert_fails(cof("log", prefix, check=False), 4, "ambiguous", prefix)
        assert first[:12] in line and second[:12] in line
        assert_fails(cof("show", prefix.upper(), check=False), 4, "ambiguous")
    # A longer prefix tells them apart.
    common = next(i for i, (a, b) in enumerate(zip(first, second, strict=True)) if a != b)
    assert json.loads(cof("show", "--json", first[: common + 1]).stdout)["id"] == first


# Capabilities that let root read any file; without them a mode-000 file is unreadable.
DAC_CAPS = "-dac_override,-dac_read_search"


def _without_dac(sandbox: CofSandbox, *args: str) -> subprocess.CompletedProcess[str]:
    """``cof ARGS`` without the DAC capabilities (its autostarted daemon inherits that)."""
    argv = ["setpriv", f"--bounding-set={DAC_CAPS}", f"--inh-caps={DAC_CAPS}"]
    return subprocess.run(
        [*argv, sys.executable, "-m", "cofctl", *args],
        cwd=sandbox.work,
        env=sandbox.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_unreadable_file(repo: Path, sandbox: CofSandbox, cof: CofRunner) -> None:
    secret = repo / "secret.bin"
    secret.write_bytes(b"secret")
    (repo / "fine.bin").write_bytes(b"fine")
    if os.geteuid() == 0:
        # Root reads any file through CAP_DAC_OVERRIDE: run the client and the daemon
        # it starts with that capability (and CAP_DAC_READ_SEARCH) dropped.
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot drop CAP_DAC_OVERRIDE")
        sandbox.stop_daemon()

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return _without_dac(sandbox, *args)

    else:

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return cof(*args, check=False)

    secret.chmod(0)
    probe = run("status", "--porcelain")
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout == "?? fine.bin\n?? secret.bin\n"
    with unchanged(repo):
        assert_fails(run("add", "secret.bin"), 5, "cannot read 'secret.bin'", "ermission denied")
        # The whole add fails: fine.bin is not staged either.
        assert_fails(run("add", "-A"), 5, "secret.bin")
    after = run("status", "--porcelain")
    assert after.stdout == probe.stdout
    assert run("add", "fine.bin").returncode == 0
    assert run("status", "--porcelain").stdout == "A  fine.bin\n?? secret.bin\n"


VERSION_SIZE = 64 * MIB
STAMP = 4096  # every 4 KiB block of version v begins with v's stamp


def _version_chunk(base: bytes, version: int) -> bytes:
    """One MiB of version ``version``: ``base`` with each 4 KiB block stamped."""
    stamp = version.to_bytes(8, "little")
    chunk = bytearray(base)
    for offset in range(0, len(chunk), STAMP):
        chunk[offset : offset + 8] = stamp
    return bytes(chunk)


class Rewriter(threading.Thread):
    """Rewrites a 64 MiB file in place, version after version, until stopped."""

    def __init__(self, path: Path, base: bytes) -> None:
        super().__init__(daemon=True)
        self.path, self.base = path, base
        self.completed: list[int] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def write_version(self, version: int) -> bool:
        chunk = _version_chunk(self.base, version)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT)
        try:
            for offset in range(0, VERSION_SIZE, MIB):
                if self.stop.is_set():
                    return False
                os.pwrite(fd, chunk, offset)
        finally:
            os.close(fd)
        self.completed.append(version)
        return True

    def run(self) -> None:
        try:
            version = len(self.completed)
            while self.write_version(version):
                version += 1
                # Pause now and then so that a whole, quiet version can be read.
                if version % 3 == 0:
                    time.sleep(0.05)
        except BaseException as exc:  # surfaced by the test
            self.error = exc


def test_file_changing_while_being_added(repo: Path, sandbox: CofSandbox, cof: CofRunner) -> None:
    big = repo / "big.bin"
    base = os.urandom(MIB)
    writer = Rewriter(big, base)
    assert writer.write_version(0)
    cof("status")  # the daemon is up and the repository open before the race
    objects_before = _tree_bytes(repo / ".cof" / "objects")
    writer.start()
    try:
        result = cof("add", "big.bin", check=False)
    finally:
        writer.stop.set()
        writer.join(timeout=30)
    assert writer.error is None and len(writer.completed) > 1
    status = cof("status", "--porcelain").stdout
    if result.returncode != 0:
        assert_fails(result, 8, "big.bin", "changing")
        assert status == "?? big.bin\n"
        assert _tree_bytes(repo / ".cof" / "objects") == objects_before
        return
    # Recorded: it must be exactly one complete version.
    assert result.stderr.count("cof:") == 0
    assert status.startswith("AM big.bin") or status.startswith("A  big.bin"), status
    cof("commit", "-q", "-m", "big")
    big.unlink()
    cof("restore", "--source", "HEAD", "big.bin")
    restored = big.read_bytes()
    version = int.from_bytes(restored[:8], "little")
    assert version in writer.completed
    assert restored == _version_chunk(base, version) * (VERSION_SIZE // MIB)


def _tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def test_corrupted_pack_byte(repo: Path, sandbox: CofSandbox, cof: CofRunner) -> None:
    from cofd.store.ids import hash_block

    content = os.urandom(3 * 4096)
    (repo / "data.bin").write_bytes(content)
    cof("add", "data.bin")
    cof("commit", "-q", "-m", "data")
    sandbox.stop_daemon()
    pack = repo / ".cof" / "objects" / "hot" / "00000001.pack"
    raw = bytearray(pack.read_bytes())
    middle = content[4096:8192]  # the file's second block
    where = raw.find(middle)
    assert where > 0 and raw.find(middle, where + 1) < 0
    raw[where + 1000] ^= 0x40
    pack.write_bytes(raw)

    (repo / "data.bin").write_bytes(b"local edit")
    cof("status")  # a new daemon opens the repository (lock file, WAL) before the snapshot
    with unchanged(repo):
        line = assert_fails(
            cof("restore", "--source", "HEAD", "data.bin", check=False),
            10,
            hash_block(middle).hex(),
            "00000001",
            "corrupt",
        )
    assert "pack" in line and line.count("\n") == 0
    assert (repo / "data.bin").read_bytes() == b"local edit"
    (repo / "data.bin").unlink()
    assert_fails(cof("restore", "--source", "HEAD", "data.bin", check=False), 10)
    assert sorted(p.name for p in repo.iterdir()) == [".cof", "a.bin", "dir"]
    # Untouched blocks still read fine.
    (repo / "a.bin").unlink()
    cof("restore", "--source", "HEAD", "a.bin")
    assert (repo / "a.bin").read_bytes() == b"alpha\n"


CONFIG_CASES = [
    ("block_size = 4096", "block_sise = 4096", ": core.block_sise: unknown key (expected"),
    ("block_size = 4096", "block_size = 1000", ": core.block_size: expected"),
    ("# timeout_ms = 5000", 'timeout_ms = "soon"', ": network.timeout_ms: expected"),
    ("# auto_gc = true", "auto_gc = 1", ": gc.auto_gc: expected"),
    ("[gc]", "[bogus]\nx = 1\n[gc]", ": bogus: unknown section (expected"),
    ("[gc]", "[gc", ": not valid TOML"),
]


def test_invalid_config(sandbox: CofSandbox, cof: CofRunner) -> None:
    sandbox.env.update(AUTHOR)
    cof("init")
    sandbox.stop_daemon()  # the next daemon reads the broken file when it opens the repo
    config = sandbox.work / ".cof" / "config.toml"
    good = config.read_text()
    (sandbox.work / "f").write_bytes(b"f")
    for old, new, expected in CONFIG_CASES:
        assert good.count(old) == 1
        config.write_text(good.replace(old, new))
        with unchanged(sandbox.work):
            for args in (("status",), ("add", "f")):
                line = assert_fails(cof(*args, check=False), 6, expected)
                assert line.startswith(f"cof: {config}: "), line
    config.write_text(good)
    assert cof("status", "--porcelain").stdout == "?? f\n"


def test_daemon_not_startable(sandbox: CofSandbox, cof: CofRunner) -> None:
    not_a_dir = sandbox.base / "home-is-a-file"
    not_a_dir.write_text("")
    sandbox.env["COF_HOME"] = os.fspath(not_a_dir)
    started = time.monotonic()
    assert_fails(cof("status", check=False), 13, "cannot start cofd")
    assert_fails(cof("init", check=False), 13)
    assert time.monotonic() - started < 30
    assert not_a_dir.read_text() == ""
    assert not (sandbox.work / ".cof").exists()


def test_two_daemons_on_one_repository(
    repo: Path, sandbox_factory: Callable[[], CofSandbox]
) -> None:
    second = sandbox_factory()
    second.env.update(AUTHOR)
    (repo / "new.bin").write_bytes(b"new")
    with unchanged(repo):
        for args in (("status",), ("add", "new.bin"), ("log",)):
            line = assert_fails(second.cof(*args, cwd=repo, check=False), 12)
            assert "owned by another cofd" in line
    assert second.daemon_pid() is not None  # its daemon runs; only the repository is taken


@pytest.fixture
def small_disk(sandbox: CofSandbox) -> Iterator[Path]:
    """A repository whose ``.cof`` lives on an 8 MiB tmpfs (work tree on the real disk)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    repo = sandbox.work / "repo"
    (repo / ".cof").mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", os.fspath(repo / ".cof")],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    try:
        yield repo
    finally:
        sandbox.stop_daemon()  # it holds files on the tmpfs open
        if subprocess.run(["umount", os.fspath(repo / ".cof")], check=False).returncode != 0:
            subprocess.run(["umount", "-l", os.fspath(repo / ".cof")], check=False)


def test_disk_full_during_add(small_disk: Path, sandbox: CofSandbox, cof: CofRunner) -> None:
    repo = small_disk
    sandbox.env.update(AUTHOR)
    cof("init", cwd=repo)
    (repo / "seed.bin").write_bytes(b"seed")
    cof("add", "seed.bin", cwd=repo)
    cof("commit", "-q", "-m", "seed", cwd=repo)
    (repo / "huge.bin").write_bytes(os.urandom(16 * MIB))
    status_before = cof("status", "--porcelain", cwd=repo).stdout
    objects_before = _tree_bytes(repo / ".cof" / "objects")
    state_before = (repo / ".cof" / "worktree").read_bytes()

    assert_fails(cof("add", "huge.bin", cwd=repo, check=False), 11, "disk full")
    assert cof("status", "--porcelain", cwd=repo).stdout == status_before
    assert _tree_bytes(repo / ".cof" / "objects") <= objects_before
    assert (repo / ".cof" / "worktree").read_bytes() == state_before
    assert_fails(cof("add", "-A", cwd=repo, check=False), 11)

    (repo / "huge.bin").unlink()
    (repo / "small.bin").write_bytes(os.urandom(64 * 1024))
    cof("add", "small.bin", cwd=repo)
    cof("commit", "-q", "-m", "small", cwd=repo)
    (repo / "small.bin").rename(repo / "small.orig")
    cof("restore", "--source", "HEAD", "small.bin", cwd=repo)
    assert (repo / "small.bin").read_bytes() == (repo / "small.orig").read_bytes()
    logged: list[dict[str, Any]] = json.loads(cof("log", "--json", cwd=repo).stdout)
    assert [c["message"] for c in logged] == ["small\n", "seed\n"]
