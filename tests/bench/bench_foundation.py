"""Foundation benchmarks (issue 2): cof against git on the basic operations.

    uv run python -m tests.bench.bench_foundation            # the full set (minutes)
    uv run python -m tests.bench.bench_foundation --quick    # small sizes, a smoke run
    uv run python -m tests.bench.bench_foundation --only 4   # one (or --only 1,6) of them

1. add + commit of 4 x 128 MiB incompressible files (also against ``cp`` and ``cp``+fsync)
2. one 4 KiB block changed in each of the 4 files, add + commit; store growth
3. the same data committed again under other names; store growth
4. ``cof status`` of a clean tree of 10,000 small files (CLI start-up included)
5. peak RSS of cofd while adding one 2 GiB file
6. ``cof restore --source HEAD .`` of 512 MiB into an empty work tree vs ``git checkout``

Every figure is wall-clock time of the real CLI run as a subprocess (as a user runs
it), against an already running daemon; git runs with its default configuration.
Progress goes to stderr; the results table (Markdown) goes to stdout.
"""

from __future__ import annotations

import filecmp
import os
import random
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.bench.harness import (
    CofRunner,
    GiB,
    GitRunner,
    KiB,
    MiB,
    Result,
    RssSampler,
    Timing,
    fmt_bytes,
    fmt_seconds,
    log,
    proc_memory,
    repeat,
    run_suite,
    run_with_rusage,
    speedup,
    sqlite_live_bytes,
    sync_files,
    timed,
    tree_bytes,
    write_random_file,
)

BLOCK = 4 * KiB
SEED = 20240101


@dataclass(frozen=True)
class Sizes:
    big_file: int  # size of each of the files in 1, 2, 3, 6
    big_count: int
    reps: int  # repetitions of the timed cof/git operation in 1, 2, 3, 6
    small_dirs: int  # benchmark 4: dirs x files of 1-4 KiB
    small_per_dir: int
    status_runs: int
    huge_file: int  # benchmark 5


FULL = Sizes(
    big_file=128 * MiB,
    big_count=4,
    reps=3,
    small_dirs=100,
    small_per_dir=100,
    status_runs=15,
    huge_file=2 * GiB,
)
QUICK = Sizes(
    big_file=16 * MiB,
    big_count=4,
    reps=2,
    small_dirs=20,
    small_per_dir=50,
    status_runs=10,
    huge_file=256 * MiB,
)


def file_names(sizes: Sizes, prefix: str = "data") -> list[str]:
    return [f"{prefix}{i}.bin" for i in range(sizes.big_count)]


class Pair:
    """A cof work tree and a git work tree holding the same files, in one scratch dir."""

    def __init__(self, base: Path, cof: CofRunner, git: GitRunner) -> None:
        self.cof = cof
        self.git = git
        self.cof_work = base / "cof"
        self.git_work = base / "git"
        self.cof_work.mkdir()
        self.git_work.mkdir()

    def init(self) -> None:
        self.cof("init", ".", cwd=self.cof_work)
        self.git("init", "-q", ".", cwd=self.git_work)

    def write_big_files(self, sizes: Sizes) -> list[str]:
        """The incompressible files in the cof tree, copied into the git tree."""
        names = file_names(sizes)
        for name in names:
            write_random_file(self.cof_work / name, sizes.big_file)
            shutil.copyfile(self.cof_work / name, self.git_work / name)
        return names

    def cof_commit(self, paths: list[str], message: str) -> None:
        self.cof("add", *paths, cwd=self.cof_work)
        self.cof("commit", "-q", "-m", message, cwd=self.cof_work)

    def git_commit(self, paths: list[str], message: str) -> None:
        self.git("add", *paths, cwd=self.git_work)
        self.git("commit", "-q", "-m", message, cwd=self.git_work)

    def store_sizes(self) -> tuple[int, int]:
        """(``.cof/objects`` bytes, ``.cof/index`` bytes: SQLite db + WAL files)."""
        cof_dir = self.cof_work / ".cof"
        return tree_bytes(cof_dir / "objects"), tree_bytes(cof_dir / "index")

    def index_live(self) -> int:
        """Bytes of the block index's pages in use (no WAL slack, no free pages)."""
        return sqlite_live_bytes(self.cof_work / ".cof" / "index" / "blocks.sqlite")

    def git_store(self) -> int:
        return tree_bytes(self.git_work / ".git" / "objects")


