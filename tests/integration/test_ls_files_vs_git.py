"""Differential tests: ``cof ls-files`` against ``git ls-files --exclude-standard``.

Both trees hold the same ``.gitignore`` and ``.cofignore`` (each tool reads its own
and lists the other as a file), so the same files are ignored. Names are printed
alike; ``-s`` ids differ (cof's content id, not a git blob id), so they are compared
by the content they name: equal contents, equal ids, in both.

Difference from git, documented rather than matched: pathspecs are literal paths (a
file, or a directory and what is below), not git's glob patterns.
"""

from __future__ import annotations

from tests.integration.gitpair import GitPair
from tests.integration.test_merge_conflicts import apply, commit_both, fork, merge_both, pair
from tests.integration.test_rev_parse_vs_git import git_in

__all__ = ["pair"]  # a fixture, used by name

IGNORE = b"build/\n*.log\n"
TRACKED = {
    "a": b"a\n",
    "a b": b"same\n",
    "\u00e9": b"same\n",
    "t\tab": b"t\n",
    'q"uote': b"q\n",
    "d/e/f": b"f\n",
    "d/g": b"g\n",
    "sub/t": b"t\n",
    "z": b"z\n",
    "Zed": b"Z\n",  # bytewise before "a"
}


def ls(pair: GitPair, *args: str, cwd: str = "") -> tuple[str, str]:
    """``ls-files ARGS`` in both (in ``cwd``): they agree on success; their stdouts."""
    g = git_in(pair, pair.git_root / cwd, "ls-files", "--exclude-standard", *args)
    c = pair.sandbox.cof("ls-files", *args, cwd=pair.cof_root / cwd, check=False)
    assert (g.returncode == 0) == (c.returncode == 0), (g, c)
    if c.returncode != 0:
        assert len(c.stderr.splitlines()) == 1, c.stderr
    return g.stdout, c.stdout


def same(pair: GitPair, *args: str, cwd: str = "") -> None:
    git_out, cof_out = ls(pair, *args, cwd=cwd)
    assert cof_out == git_out, f"ls-files {args} in '{cwd}'\ngit:\n{git_out}cof:\n{cof_out}"


def same_stages(pair: GitPair, *args: str) -> None:
    """``-s`` lines alike but for the ids, which must name the same contents."""
    git_out, cof_out = ls(pair, "-s", *args)
    git_rows = [line.split(" ", 2) for line in git_out.splitlines()]
    cof_rows = [line.split(" ", 2) for line in cof_out.splitlines()]
    assert [(m, rest) for m, _, rest in cof_rows] == [(m, rest) for m, _, rest in git_rows]
    pairs = {(g[1], c[1]) for g, c in zip(git_rows, cof_rows, strict=True)}
    assert len({g for g, _ in pairs}) == len({c for _, c in pairs}) == len(pairs), pairs
    assert all(len(c[1]) == 64 for c in cof_rows)


def worktree(pair: GitPair) -> None:
    """Tracked files (one ignored but added by force), then local changes, untracked
    and ignored files, an ignored directory and an empty one."""
    apply(pair, {".gitignore": IGNORE, ".cofignore": IGNORE, **TRACKED})
    commit_both(pair, "base")
    apply(pair, {"forced.log": b"kept\n"})
    pair.both(["add", "-f", "forced.log"])
    commit_both(pair, "forced")
    apply(
        pair,
        {"d/e/f": b"changed\n", "new": b"n\n", "New": b"N\n", "d/u": b"u\n", "d/x.log": b"l\n"},
    )
    apply(pair, {"build/o": b"1\n", "build/in/p": b"2\n", "n\u00e9w": b"n\n"})
    pair.delete("sub/t")
    for root in (pair.git_root, pair.cof_root):
        (root / "empty").mkdir()


def test_each_kind_lists_as_git_does(pair: GitPair) -> None:
    worktree(pair)
    for args in (
        [],
        ["-c"],
        ["-o"],
        ["-i", "-o"],
        ["-i", "-c"],
        ["-m"],
        ["-d"],
        ["-c", "-d", "-m"],
        ["-c", "-o", "-m"],
        ["-z"],
        ["-o", "-z"],
        ["--", "d", "z", "nosuch"],
        ["-o", "d"],
    ):
        same(pair, *args)
    same_stages(pair)
    ls(pair, "-i")  # both refuse: -i needs -o or -c


def test_paths_are_relative_to_the_current_directory(pair: GitPair) -> None:
    worktree(pair)
    for args in ([], ["-o"], ["-m", "-d"], ["../sub", "../a b", "."], ["-o", ".."], ["-z", ".."]):
        same(pair, *args, cwd="d")
    same(pair, cwd="d/e")
    outside = pair.sandbox.base / "outside"
    outside.mkdir()
    g = git_in(pair, outside, "ls-files")
    c = pair.sandbox.cof("ls-files", cwd=outside, check=False)
    assert g.returncode != 0 and c.returncode != 0 and len(c.stderr.splitlines()) == 1


def test_conflicted_paths_list_each_stage(pair: GitPair) -> None:
    base = {"c": b"base\n", "k": b"k\n", "gone": b"g\n"}
    fork(pair, base, {"c": b"ours\n", "gone": b"ours\n"}, {"c": b"theirs\n", "gone": None})
    merge_both(pair)
    for args in ([], ["-m"], ["-d"], ["-c", "-m"]):
        same(pair, *args)
    same_stages(pair)
    pair.delete("c")
    for args in (["-d"], ["-m"], ["-c", "-d"]):
        same(pair, *args)
    same_stages(pair, "-d")
