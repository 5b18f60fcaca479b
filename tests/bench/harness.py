"""Shared helpers for the benchmarks: scratch directories, timing, runners, tables.

The benchmarks drive the installed CLI (``.venv/bin/cof``, else ``python -m cofctl``)
as a user would: one subprocess per command, against a daemon that lives in a private
``COF_HOME``. git runs with neither system nor global configuration, identity passed
with ``-c``, and ``gc.auto=0`` so that no background repack lands inside a timing.

    with scratch_dir() as base:
        with CofRunner(base / "home") as cof:
            cof.start_daemon()
            cof("init", cwd=work)
            seconds = timed(lambda: cof("add", "-A", cwd=work))
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

MiB = 1024 * 1024
GiB = 1024 * MiB
KiB = 1024

ROOT = Path(__file__).resolve().parents[2]
AUTHOR_NAME = "Bench Mark"
AUTHOR_EMAIL = "bench@example.invalid"
COMMAND_TIMEOUT = 1800.0


# -- scratch space -------------------------------------------------------------------


@contextlib.contextmanager
def scratch_dir(prefix: str = "cofbench") -> Iterator[Path]:
    """A fresh directory under the system temp dir, removed (with all it holds) at exit.

    The prefix is short on purpose: the daemon's Unix socket lives in ``COF_HOME``.
    """
    base = Path(tempfile.mkdtemp(prefix=prefix)).resolve()
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def write_random_file(path: Path, size: int, chunk: int = 16 * MiB) -> None:
    """``size`` bytes of ``os.urandom`` data, written in chunks (never all in memory)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        left = size
        while left > 0:
            n = min(chunk, left)
            fh.write(os.urandom(n))
            left -= n


def tree_bytes(path: Path) -> int:
    """Apparent size (sum of ``st_size``) of every regular file under ``path``."""
    if not path.exists():
        return 0
    if path.is_file():
        return path.stat().st_size
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(FileNotFoundError):
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


def sqlite_live_bytes(db: Path) -> int:
    """Bytes of pages in use in a SQLite database, as seen by a new reader.

    ``(page_count - freelist_count) * page_size`` through a read-only connection, so
    committed pages still in the WAL count and the WAL's reusable slack does not. The
    file sizes (db + WAL) only ever grow in steps of up to the WAL's checkpoint size.
    """
    if not db.exists():
        return 0
    conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    try:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    finally:
        conn.close()
    return int((pages - free) * page_size)


def sync_files(paths: Sequence[Path]) -> None:
    """fsync each file (what ``sync FILE...`` does), then its directories."""
    dirs = set()
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        dirs.add(path.parent)
    for directory in dirs:
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# -- timing --------------------------------------------------------------------------


def timed(fn: Callable[[], object]) -> float:
    """Wall-clock seconds of one call."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


@dataclass
class Timing:
    """Several repetitions of one measurement (seconds)."""

    samples: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def describe(self) -> str:
        spread = f" (min {fmt_seconds(min(self.samples))}, max {fmt_seconds(max(self.samples))})"
        return f"{fmt_seconds(self.median)} median of {len(self.samples)}" + (
            spread if len(self.samples) > 1 else ""
        )


def repeat(
    fn: Callable[[], object],
    times: int,
    setup: Callable[[], object] | None = None,
    teardown: Callable[[], object] | None = None,
) -> Timing:
    """Time ``fn`` ``times`` times; ``setup``/``teardown`` run untimed around each."""
    timing = Timing()
    for _ in range(times):
        if setup is not None:
            setup()
        timing.samples.append(timed(fn))
        if teardown is not None:
            teardown()
    return timing


def fmt_seconds(seconds: float) -> str:
    if seconds < 1.0:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


def fmt_bytes(n: float) -> str:
    if abs(n) < 10 * KiB:
        return f"{n:.0f} B"
    if abs(n) < 10 * MiB:
        return f"{n / KiB:.1f} KiB"
    if abs(n) < 10 * GiB:
        return f"{n / MiB:.1f} MiB"
    return f"{n / GiB:.2f} GiB"


# -- processes -----------------------------------------------------------------------


class CommandFailedError(RuntimeError):
    pass


def _run(
    argv: Sequence[str], cwd: Path, env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        list(argv),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        raise CommandFailedError(
            f"{' '.join(argv)} (in {cwd}) exited {result.returncode}\n"
            f"--- stdout\n{result.stdout[-4000:]}--- stderr\n{result.stderr[-4000:]}"
        )
    return result


def run_with_rusage(
    argv: Sequence[str], cwd: Path, env: dict[str, str] | None = None
) -> tuple[float, int]:
    """Run a command to completion; return (wall seconds, its peak RSS in bytes).

    The peak is that of this child alone (``ru_maxrss``, which Linux reports in KiB).
    Output is discarded; a non-zero exit raises.
    """
    elapsed, usage = run_measured(argv, cwd, env)
    return elapsed, usage.ru_maxrss * KiB


def run_measured(
    argv: Sequence[str], cwd: Path, env: dict[str, str] | None = None
) -> tuple[float, resource.struct_rusage]:
    """Run a command to completion; return (wall seconds, its own resource usage, from
    ``wait4``: this child alone). Output is discarded; a non-zero exit raises."""
    with tempfile.TemporaryFile() as errors:  # a file, not a pipe: no deadlock on output
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
        _pid, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            errors.seek(0)
            stderr = errors.read().decode(errors="replace")
            raise CommandFailedError(f"{' '.join(argv)} exited {proc.returncode}\n{stderr[-4000:]}")
    return elapsed, usage


def cof_argv() -> list[str]:
    """How to start the installed CLI: the venv's ``cof`` script, else ``-m cofctl``."""
    script = ROOT / ".venv" / "bin" / "cof"
    if script.is_file() and os.access(script, os.X_OK):
        return [os.fspath(script)]
    return [sys.executable, "-m", "cofctl"]