def committed_pair(
    base: Path, cof: CofRunner, git: GitRunner, sizes: Sizes
) -> tuple[Pair, list[str]]:
    """Both trees with the big files written and committed (untimed)."""
    pair = Pair(base, cof, git)
    pair.init()
    names = pair.write_big_files(sizes)
    log("committing the base data (untimed)")
    pair.cof_commit(names, "base")
    pair.git_commit(names, "base")
    return pair, names


# -- 1 -------------------------------------------------------------------------------


def bench_add_commit(base: Path, cof: CofRunner, git: GitRunner, sizes: Sizes) -> Result:
    total = sizes.big_file * sizes.big_count
    pair = Pair(base, cof, git)
    names = pair.write_big_files(sizes)
    copy_dst = base / "cp"

    def fresh_cof() -> None:
        # A new daemon each time: the old one still holds the removed repository open.
        cof.stop_daemon()
        shutil.rmtree(pair.cof_work / ".cof", ignore_errors=True)
        cof.start_daemon()
        cof("init", ".", cwd=pair.cof_work)

    def fresh_git() -> None:
        shutil.rmtree(pair.git_work / ".git", ignore_errors=True)
        git("init", "-q", ".", cwd=pair.git_work)

    def fresh_dst() -> None:
        shutil.rmtree(copy_dst, ignore_errors=True)
        copy_dst.mkdir()

    def cp() -> None:
        subprocess.run(["cp", *names, os.fspath(copy_dst)], cwd=pair.cof_work, check=True)

    def cp_sync() -> None:
        cp()
        sync_files([copy_dst / name for name in names])

    log(f"1: cof add + commit of {sizes.big_count} x {fmt_bytes(sizes.big_file)}")
    cof_t = repeat(lambda: pair.cof_commit(names, "one"), sizes.reps, setup=fresh_cof)
    log("1: git add + commit")
    git_t = repeat(lambda: pair.git_commit(names, "one"), sizes.reps, setup=fresh_git)
    log("1: cp, cp + fsync")
    cp_t = repeat(cp, sizes.reps, setup=fresh_dst)
    cp_sync_t = repeat(cp_sync, sizes.reps, setup=fresh_dst)
    shutil.rmtree(copy_dst, ignore_errors=True)

    ratio = speedup(git_t.median, cof_t.median)
    objects, index = pair.store_sizes()
    if objects < total:
        raise AssertionError(
            f"`.cof/objects` holds {fmt_bytes(objects)} after storing {fmt_bytes(total)} of "
            "incompressible data: the store lost data"
        )
    return Result(
        1,
        f"add + commit {sizes.big_count} x {fmt_bytes(sizes.big_file)} random",
        fmt_seconds(cof_t.median),
        fmt_seconds(git_t.median),
        f"{ratio:.1f}x",
        ">= 5x faster",
        ratio >= 5,
        [
            f"cof {cof_t.describe()} ({total / cof_t.median / MiB:.0f} MiB/s); "
            f"git {git_t.describe()}",
            f"plain cp of the same files: {cp_t.describe()} -> cof takes "
            f"{cof_t.median / cp_t.median:.1f}x the time of cp",
            f"cp + fsync of the copies: {cp_sync_t.describe()} -> cof takes "
            f"{cof_t.median / cp_sync_t.median:.1f}x the time of cp + fsync",
            "cof fsyncs its packs, index and refs; git ran with its defaults (core.fsync "
            "unset: loose objects, which `git add` writes here, are not fsynced)",
            f"store after: cof objects {fmt_bytes(objects)} + index {fmt_bytes(index)}; "
            f"git objects {fmt_bytes(pair.git_store())}",
        ],
    )


# -- 2 -------------------------------------------------------------------------------


