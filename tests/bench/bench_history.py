"""History benchmarks (issue 3): branch switches and merges, cof against git.

    uv run python -m tests.bench.bench_history             # the full set (minutes)
    uv run python -m tests.bench.bench_history --quick     # small sizes, a smoke run
    uv run python -m tests.bench.bench_history --only 2    # one (or --only 1,3) of them

1. switch between two branches whose trees differ by 1 GiB (8 x 128 MiB random files
   with different contents on each branch) plus 5,000 shared small files:
   ``cof checkout`` vs ``git checkout``, median of the switches both ways; goal >= 3x
2. switch between two branches that differ in one file of a 10,000-file tree:
   ``cof checkout`` wall time with CLI start-up, median of >= 10; goal <= 200 ms
3. merge of two branches with 500 changed 64 KiB binary files each (disjoint sets,
   no conflicts): ``cof merge`` vs ``git merge --no-edit``; goal >= 2x

Every figure is the wall-clock time of the real CLI run as a subprocess, against an
already running daemon; git runs with its default configuration. The cof and the git
repositories of one benchmark are built one after the other from the same seeded
contents, and each is deleted before the next is built (disk use stays < 10 GiB).
Progress goes to stderr; the results table (Markdown) goes to stdout.
"""

from __future__ import annotations

import hashlib
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from tests.bench.harness import (
    CofRunner,
    GitRunner,
    KiB,
    MiB,
    Result,
    Timing,
    fmt_bytes,
    fmt_seconds,
    log,
    repeat,
    run_suite,
    speedup,
    timed,
    tree_bytes,
)

SEED = 20240301


@dataclass(frozen=True)
class Sizes:
    big_files: int  # benchmark 1: files that differ between the two branches
    big_size: int
    shared_small: int  # benchmark 1: small files both branches share
    switches: int  # benchmark 1: timed switches each way
    tree_files: int  # benchmark 2: files in the tree
    small_switches: int  # benchmark 2: timed switches each way
    merge_base_files: int  # benchmark 3: files in the base tree
    merge_changed: int  # benchmark 3: files changed on each side
    merge_size: int
    merges: int  # benchmark 3: timed merges


FULL = Sizes(8, 128 * MiB, 5000, 3, 10_000, 6, 1500, 500, 64 * KiB, 3)
QUICK = Sizes(8, 4 * MiB, 500, 3, 1000, 5, 300, 100, 64 * KiB, 3)


# -- contents ------------------------------------------------------------------------


def seeded_bytes(tag: str, size: int) -> bytes:
    """Incompressible bytes that depend only on ``tag`` (the same for cof and git)."""
    return random.Random(f"{SEED}:{tag}").randbytes(size)


def write_seeded(path: Path, tag: str, size: int, chunk: int = 16 * MiB) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(f"{SEED}:{tag}")
    with open(path, "wb") as fh:
        left = size
        while left > 0:
            n = min(chunk, left)
            fh.write(rng.randbytes(n))
            left -= n


def write_small_tree(root: Path, count: int, per_dir: int = 100) -> list[str]:
    """``count`` small files (64-2,048 bytes) in directories of ``per_dir``."""
    rng = random.Random(f"{SEED}:small")
    names = []
    for i in range(count):
        name = f"src/d{i // per_dir:03d}/f{i:05d}.dat"
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(rng.randint(64, 2048)))
        names.append(name)
    return names


def file_digest(path: Path) -> str:
    h = hashlib.blake2b()
    with open(path, "rb") as fh:
        while chunk := fh.read(8 * MiB):
            h.update(chunk)
    return h.hexdigest()


