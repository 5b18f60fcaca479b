"""SIGKILL of cofd during migration, compaction and gc, at seeded random moments.

A template history (12 commits of four ~1 MiB files, nothing migrated) is built once
and copied for every seed. Each seed kills the daemon once during ``cof migrate
--wait`` (migration and the compaction that follows it) and once during ``cof gc
--prune=now``; then ``cof fsck --full`` must be clean, migration must finish, and
every commit must read back byte-identical (checked in-process, daemon stopped),
with the pack files on disk exactly those the index lists.
"""

from __future__ import annotations

import hashlib
import random
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cofd.objects.model import CommitId, Kind, TreeId
from cofd.ops.repository import Repository
from tests.integration.conftest import CofSandbox, make_sandbox
from tests.integration.crashkit import kill_daemon_during
from tests.integration.treekit import head_id

AUTHOR = {"COF_AUTHOR_NAME": "Tess Ter", "COF_AUTHOR_EMAIL": "tess@example.com"}
FILES = 4
FILE_SIZE = 1024 * 1024
COMMITS = 12
DEFAULT_SEEDS = (1, 2, 3)
SOAK_SEEDS = tuple(range(4, 16))


@dataclass
class Template:
    work: Path
    expected: dict[str, dict[str, str]]  # commit hex -> path -> sha256


def _set_thresholds(work: Path, warm: int, cold: int) -> None:
    config = work / ".cof" / "config.toml"
    # cof init writes these keys commented out (defaults); set and uncomment them.
    text = config.read_text()
    text = re.sub(r"(?m)^(# )?warm_threshold = \d+$", f"warm_threshold = {warm}", text)
    config.write_text(re.sub(r"(?m)^(# )?cold_threshold = \d+$", f"cold_threshold = {cold}", text))


def _file_versions(rng: random.Random) -> Iterator[bytes]:
    words = [rng.randbytes(24) for _ in range(400)]
    data = bytearray(b"".join(rng.choice(words) for _ in range(FILE_SIZE // 24)))
    while True:
        yield bytes(data)
        for _ in range(6):
            at = rng.randrange(len(data) - 5000)
            data[at : at + 5000] = rng.randbytes(5000)


@pytest.fixture(scope="module")
def template() -> Iterator[Template]:
    box = make_sandbox()
    box.env.update(AUTHOR)
    try:
        box.cof("init")
        _set_thresholds(box.work, 100000, 100000)  # nothing migrates while building
        rng = random.Random(99)
        gens = [_file_versions(rng) for _ in range(FILES)]
        expected: dict[str, dict[str, str]] = {}
        for n in range(COMMITS):
            files = {}
            for i, gen in enumerate(gens):
                if n == 0 or (n + i) % 2 == 0:
                    data = next(gen)
                    (box.work / f"f{i}.bin").write_bytes(data)
                files[f"f{i}.bin"] = hashlib.sha256((box.work / f"f{i}.bin").read_bytes())
            box.cof("add", "-A")
            box.cof("commit", "-q", "-m", f"c{n}")
            commit = head_id(box.cof)
            expected[commit] = {k: v.hexdigest() for k, v in files.items()}
        box.stop_daemon()
        yield Template(box.work, expected)
    finally:
        box.stop_daemon()
        shutil.rmtree(box.base, ignore_errors=True)


def _kill_during(box: CofSandbox, args: list[str], delay: float) -> None:
    """Run ``cof ARGS`` in the background and SIGKILL the daemon after ``delay``."""
    box.cof("daemon", "start")
    pid = box.daemon_pid()
    assert pid is not None
    proc = subprocess.Popen(
        [sys.executable, "-m", "cofctl", *args],
        cwd=box.work,
        env=box.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    _, err = kill_daemon_during(proc, pid, delay, timeout=60)
    assert err is not None and "Traceback" not in err, err


def _verify_offline(work: Path, expected: dict[str, dict[str, str]]) -> None:
    repo = Repository.open(work)
    try:
        listed = {info.pack for info in repo.blocks.index.packs()}
        on_disk = {int(p.stem) for p in (work / ".cof" / "objects").glob("*/*.pack")}
        assert on_disk == listed
        for commit_hex, files in expected.items():
            commit = repo.objects.read_commit(CommitId(bytes.fromhex(commit_hex)))
            tree = repo.objects.read_tree(TreeId(commit.tree))
            got = {}
            for entry in tree.entries:
                assert entry.kind == Kind.FILE
                digest = hashlib.sha256()
                for chunk in repo.objects.iter_content(entry.id, entry.size):
                    digest.update(chunk)
                got[entry.name] = digest.hexdigest()
            assert got == files, commit_hex
        tiers = {
            r[0] for r in repo.blocks.index.conn.execute("SELECT DISTINCT tier FROM block_map")
        }
        assert tiers == {0, 1, 2}
    finally:
        repo.close()


def _run_seed(template: Template, box: CofSandbox, seed: int) -> None:
    rng = random.Random(seed)
    box.env.update(AUTHOR)
    shutil.copytree(template.work, box.work, dirs_exist_ok=True)
    _set_thresholds(box.work, 2, 6)
    _kill_during(box, ["migrate", "--wait"], rng.uniform(0.05, 2.0))
    # Garbage for gc: a version staged and replaced before the next commit.
    (box.work / "junk.bin").write_bytes(rng.randbytes(300_000))
    box.cof("add", "junk.bin")
    box.cof("rm", "--cached", "junk.bin")
    _kill_during(box, ["gc", "--prune=now"], rng.uniform(0.05, 1.5))
    first = box.cof("fsck", "--full", check=False)
    assert first.returncode == 0, first.stdout + first.stderr
    box.cof("migrate", "--wait")
    box.cof("gc", "--prune=now")
    second = box.cof("fsck", "--full", check=False)
    assert second.returncode == 0, second.stdout + second.stderr
    box.stop_daemon()
    _verify_offline(box.work, template.expected)


@pytest.mark.parametrize("seed", DEFAULT_SEEDS)
def test_sigkill_during_maintenance(template: Template, sandbox: CofSandbox, seed: int) -> None:
    _run_seed(template, sandbox, seed)


@pytest.mark.soak
@pytest.mark.parametrize("seed", SOAK_SEEDS)
def test_sigkill_during_maintenance_many_seeds(
    template: Template, sandbox: CofSandbox, seed: int
) -> None:
    _run_seed(template, sandbox, seed)
