"""Round trip through the real CLI and daemon: random trees survive add, commit, restore.

Hypothesis builds a directory tree (nested directories; names that are plain, with
spaces, or UTF-8; empty, 1-byte, block-sized, block-plus-one, multi-block and one
large sparse file; relative symlinks into the tree or dangling; some files
executable). The tree is added and committed, then everything but ``.cof`` is deleted
and ``cof restore --source HEAD .`` brings it back, which must reproduce the same
paths, bytes, exec bits and symlink targets and leave ``cof status`` clean.

One sandbox (one daemon) serves every example; each example gets a fresh repository
under ``sandbox.base``.
"""

from __future__ import annotations

import itertools
import os
import random
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hypothesis_profiles import budget
from tests.integration.conftest import CofSandbox, make_sandbox

BLOCK = 4096
SPARSE_SIZE = 64 * 1024 * 1024
MAX_MULTI_BLOCK = 300 * 1024

# Names: plain, with spaces, UTF-8. Never ".", "..", ".cof*" (the repository and its
# ignore files) and never a leading "." + "cof" temp-file look-alike.
_PLAIN = st.text("abcdefghijklmnopqrstuvwxyz0123456789_-.", min_size=1, max_size=10)
_SPACED = st.builds(lambda a, b: f"{a} {b}", _PLAIN, _PLAIN)
_UTF8 = st.text("éßøπжλ日本語ü", min_size=1, max_size=4).map(lambda s: s + ".bin")
NAMES = st.one_of(_PLAIN, _PLAIN, _SPACED, _UTF8).filter(
    lambda n: n not in (".", "..") and not n.startswith(".cof")
)


@dataclass(frozen=True)
class FileSpec:
    """A regular file: content made from ``seed`` (hypothesis' buffer is too small for
    300 KiB of drawn bytes) or, for the sparse file, a few blocks in a 64 MiB hole."""

    size: int
    seed: int
    executable: bool
    sparse_blocks: tuple[int, ...] | None = None

    def content(self) -> bytes:
        rng = random.Random(self.seed)
        if self.sparse_blocks is None:
            return rng.randbytes(self.size)
        data = bytearray(self.size)
        for block in self.sparse_blocks:
            data[block * BLOCK : (block + 1) * BLOCK] = rng.randbytes(BLOCK)
        return bytes(data)

    def write(self, path: Path) -> None:
        if self.sparse_blocks is None:
            path.write_bytes(self.content())
        else:
            rng = random.Random(self.seed)
            with path.open("wb") as fh:
                fh.truncate(self.size)  # a hole: the untouched blocks use no disk
                for block in self.sparse_blocks:
                    fh.seek(block * BLOCK)
                    fh.write(rng.randbytes(BLOCK))
        path.chmod(0o755 if self.executable else 0o644)


@dataclass(frozen=True)
class LinkSpec:
    target: str