class Tool:
    """The commands one benchmark needs, for cof or for git, in one work tree."""

    def __init__(self, name: str, work: Path, run: CofRunner | GitRunner) -> None:
        self.name = name
        self.work = work
        self.run = run

    def __call__(self, *args: str) -> None:
        self.run(*args, cwd=self.work)

    def init(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        self(*(["init", "-q"] if self.name == "git" else ["init"]))

    def commit_all(self, message: str) -> None:
        self("add", "-A")
        self("commit", "-q", "-m", message)

    def checkout(self, *args: str) -> None:
        self(*(["checkout", "-q"] if self.name == "git" else ["checkout"]), *args)

    def merge(self, rev: str) -> None:
        if self.name == "git":
            self("merge", "-q", "--no-edit", rev)
        else:
            self("merge", rev)

    def store(self) -> Path:
        return self.work / (".git" if self.name == "git" else ".cof")


def both(base: Path, cof: CofRunner, git: GitRunner) -> list[Callable[[], Tool]]:
    """Factories for the cof tool and then the git tool (each in its own work tree)."""
    return [
        lambda: Tool("cof", base / "cof-work", cof),
        lambda: Tool("git", base / "git-work", git),
    ]


# -- 1: switch with 1 GiB of difference -------------------------------------------------


def bench_big_switch(base: Path, cof: CofRunner, git: GitRunner, sizes: Sizes) -> Result:
    big = [f"assets/big{i}.bin" for i in range(sizes.big_files)]
    differ = sizes.big_files * sizes.big_size
    expect = {
        side: hashlib.blake2b(seeded_bytes(f"{side}:{big[-1]}", sizes.big_size)).hexdigest()
        for side in ("left", "right")
    }
    timings: dict[str, Timing] = {}
    details: list[str] = []
    for make in both(base, cof, git):
        tool = make()
        log(f"1: building the {tool.name} repository ({fmt_bytes(2 * differ)} of binaries)")
        tool.init()
        write_small_tree(tool.work, sizes.shared_small)
        tool.commit_all("shared small files")
        tool.checkout("-b", "left")
        for name in big:
            write_seeded(tool.work / name, f"left:{name}", sizes.big_size)
        tool.commit_all("left binaries")
        tool.checkout("-b", "right", "main")
        for name in big:
            write_seeded(tool.work / name, f"right:{name}", sizes.big_size)
        tool.commit_all("right binaries")
        timing = Timing()
        for _ in range(sizes.switches):
            for side in ("left", "right"):
                timing.samples.append(timed(partial(tool.checkout, side)))
                if file_digest(tool.work / big[-1]) != expect[side]:
                    raise AssertionError(f"{tool.name}: {big[-1]} wrong after switch to {side}")
        store = tree_bytes(tool.store())
        details.append(
            f"{tool.name}: {timing.describe()}; store {fmt_bytes(store)} after both branches"
        )
        timings[tool.name] = timing
        shutil.rmtree(tool.work)
    ratio = speedup(timings["git"].median, timings["cof"].median)
    details.insert(
        0,
        f"{sizes.big_files} x {fmt_bytes(sizes.big_size)} files differ between the branches "
        f"({fmt_bytes(differ)} written per switch), {sizes.shared_small} small files shared; "
        f"{sizes.switches} switches each way",
    )
    return Result(
        1,
        f"checkout between trees differing by {fmt_bytes(differ)}",
        fmt_seconds(timings["cof"].median),
        fmt_seconds(timings["git"].median),
        f"{ratio:.2f}x",
        ">= 3x faster",
        ratio >= 3.0,
        details,
    )


# -- 2: switch with one file of difference ----------------------------------------------


def bench_small_switch(base: Path, cof: CofRunner, git: GitRunner, sizes: Sizes) -> Result:
    timings: dict[str, Timing] = {}
    details = [
        f"{sizes.tree_files} files of 64-2,048 bytes; the branches differ in one of them; "
        f"{sizes.small_switches} switches each way, each a fresh CLI process"
    ]
    for make in both(base, cof, git):
        tool = make()
        log(f"2: building the {tool.name} repository ({sizes.tree_files} files)")
        tool.init()
        names = write_small_tree(tool.work, sizes.tree_files)
        tool.commit_all("tree")
        tool.checkout("-b", "other")
        changed = tool.work / names[len(names) // 2]
        changed.write_bytes(b"changed on the other branch\n")
        tool.commit_all("one file changed")
        tool.checkout("main")
        tool("status")  # warm the stat cache (cof) / index (git) as a user's tree is
        timing = Timing()
        for _ in range(sizes.small_switches):
            for side in ("other", "main"):
                timing.samples.append(timed(partial(tool.checkout, side)))
        if changed.read_bytes() == b"changed on the other branch\n":
            raise AssertionError(f"{tool.name}: {changed} not switched back")
        details.append(f"{tool.name}: {timing.describe()}")
        if tool.name == "cof":
            # The floor under any command: CLI start-up, one RPC, opening the repository.
            floor = repeat(partial(tool, "branch"), sizes.small_switches)
            details.append(f"cof: `cof branch` (start-up floor) {floor.describe()}")
        timings[tool.name] = timing
        shutil.rmtree(tool.work)
    cof_median = timings["cof"].median
    return Result(
        2,
        f"checkout, 1 file of {sizes.tree_files} differs",
        fmt_seconds(cof_median),
        fmt_seconds(timings["git"].median),
        f"{speedup(timings['git'].median, cof_median):.2f}x",
        "cof <= 200 ms",
        cof_median <= 0.200,
        details,
    )


# -- 3: merge of 2 x 500 changed binaries -------------------------------------------------


def bench_merge(base: Path, cof: CofRunner, git: GitRunner, sizes: Sizes) -> Result:
    n, size = sizes.merge_changed, sizes.merge_size
    names = [f"bin/{i // 100:02d}/asset{i:04d}.bin" for i in range(sizes.merge_base_files)]
    ours, theirs = names[:n], names[n : 2 * n]
    timings: dict[str, Timing] = {}
    details = [
        f"base: {len(names)} x {fmt_bytes(size)} random files; each side rewrites "
        f"{n} different ones; merge into a fresh branch at 'ours', {sizes.merges} times"
    ]
    for make in both(base, cof, git):
        tool = make()
        log(f"3: building the {tool.name} repository")
        tool.init()
        for name in names:
            (tool.work / name).parent.mkdir(parents=True, exist_ok=True)
            (tool.work / name).write_bytes(seeded_bytes(f"base:{name}", size))
        tool.commit_all("base")
        tool.checkout("-b", "theirs")
        for name in theirs:
            (tool.work / name).write_bytes(seeded_bytes(f"theirs:{name}", size))
        tool.commit_all("theirs")
        tool.checkout("-b", "ours", "main")
        for name in ours:
            (tool.work / name).write_bytes(seeded_bytes(f"ours:{name}", size))
        tool.commit_all("ours")
        timing = Timing()
        for attempt in range(sizes.merges):
            tool.checkout("-b", f"try{attempt}", "ours")
            timing.samples.append(timed(partial(tool.merge, "theirs")))
            for name, tag in ((ours[0], "ours"), (theirs[-1], "theirs"), (names[-1], "base")):
                if (tool.work / name).read_bytes() != seeded_bytes(f"{tag}:{name}", size):
                    raise AssertionError(f"{tool.name}: {name} wrong after merge")
        details.append(f"{tool.name}: {timing.describe()}")
        timings[tool.name] = timing
        shutil.rmtree(tool.work)
    ratio = speedup(timings["git"].median, timings["cof"].median)
    return Result(
        3,
        f"merge, {n} changed binaries on each side",
        fmt_seconds(timings["cof"].median),
        fmt_seconds(timings["git"].median),
        f"{ratio:.2f}x",
        ">= 2x faster",
        ratio >= 2.0,
        details,
    )


BENCHES: dict[int, Callable[[Path, CofRunner, GitRunner, Sizes], Result]] = {
    1: bench_big_switch,
    2: bench_small_switch,
    3: bench_merge,
}


def main(argv: list[str] | None = None) -> int:
    return run_suite(
        argv,
        module="tests.bench.bench_history",
        benches=BENCHES,
        full=FULL,
        quick=QUICK,
        quick_help="small sizes, a smoke run",
        scratch_prefix="cofbh",
    )


if __name__ == "__main__":
    raise SystemExit(main())
