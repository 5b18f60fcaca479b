"""Start-up latency of the CLI: quick commands in a tiny repository, cof against git.

    uv run python -m tests.bench.bench_startup              # 60 runs of each command
    uv run python -m tests.bench.bench_startup --runs 200

Every command does next to nothing (a clean one-file tree, one commit, one branch), so
what is measured is the cost of starting the command: for cof, the interpreter, the
imports and one RPC to a daemon that is already running (and warm); for git, its own
start-up. The commands run round-robin, each repetition of each command in turn, so
that load from other work on the machine spreads over all of them alike.

Python keeps compiled bytecode (``.pyc``) next to the sources it imports, as every
installed package has; without it each run compiles cofctl, protocol, click and
msgpack from source again. cof is measured both ways: with a bytecode cache in the
scratch directory (``PYTHONPYCACHEPREFIX``, what users see), and with none
(``PYTHONDONTWRITEBYTECODE``, as in some development environments).

The results go to stdout as a Markdown table: wall-clock median, min and max, the
median CPU time (user + system) of the command's own process, and cof's medians over
git's. ``python -c pass`` is the floor: the interpreter alone, site included. cof's CPU
time leaves out the daemon's share of the work; it is the figure to compare when the
machine is busy. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tests.bench.harness import (
    CofRunner,
    GitRunner,
    Timing,
    log,
    run_measured,
    scratch_dir,
    tool_versions,
)

# (label, cof arguments, git arguments): the same question asked of both.
COMMANDS: list[tuple[str, list[str], list[str]]] = [
    ("status", ["status"], ["status"]),
    ("log -n 1", ["log", "-n", "1"], ["log", "-n", "1"]),
    ("branch", ["branch"], ["branch"]),
]
WARMUP_RUNS = 5  # untimed runs of each command first: daemon caches, page cache, .pyc


def run_once(argv: Sequence[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall-clock seconds, CPU seconds) of one run; output is discarded, a failure raises.

    CPU time (user + system, from ``wait4``) hardly changes when other work competes
    for the processors, so it still compares runs when the wall clock does not.
    """
    wall, usage = run_measured(argv, cwd, env)
    return wall, usage.ru_utime + usage.ru_stime


def bytecode_envs(base_env: dict[str, str], cache: Path) -> dict[str, dict[str, str]]:
    """The environments cof is measured in: with a bytecode cache and without one."""
    cached = {k: v for k, v in base_env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cached["PYTHONPYCACHEPREFIX"] = os.fspath(cache)  # not the source tree
    uncached = {k: v for k, v in base_env.items() if k != "PYTHONPYCACHEPREFIX"}
    uncached["PYTHONDONTWRITEBYTECODE"] = "1"
    return {".pyc": cached, "no .pyc": uncached}


def make_repos(base: Path, cof: CofRunner, git: GitRunner) -> tuple[Path, Path]:
    """A cof and a git work tree, each with one committed file and a clean status."""
    cof_work, git_work = base / "cof", base / "git"
    for work in (cof_work, git_work):
        work.mkdir()
        (work / "readme.txt").write_text("hello\n")
    cof("init", ".", cwd=cof_work)
    cof("add", "readme.txt", cwd=cof_work)
    cof("commit", "-q", "-m", "first", cwd=cof_work)
    git("init", "-q", ".", cwd=git_work)
    git("add", "readme.txt", cwd=git_work)
    git("commit", "-q", "-m", "first", cwd=git_work)
    return cof_work, git_work


def measure(runs: int) -> list[tuple[str, tuple[Timing, Timing]]]:
    """(case, (wall-clock timing, CPU timing)) for every case, in table order."""
    with scratch_dir("cofbs") as base, CofRunner(base / "home") as cof:
        git = GitRunner()
        cof.start_daemon()
        cof_work, git_work = make_repos(base, cof, git)
        cases: list[tuple[str, list[str], Path, dict[str, str]]] = [
            ("python -c pass", [sys.executable, "-c", "pass"], base, cof.env)
        ]
        for name, env in bytecode_envs(cof.env, base / "pycache").items():
            cases += [
                (f"cof {label} ({name})", cof.command(*args), cof_work, env)
                for label, args, _ in COMMANDS
            ]
        cases += [
            (f"git {label}", git.command(*args), git_work, git.env) for label, _, args in COMMANDS
        ]
        log(f"warming up: {WARMUP_RUNS} runs of each of {len(cases)} commands")
        for _ in range(WARMUP_RUNS):
            for _name, argv, cwd, env in cases:
                run_once(argv, cwd, env)
        timings = {name: (Timing(), Timing()) for name, *_ in cases}
        log(f"timing: {runs} runs of each, round-robin")
        for _ in range(runs):
            for name, argv, cwd, env in cases:
                wall, cpu = run_once(argv, cwd, env)
                timings[name][0].samples.append(wall)
                timings[name][1].samples.append(cpu)
        return list(timings.items())


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def render(timings: list[tuple[str, tuple[Timing, Timing]]]) -> str:
    """The Markdown table: wall-clock median, min and max and CPU median of each case,
    and cof's medians over git's (wall clock and CPU)."""
    by_name = dict(timings)
    rows = [["command", "median", "min", "max", "cpu", "/ git", "cpu / git"]]
    for name, (wall, cpu) in timings:
        ratios = ["", ""]
        if name.startswith("cof "):
            git_wall, git_cpu = by_name["git " + name.removeprefix("cof ").rpartition(" (")[0]]
            ratios = [
                f"{wall.median / git_wall.median:.1f}x",
                f"{cpu.median / git_cpu.median:.1f}x",
            ]
        samples = wall.samples
        rows.append(
            [name, ms(wall.median), ms(min(samples)), ms(max(samples)), ms(cpu.median), *ratios]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.bench_startup")
    parser.add_argument("--runs", type=int, default=60, help="timed runs of each command")
    args = parser.parse_args(argv)
    versions = tool_versions()
    print(f"# uv run python -m tests.bench.bench_startup --runs {args.runs}")
    print(
        f"# {time.strftime('%Y-%m-%d %H:%M %Z')}; {os.cpu_count()} CPUs; python "
        f"{versions['python']}; {versions['git']}; load average {os.getloadavg()[0]:.2f}"
    )
    timings = measure(args.runs)
    print(render(timings))
    print(f"# load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