def bench_small_change(base: Path, cof: CofRunner, git: GitRunner, sizes: Sizes) -> Result:
    pair, names = committed_pair(base, cof, git, sizes)
    rng = random.Random(SEED)
    blocks = sizes.big_file // BLOCK
    cof_t, git_t = Timing(), Timing()
    objects_growth: list[int] = []
    index_growth: list[int] = []
    live_growth: list[int] = []
    git_growth: list[int] = []
    for rep in range(sizes.reps):
        for name in names:
            offset = rng.randrange(blocks) * BLOCK
            data = os.urandom(BLOCK)
            for work in (pair.cof_work, pair.git_work):
                with open(work / name, "r+b") as fh:
                    fh.seek(offset)
                    fh.write(data)
        log(f"2: rep {rep + 1}: one 4 KiB block changed in each file; add + commit")
        objects0, index0 = pair.store_sizes()
        live0 = pair.index_live()
        cof_t.samples.append(timed(lambda: pair.cof_commit(names, f"change {rep}")))  # noqa: B023
        objects1, index1 = pair.store_sizes()
        objects_growth.append(objects1 - objects0)
        index_growth.append(index1 - index0)
        live_growth.append(pair.index_live() - live0)
        git0 = pair.git_store()
        git_t.samples.append(timed(lambda: pair.git_commit(names, f"change {rep}")))  # noqa: B023
        git_growth.append(pair.git_store() - git0)

    ratio = speedup(git_t.median, cof_t.median)
    worst_objects = max(objects_growth)
    worst_live = max(live_growth)
    fast = ratio >= 20
    small = worst_objects <= 64 * KiB
    return Result(
        2,
        "change 4 KiB in each of the 4 files, add + commit",
        fmt_seconds(cof_t.median),
        fmt_seconds(git_t.median),
        f"{ratio:.1f}x",
        ">= 20x faster; objects grow <= 64 KiB",
        fast and small,
        [
            f"cof {cof_t.describe()}; git {git_t.describe()}",
            "`.cof/objects` growth per commit: "
            + ", ".join(fmt_bytes(g) for g in objects_growth)
            + f" (worst {fmt_bytes(worst_objects)}: {'PASS' if small else 'MISS'} <= 64 KiB)",
            "`.cof/index` growth per commit, files (SQLite db + WAL): "
            + ", ".join(fmt_bytes(g) for g in index_growth)
            + "; pages in use: "
            + ", ".join(fmt_bytes(g) for g in live_growth)
            + f" (objects + index pages worst {fmt_bytes(worst_objects + worst_live)}: "
            f"{'PASS' if worst_objects + worst_live <= 64 * KiB else 'MISS'} <= 64 KiB)",
            "git `.git/objects` growth per commit: " + ", ".join(fmt_bytes(g) for g in git_growth),
            f"speed: {'PASS' if fast else 'MISS'} (>= 20x)",
        ],
    )


# -- 3 -------------------------------------------------------------------------------


def bench_same_data_new_names(base: Path, cof: CofRunner, git: GitRunner, sizes: Sizes) -> Result:
    pair, names = committed_pair(base, cof, git, sizes)
    cof_t, git_t = Timing(), Timing()
    growth: list[int] = []
    file_growth: list[int] = []
    git_growth: list[int] = []
    for rep in range(sizes.reps):
        copies = [f"copy{rep}_{name}" for name in names]
        for name, copy in zip(names, copies, strict=True):
            shutil.copyfile(pair.cof_work / name, pair.cof_work / copy)
            shutil.copyfile(pair.git_work / name, pair.git_work / copy)
        log(f"3: rep {rep + 1}: copies of the 4 files under new names; add + commit")
        objects0, files0 = pair.store_sizes()
        live0 = pair.index_live()
        cof_t.samples.append(timed(lambda: pair.cof_commit(copies, f"copy {rep}")))  # noqa: B023
        objects1, files1 = pair.store_sizes()
        growth.append(objects1 - objects0 + pair.index_live() - live0)
        file_growth.append(objects1 + files1 - objects0 - files0)
        git0 = pair.git_store()
        git_t.samples.append(timed(lambda: pair.git_commit(copies, f"copy {rep}")))  # noqa: B023
        git_growth.append(pair.git_store() - git0)
    worst = max(growth)
    ratio = speedup(git_t.median, cof_t.median)
    return Result(
        3,
        "same data again under new names, add + commit",
        fmt_seconds(cof_t.median),
        fmt_seconds(git_t.median),
        f"{ratio:.1f}x",
        "store grows <= 1 MiB",
        worst <= MiB,
        [
            f"cof {cof_t.describe()}; git {git_t.describe()}",
            "cof store growth per commit, `.cof/objects` + index pages in use: "
            + ", ".join(fmt_bytes(g) for g in growth)
            + f" (worst {fmt_bytes(worst)}); counting the index files (db + WAL) instead: "
            + ", ".join(fmt_bytes(g) for g in file_growth),
            "git `.git/objects` growth per commit: " + ", ".join(fmt_bytes(g) for g in git_growth),
        ],
    )