class CofRunner:
    """The real CLI against a daemon in a private ``COF_HOME``.

    ``runner(*args, cwd=...)`` runs one command (raising on a non-zero exit). The
    context manager stops the daemon on exit (gracefully, then SIGKILL by pid file).
    """

    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("COF_")}
        self.env["COF_HOME"] = os.fspath(home)
        self.env["COF_AUTHOR_NAME"] = AUTHOR_NAME
        self.env["COF_AUTHOR_EMAIL"] = AUTHOR_EMAIL
        # The code under test is the tree this file is in (also for the daemon the CLI
        # spawns), even when it is an exported snapshot rather than the editable install.
        self.env["PYTHONPATH"] = os.pathsep.join(
            p for p in (os.fspath(ROOT), os.environ.get("PYTHONPATH", "")) if p
        )
        self.argv = cof_argv()

    def __enter__(self) -> CofRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_daemon()

    def __call__(
        self, *args: str | os.PathLike[str], cwd: Path, timeout: float = COMMAND_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        return _run([*self.argv, *map(os.fspath, args)], cwd, self.env, timeout)

    def command(self, *args: str | os.PathLike[str]) -> list[str]:
        """The argv of one command (for :func:`run_with_rusage` and the like)."""
        return [*self.argv, *map(os.fspath, args)]

    def daemon_pid(self) -> int | None:
        try:
            return int((self.home / "cofd.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def start_daemon(self) -> int:
        """Start the daemon (if not running) and wait until it answers; return its pid."""
        self("daemon", "start", cwd=self.home.parent)
        pid = self.daemon_pid()
        if pid is None:
            raise CommandFailedError(f"no pid file in {self.home} after `cof daemon start`")
        return pid

    def stop_daemon(self) -> None:
        pid = self.daemon_pid()
        if pid is None and not (self.home / "cofd.sock").exists():
            return
        with contextlib.suppress(CommandFailedError, subprocess.TimeoutExpired):
            self("daemon", "stop", cwd=self.home.parent, timeout=60)
        pid = self.daemon_pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)

    def restart_daemon(self) -> int:
        """A fresh daemon process (so its memory high-water mark starts from zero)."""
        self.stop_daemon()
        return self.start_daemon()


class GitRunner:
    """git with defaults only: no system or global config; identity and gc via ``-c``."""

    def __init__(self) -> None:
        self.env = dict(os.environ)
        self.env["GIT_CONFIG_NOSYSTEM"] = "1"
        self.env["GIT_CONFIG_GLOBAL"] = os.devnull
        self.env["GIT_AUTHOR_DATE"] = self.env["GIT_COMMITTER_DATE"] = "2024-01-01T00:00:00Z"
        self.prefix = [
            "git",
            "-c",
            f"user.name={AUTHOR_NAME}",
            "-c",
            f"user.email={AUTHOR_EMAIL}",
            "-c",
            "gc.auto=0",
            "-c",
            "init.defaultBranch=main",
        ]

    def __call__(
        self, *args: str | os.PathLike[str], cwd: Path, timeout: float = COMMAND_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        return _run([*self.prefix, *map(os.fspath, args)], cwd, self.env, timeout)

    def command(self, *args: str | os.PathLike[str]) -> list[str]:
        return [*self.prefix, *map(os.fspath, args)]


def tool_versions() -> dict[str, str]:
    git = subprocess.run(["git", "--version"], capture_output=True, text=True, check=False)
    return {"python": sys.version.split()[0], "git": git.stdout.strip()}


# -- memory --------------------------------------------------------------------------


def proc_memory(pid: int) -> dict[str, int]:
    """``VmHWM`` (peak resident set) and ``VmRSS`` of ``pid``, in bytes."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                out[key] = int(value.split()[0]) * KiB  # reported in kB
    return out


class RssSampler:
    """Polls ``VmRSS`` of a pid in a thread; ``peak`` is the highest value seen.

    A cross-check of ``VmHWM`` (which is exact but covers the process's whole life).
    """

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, proc_memory(self.pid).get("VmRSS", 0))
            except (OSError, ValueError):
                return
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# -- results -------------------------------------------------------------------------


@dataclass
class Result:
    """One benchmark's outcome: one row of the summary table plus detail lines."""

    number: int
    name: str
    cof: str
    git: str
    ratio: str
    goal: str
    passed: bool
    details: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return "PASS" if self.passed else "MISS"


def speedup(git_seconds: float, cof_seconds: float) -> float:
    """How many times faster cof was than git (git / cof)."""
    return git_seconds / cof_seconds if cof_seconds > 0 else float("inf")


def render_table(results: Sequence[Result]) -> str:
    """A Markdown table (readable in a terminal as is) followed by the detail lines."""
    header = ["#", "measurement", "cof", "git", "ratio", "goal", "result"]
    rows = [[str(r.number), r.name, r.cof, r.git, r.ratio, r.goal, r.verdict] for r in results]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out.extend(line(row) for row in rows)
    for r in results:
        if r.details:
            out.append("")
            out.append(f"{r.number}. {r.name}:")
            out.extend(f"   - {d}" for d in r.details)
    return "\n".join(out)


def log(message: str) -> None:
    """Progress on stderr (the results table goes to stdout)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- command line shared by the numbered benchmark suites ------------------------------

SizesT = TypeVar("SizesT")


def parse_only(values: list[str], benches: Mapping[int, object]) -> list[int]:
    """The benchmark numbers ``--only`` chose (``--only 1,3 --only 2``); all when none."""
    chosen: set[int] = set()
    for value in values:
        for part in value.split(","):
            number = int(part)
            if number not in benches:
                raise SystemExit(f"--only: no benchmark {number} (1-{len(benches)})")
            chosen.add(number)
    return sorted(chosen) or sorted(benches)


def run_suite(
    argv: list[str] | None,
    *,
    module: str,
    benches: Mapping[int, Callable[[Path, CofRunner, GitRunner, SizesT], Result]],
    full: SizesT,
    quick: SizesT,
    quick_help: str,
    scratch_prefix: str = "cofbench",
) -> int:
    """``python -m MODULE [--quick] [--only N]``: run the chosen benchmarks, print the table.

    Each benchmark gets a fresh scratch directory and its own daemon; one that raises is
    reported as an ``error`` row and does not stop the others. Exit status 0 when every
    benchmark met its goal, else 1.
    """
    parser = argparse.ArgumentParser(prog=f"python -m {module}")
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="N",
        help=f"run only benchmark N (1-{len(benches)})",
    )
    args = parser.parse_args(argv)
    sizes = quick if args.quick else full
    chosen = parse_only(args.only, benches)
    versions = tool_versions()
    command = f"uv run python -m {module} " + " ".join(
        (["--quick"] if args.quick else [])
        + [f"--only {','.join(map(str, chosen))}"] * bool(args.only)
    )
    print(f"# {command.strip()}")
    print(
        f"# {time.strftime('%Y-%m-%d %H:%M %Z')}; {os.cpu_count()} CPUs; python "
        f"{versions['python']}; {versions['git']}"
    )
    results: list[Result] = []
    git = GitRunner()
    for number in chosen:
        started = time.perf_counter()
        try:
            with scratch_dir(scratch_prefix) as base, CofRunner(base / "home") as cof:
                cof.start_daemon()
                load_before = os.getloadavg()[0]
                result = benches[number](base, cof, git, sizes)
                result.details.append(
                    f"1-minute load average before / after: {load_before:.2f} / "
                    f"{os.getloadavg()[0]:.2f} (other work on the machine shows here)"
                )
                results.append(result)
        except Exception as exc:  # one broken benchmark must not hide the others
            traceback.print_exc()
            first_line = (str(exc).splitlines() or [type(exc).__name__])[0]
            results.append(
                Result(
                    number, benches[number].__name__, "error", "-", "-", "-", False, [first_line]
                )
            )
        log(f"{number}: done in {time.perf_counter() - started:.0f} s")
    print(render_table(results))
    sys.stdout.flush()
    return 0 if all(r.passed for r in results) else 1
