"""``.cofignore`` semantics compared with ``git check-ignore`` on the same tree."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from cofd.objects.ignore import IgnoreRules

ROOT_PATTERNS = """\
# a comment, then ~20 patterns
*.log
!keep.log
build/
/rootonly.txt
docs/**/*.tmp
**/cache
temp?
*.[oa]
\\#hash
secret/*
!secret/public.txt
a/**/b
vendor
!vendor.txt
*.swp
logs/
!logs/
"""
SUB_PATTERNS = """\
*.dat
/local.txt
!app.log
deep/*.txt
"""
DEEP_PATTERNS = """\
!*.dat
*.bak
"""

FILES = [
    "app.log",
    "keep.log",
    "normal.txt",
    "build/out.bin",
    "rootonly.txt",
    "docs/x.tmp",
    "docs/a/b/x.tmp",
    "x.tmp",
    "cache/f",
    "a/cache/f",
    "temp1",
    "temp12",
    "lib.o",
    "lib.a",
    "lib.c",
    "#hash",
    "secret/x",
    "secret/public.txt",
    "a/b",
    "a/x/y/b",
    "a/bb",
    "vendor/lib.c",
    "vendor.txt",
    "x.swp",
    "logs/today",
    "local.txt",
    "sub/app.log",
    "sub/other.log",
    "sub/keep.log",
    "sub/build/x",
    "sub/rootonly.txt",
    "sub/d.dat",
    "sub/local.txt",
    "sub/x/local.txt",
    "sub/deep/d.dat",
    "sub/deep/n.txt",
    "sub/deep/z.bak",
    "sub/deep/more/y.txt",
    "sub/deep/more/y.bak",
    "sub/vendor",
]


def all_paths(files: list[str]) -> tuple[list[str], set[str]]:
    paths, dirs = set(files), set()
    for f in files:
        parts = f.split("/")
        for i in range(1, len(parts)):
            dirs.add("/".join(parts[:i]))
    return sorted(paths | dirs), dirs


def make_tree(root: Path, ignore_name: str) -> None:
    for f in FILES:
        (root / f).parent.mkdir(parents=True, exist_ok=True)
        (root / f).write_text(f)
    (root / ignore_name).write_text(ROOT_PATTERNS)
    (root / "sub" / ignore_name).write_text(SUB_PATTERNS)
    (root / "sub" / "deep" / ignore_name).write_text(DEEP_PATTERNS)


def git_ignored(root: Path, paths: list[str]) -> set[str]:
    subprocess.run(["git", "init", "-q", str(root)], check=True, timeout=30)
    result = subprocess.run(
        ["git", "-c", "core.excludesFile=/dev/null", "check-ignore", "--no-index", "--stdin", "-z"],
        cwd=root,
        input="\0".join(paths) + "\0",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr
    return {p for p in result.stdout.split("\0") if p}


def cof_ignored(root: Path, paths: list[str], dirs: set[str]) -> set[str]:
    """Paths a walk would skip: ignored themselves or below an ignored directory."""
    rules = IgnoreRules(root)
    ignored: set[str] = set()
    for path in paths:  # sorted, so a directory comes before what is below it
        parent = path.rsplit("/", 1)[0] if "/" in path else ""
        if parent in ignored or rules.is_ignored(path, path in dirs):
            ignored.add(path)
    return ignored


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_same_ignored_set_as_git(tmp_path: Path) -> None:
    paths, dirs = all_paths(FILES)
    git_root, cof_root = tmp_path / "g", tmp_path / "c"
    make_tree(git_root, ".gitignore")
    make_tree(cof_root, ".cofignore")
    expected = git_ignored(git_root, paths)
    got = cof_ignored(cof_root, paths, dirs)
    assert sorted(got ^ expected) == []
    # The tree exercises both answers, negation and nesting.
    assert {"app.log", "build", "sub/d.dat", "secret/x"} <= expected
    assert {"keep.log", "sub/app.log", "sub/deep/d.dat", "secret/public.txt"}.isdisjoint(expected)


def test_cof_and_git_dirs_always_ignored_at_any_depth(tmp_path: Path) -> None:
    rules = IgnoreRules(tmp_path)
    assert rules.is_ignored(".cof", True)
    assert rules.is_ignored(".cof/objects/x", False)
    assert rules.is_ignored("sub/.cof", True)  # a nested repository's
    assert rules.is_ignored(".git/config", False) and rules.is_ignored("a/.GIT", True)
    (tmp_path / ".cofignore").write_text("!.git\n!.git/**\n")  # cannot be un-ignored
    assert IgnoreRules(tmp_path).is_ignored(".git/config", False)
    assert not rules.is_ignored("normal", False) and not rules.is_ignored(".gitignore", False)


def test_unreadable_or_huge_ignore_file_ignores_nothing(tmp_path: Path) -> None:
    (tmp_path / ".cofignore").write_text("*\n" + "#" * (1024 * 1024))
    assert not IgnoreRules(tmp_path).is_ignored("anything", False)
    (tmp_path / ".cofignore").unlink()
    (tmp_path / ".cofignore").mkdir()
    assert not IgnoreRules(tmp_path).is_ignored("anything", False)