# -- 4 -------------------------------------------------------------------------------


def make_small_tree(root: Path, sizes: Sizes) -> int:
    rng = random.Random(SEED)
    count = 0
    for d in range(sizes.small_dirs):
        directory = root / f"dir{d:03d}"
        directory.mkdir(parents=True)
        for f in range(sizes.small_per_dir):
            (directory / f"file{f:03d}.dat").write_bytes(rng.randbytes(rng.randint(KiB, 4 * KiB)))
            count += 1
    return count


def bench_status(base: Path, cof: CofRunner, git: GitRunner, sizes: Sizes) -> Result:
    pair = Pair(base, cof, git)
    count = make_small_tree(pair.cof_work, sizes)
    shutil.rmtree(pair.git_work)
    shutil.copytree(pair.cof_work, pair.git_work)
    pair.init()
    log(f"4: committing {count} small files (untimed)")
    pair.cof_commit(["-A"], "small files")
    pair.git_commit(["-A"], "small files")

    def cof_status() -> None:
        out = cof("status", cwd=pair.cof_work).stdout
        assert "working tree clean" in out, out

    def git_status() -> None:
        out = git("status", cwd=pair.git_work).stdout
        assert "working tree clean" in out, out

    def cof_ping() -> None:
        cof("daemon", "status", cwd=pair.cof_work)

    for _ in range(3):  # warm up: page cache, the daemon's open repository, stat caches
        cof_status()
        git_status()
        cof_ping()
    log(f"4: {sizes.status_runs} x cof status / git status, interleaved")
    cof_t, git_t, ping_t = Timing(), Timing(), Timing()
    for _ in range(sizes.status_runs):
        cof_t.samples.append(timed(cof_status))
        git_t.samples.append(timed(git_status))
        ping_t.samples.append(timed(cof_ping))
    ratio = cof_t.median / git_t.median
    within_budget = cof_t.median <= 0.150
    within_ratio = ratio <= 4
    return Result(
        4,
        f"status, clean tree of {count} small files",
        fmt_seconds(cof_t.median),
        fmt_seconds(git_t.median),
        f"{ratio:.1f}x git's time",
        "<= 150 ms and <= 4x git",
        within_budget and within_ratio,
        [
            f"cof {cof_t.describe()}; git {git_t.describe()}",
            f"floor of any cof command (`cof daemon status`: CLI start-up + one RPC): "
            f"{ping_t.describe()}",
            f"<= 150 ms: {'PASS' if within_budget else 'MISS'}; "
            f"<= 4x git: {'PASS' if within_ratio else 'MISS'}",
        ],
    )


# -- 5 -------------------------------------------------------------------------------