SIZES = st.one_of(
    st.just(0),
    st.just(1),
    st.just(BLOCK),
    st.just(BLOCK + 1),
    st.integers(2, 3 * BLOCK),
    st.integers(BLOCK + 2, MAX_MULTI_BLOCK),
)
SEEDS = st.integers(0, 2**32 - 1)
FILES = st.builds(FileSpec, size=SIZES, seed=SEEDS, executable=st.booleans())
SPARSE = st.builds(
    FileSpec,
    size=st.just(SPARSE_SIZE),
    seed=SEEDS,
    executable=st.booleans(),
    sparse_blocks=st.lists(
        st.integers(0, SPARSE_SIZE // BLOCK - 1), min_size=1, max_size=4, unique=True
    ).map(lambda blocks: tuple(sorted(blocks))),
)


@st.composite
def trees(draw: st.DrawFn) -> dict[str, FileSpec | LinkSpec]:
    """Repository path -> what is there. Directories are implied by the paths."""
    dirs = [""]
    for _ in range(draw(st.integers(0, 4))):
        parent = draw(st.sampled_from(dirs))
        name = draw(NAMES)
        dirs.append(f"{parent}/{name}" if parent else name)
    dirs = list(dict.fromkeys(dirs))
    files: dict[str, FileSpec | LinkSpec] = {}
    for _ in range(draw(st.integers(1, 8))):
        parent = draw(st.sampled_from(dirs))
        path = f"{parent}/{draw(NAMES)}" if parent else draw(NAMES)
        if path not in dirs and not any(d.startswith(path + "/") for d in dirs):
            files[path] = draw(FILES)
    if draw(st.integers(0, 3)) == 0:
        parent = draw(st.sampled_from(dirs))
        path = f"{parent}/{draw(NAMES)}" if parent else draw(NAMES)
        if (
            path not in files
            and path not in dirs
            and not any(d.startswith(path + "/") for d in dirs)
        ):
            files[path] = draw(SPARSE)
    regular = sorted(files)
    # Directories with no file under them are not tracked; give each one a file so
    # the set of directories round-trips too.
    for directory in dirs[1:]:
        if not any(p.startswith(directory + "/") for p in files):
            files[f"{directory}/keep"] = draw(FILES)
    for _ in range(draw(st.integers(0, 3))):
        parent = draw(st.sampled_from(dirs))
        path = f"{parent}/{draw(NAMES)}" if parent else draw(NAMES)
        if path in files or path in dirs or any(d.startswith(path + "/") for d in dirs):
            continue
        kind = draw(st.sampled_from(["file", "dir", "dangling"]))
        if kind == "file" and regular:
            goal = draw(st.sampled_from(regular))
        elif kind == "dir" and len(dirs) > 1:
            goal = draw(st.sampled_from(dirs[1:]))
        else:
            goal = f"{parent}/missing-{draw(_PLAIN)}" if parent else f"missing-{draw(_PLAIN)}"
        files[path] = LinkSpec(os.path.relpath(goal, parent or "."))
    return files


def materialize(root: Path, tree: dict[str, FileSpec | LinkSpec]) -> None:
    for path, spec in tree.items():
        full = root / path
        full.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(spec, LinkSpec):
            os.symlink(spec.target, full)
        else:
            spec.write(full)


def on_disk(root: Path) -> tuple[dict[str, tuple[str, object]], set[str]]:
    """(path -> ("link", target) | ("file", (bytes, executable)), directories),
    skipping ``.cof``."""
    entries: dict[str, tuple[str, object]] = {}
    dirs: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        if rel_dir == ".":
            dirnames[:] = [d for d in dirnames if d != ".cof"]
        for name in dirnames + filenames:
            full = Path(dirpath, name)
            rel = full.relative_to(root).as_posix()
            st_ = os.lstat(full)
            if stat.S_ISLNK(st_.st_mode):
                entries[rel] = ("link", os.readlink(full))
            elif stat.S_ISDIR(st_.st_mode):
                dirs.add(rel)
            else:
                executable = bool(st_.st_mode & stat.S_IXUSR)
                entries[rel] = ("file", (full.read_bytes(), executable))
    # os.walk lists symlinks to directories in dirnames but does not descend into them.
    return entries, dirs


def expected(
    tree: dict[str, FileSpec | LinkSpec],
) -> tuple[dict[str, tuple[str, object]], set[str]]:
    entries: dict[str, tuple[str, object]] = {}
    dirs: set[str] = set()
    for path, spec in tree.items():
        parts = path.split("/")
        dirs.update("/".join(parts[:i]) for i in range(1, len(parts)))
        if isinstance(spec, LinkSpec):
            entries[path] = ("link", spec.target)
        else:
            entries[path] = ("file", (spec.content(), spec.executable))
    return entries, dirs


def clear_worktree(root: Path) -> None:
    for child in root.iterdir():
        if child.name == ".cof":
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def describe_difference(
    want: dict[str, tuple[str, object]], got: dict[str, tuple[str, object]]
) -> str:
    lines = [f"missing: {sorted(set(want) - set(got))}", f"extra: {sorted(set(got) - set(want))}"]
    for path in sorted(set(want) & set(got)):
        if want[path] != got[path]:
            kind_w, val_w = want[path]
            kind_g, val_g = got[path]
            if kind_w == kind_g == "file":
                (data_w, x_w), (data_g, x_g) = val_w, val_g  # type: ignore[misc]
                lines.append(
                    f"{path!r}: size {len(data_w)} -> {len(data_g)}, "
                    f"same bytes {data_w == data_g}, exec {x_w} -> {x_g}"
                )
            else:
                lines.append(f"{path!r}: {want[path]!r} -> {got[path]!r}")
    return "\n".join(lines)


def test_tree_round_trips_through_commit_and_restore() -> None:
    sandbox = make_sandbox()
    sandbox.env["COF_AUTHOR_NAME"] = "Round Trip"
    sandbox.env["COF_AUTHOR_EMAIL"] = "rt@example.com"
    counter = itertools.count()

    @settings(
        max_examples=budget(ci=8, long=200),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(tree=trees())
    def check(tree: dict[str, FileSpec | LinkSpec]) -> None:
        round_trip(sandbox, next(counter), tree)

    try:
        check()
    finally:
        sandbox.stop_daemon()
        shutil.rmtree(sandbox.base, ignore_errors=True)


def round_trip(sandbox: CofSandbox, n: int, tree: dict[str, FileSpec | LinkSpec]) -> None:
    repo = sandbox.base / f"repo{n}"
    repo.mkdir()
    try:
        sandbox.cof("init", repo)
        materialize(repo, tree)
        want = expected(tree)
        assert on_disk(repo) == want, "the test wrote the tree wrongly"
        sandbox.cof("add", "-A", cwd=repo)
        sandbox.cof("commit", "-q", "-m", f"example {n}", cwd=repo)
        assert sandbox.cof("status", "--porcelain", cwd=repo).stdout == ""

        clear_worktree(repo)
        assert on_disk(repo) == ({}, set())
        sandbox.cof("restore", "--source", "HEAD", ".", cwd=repo)

        got = on_disk(repo)
        assert got[0] == want[0], describe_difference(want[0], got[0])
        assert got[1] == want[1], f"directories: want {sorted(want[1])}, got {sorted(got[1])}"
        assert sandbox.cof("status", "--porcelain", cwd=repo).stdout == ""
    finally:
        shutil.rmtree(repo, ignore_errors=True)