def bench_peak_rss(base: Path, cof: CofRunner, git: GitRunner, sizes: Sizes) -> Result:
    pair = Pair(base, cof, git)
    log(f"5: writing one {fmt_bytes(sizes.huge_file)} file")
    write_random_file(pair.cof_work / "huge.bin", sizes.huge_file)
    pair.init()
    pid = cof.restart_daemon()
    before = proc_memory(pid)
    log(f"5: cof add (fresh daemon pid {pid})")
    with RssSampler(pid) as sampler:
        cof_seconds = timed(lambda: cof("add", "huge.bin", cwd=pair.cof_work))
    after = proc_memory(pid)
    peak = after["VmHWM"]
    # The file is moved, not copied, to keep disk use down; the page cache stays warm.
    os.rename(pair.cof_work / "huge.bin", pair.git_work / "huge.bin")
    log("5: git add")
    git_seconds, git_peak = run_with_rusage(git.command("add", "huge.bin"), cwd=pair.git_work)
    return Result(
        5,
        f"peak RSS of cofd adding one {fmt_bytes(sizes.huge_file)} file",
        fmt_bytes(peak),
        fmt_bytes(git_peak),
        f"{peak / git_peak:.1f}x git's peak",
        "<= 300 MiB",
        peak <= 300 * MiB,
        [
            f"cofd VmHWM before the add {fmt_bytes(before['VmHWM'])} (fresh daemon), "
            f"after {fmt_bytes(peak)}; highest VmRSS sampled every 20 ms "
            f"{fmt_bytes(sampler.peak)}; VmRSS after {fmt_bytes(after['VmRSS'])}",
            f"time: cof add {fmt_seconds(cof_seconds)} "
            f"({sizes.huge_file / cof_seconds / MiB:.0f} MiB/s), "
            f"git add {fmt_seconds(git_seconds)} (git's peak is `ru_maxrss` of `git add`)",
        ],
    )


# -- 6 -------------------------------------------------------------------------------


def bench_restore(base: Path, cof: CofRunner, git: GitRunner, sizes: Sizes) -> Result:
    pair, names = committed_pair(base, cof, git, sizes)
    reference = base / "reference"
    reference.mkdir()
    for name in names:
        shutil.copyfile(pair.cof_work / name, reference / name)

    def empty(work: Path) -> Callable[[], None]:
        def remove() -> None:
            for name in names:
                (work / name).unlink()

        return remove

    log("6: cof restore --source HEAD . into an emptied work tree")
    cof_t = repeat(
        lambda: cof("restore", "--source", "HEAD", ".", cwd=pair.cof_work),
        sizes.reps,
        setup=empty(pair.cof_work),
    )
    log("6: git checkout HEAD -- . into an emptied work tree")
    git_t = repeat(
        lambda: git("checkout", "HEAD", "--", ".", cwd=pair.git_work),
        sizes.reps,
        setup=empty(pair.git_work),
    )
    for name in names:
        for work in (pair.cof_work, pair.git_work):
            if not filecmp.cmp(reference / name, work / name, shallow=False):
                raise AssertionError(f"{work / name} differs after the restore")
    cp_dst = base / "cp"

    def fresh_dst() -> None:
        shutil.rmtree(cp_dst, ignore_errors=True)
        cp_dst.mkdir()

    cp_t = repeat(
        lambda: subprocess.run(["cp", *names, os.fspath(cp_dst)], cwd=reference, check=True),
        sizes.reps,
        setup=fresh_dst,
    )
    ratio = speedup(git_t.median, cof_t.median)
    total = sizes.big_file * sizes.big_count
    return Result(
        6,
        f"restore {fmt_bytes(total)} into an empty work tree",
        fmt_seconds(cof_t.median),
        fmt_seconds(git_t.median),
        f"{ratio:.1f}x",
        ">= 3x faster",
        ratio >= 3,
        [
            f"cof {cof_t.describe()} ({total / cof_t.median / MiB:.0f} MiB/s); "
            f"git {git_t.describe()}",
            f"plain cp of the same files (no fsync): {cp_t.describe()}",
            "both read from a warm page cache (nothing dropped); neither fsyncs the "
            "restored files; contents checked byte for byte afterwards",
        ],
    )


BENCHES: dict[int, Callable[[Path, CofRunner, GitRunner, Sizes], Result]] = {
    1: bench_add_commit,
    2: bench_small_change,
    3: bench_same_data_new_names,
    4: bench_status,
    5: bench_peak_rss,
    6: bench_restore,
}


def main(argv: list[str] | None = None) -> int:
    return run_suite(
        argv,
        module="tests.bench.bench_foundation",
        benches=BENCHES,
        full=FULL,
        quick=QUICK,
        quick_help="small sizes, fewer runs",
    )


if __name__ == "__main__":
    raise SystemExit(main())
