"""``cof clean`` against git's ``clean``: what ``-n``, ``-d``, ``-x``, ``-X`` and paths
select (git's "Would remove"/"Removing" lines, "Would skip repository" for a
repository inside an untracked directory), what ``-f`` leaves behind, and the refusal
without ``-n``/``-f``. Both trees carry the same ignore rules twice, as
``.gitignore`` for git and ``.cofignore`` for cof.

Differences from git, documented rather than matched:

- A directory holding a repository of its own (an entry ``.cof`` or ``.git``) is never
  removed, not even with git's ``-ff`` (``-f`` twice is ``-f``); git knows only git
  repositories, so a nested cof repository is cof's alone to keep
  (``test_clean_never_removes_a_nested_repository``).
- Entries a partly removed directory lists are in name order (git: directory order).
- No ``-i`` (interactive) and no ``-e PATTERN``.
"""

from __future__ import annotations

import subprocess

from tests.integration.gitpair import GIT_OPTIONS, GitPair
from tests.integration.test_everyday_options_vs_git import assert_fails_one_line, same_output
from tests.integration.test_merge_conflicts import apply, commit_both, pair

__all__ = ["pair"]  # a fixture, used by name

IGNORES = b"*.log\nbuild/\n"


def untracked_mess(pair: GitPair) -> None:
    """Tracked a.txt, d/x.txt and the ignore files; then untracked files beside them,
    untracked directories (one holding an ignored file, one an ignored directory, one
    only ignored files, one empty, one a git repository), ignored files and directories,
    and a git repository at the top."""
    apply(pair, {".gitignore": IGNORES, ".cofignore": IGNORES, "a.txt": b"a\n", "d/x.txt": b"x\n"})
    commit_both(pair, "base")
    apply(
        pair,
        {
            "u.txt": b"u\n",
            "s p.txt": b"space\n",
            "top.log": b"l\n",
            "d/u.txt": b"u\n",
            "d/i.log": b"l\n",
            "d/build/o.bin": b"o\n",
            "ud/f.txt": b"f\n",
            "ud/sub/g.txt": b"g\n",
            "mixed/m.txt": b"m\n",
            "mixed/i.log": b"l\n",
            "mixed/clean/c.txt": b"c\n",
            "onlyign/i.log": b"l\n",
            "build/o.bin": b"o\n",
            "staged.txt": b"s\n",
        },
    )
    pair.both(["add", "staged.txt"])
    for root in (pair.git_root, pair.cof_root):
        (root / "empty").mkdir()
        (root / "d" / "emptyin").mkdir()
        for repo in ("nested", "withrepo/inner"):
            (root / repo).mkdir(parents=True)
            subprocess.run(["git", "init", "-q", repo], cwd=root, env=pair.git_env, check=True)
            (root / repo / "n.txt").write_bytes(b"n\n")
        (root / "withrepo" / "w.txt").write_bytes(b"w\n")


def test_clean_selects_and_removes_as_git_does(pair: GitPair) -> None:
    untracked_mess(pair)
    g, c = pair.both(["clean"])  # clean.requireForce: neither -n nor -f
    assert g.returncode == 128
    assert_fails_one_line(c, "requireForce", "-n", "-f")
    g, c = pair.both(["clean", "-n", "-x", "-X"])
    assert_fails_one_line(c, "-x", "-X")

    for flags in (["-n"], ["-nd"], ["-nx"], ["-nX"], ["-ndx"], ["-ndX"], ["-n", "-q", "-d"]):
        same_output(pair, ["clean", *flags])
    for paths in (["ud"], ["mixed", "d"], ["ud/sub/g.txt", "a.txt", "nested", "nosuch"]):
        same_output(pair, ["clean", "-n", *paths])
    # From a subdirectory: the current directory by default, paths relative to it;
    # the current directory itself is never removed ("Would refuse ...").
    for where, args in (
        ("d", ["clean", "-n"]),
        ("d", ["clean", "-nd", ".."]),
        ("ud/sub", ["clean", "-nd", ".."]),
    ):
        # (Not git -C: git then misses that it runs in the directory it removes.)
        g = subprocess.run(
            ["git", *GIT_OPTIONS, *args],
            cwd=pair.git_root / where,
            env=pair.git_env,
            capture_output=True,
            text=True,
            check=True,
        )
        c = pair.sandbox.cof(*args, cwd=pair.cof_root / where)
        assert c.stdout == g.stdout, f"{where} {args}: git:\n{g.stdout}cof:\n{c.stdout}"
    pair.assert_same_tree()  # -n removed nothing

    out = same_output(pair, ["clean", "-fd"])
    assert "Removing ud/\n" in out and "Skipping repository withrepo/inner\n" in out, out
    pair.assert_same_tree()
    pair.assert_same_status()
    same_output(pair, ["clean", "-fdX"])
    pair.assert_same_tree()
    same_output(pair, ["clean", "-q", "-fx"])
    pair.assert_same_tree()
    pair.assert_same_status()


def test_clean_never_removes_a_nested_repository(pair: GitPair) -> None:
    """A cof repository inside the working tree (git sees a plain directory there)
    and cof's own directory stay, whatever the flags."""
    apply(pair, {"a.txt": b"a\n"})
    commit_both(pair, "base")
    inner = pair.cof_root / "inner"
    inner.mkdir()
    pair.sandbox.cof("init", "-q", cwd=inner)
    (inner / "f.txt").write_bytes(b"f\n")
    (pair.cof_root / "u.txt").write_bytes(b"u\n")
    out = pair.cof("clean", "-fdx").stdout
    assert out == "Removing u.txt\n", out
    assert (inner / "f.txt").exists() and (inner / ".cof" / "config.toml").exists()
    assert pair.cof("clean", "-fdx", "inner", "inner/f.txt").stdout == ""
    assert (inner / "f.txt").exists()
    # The outer repository works, and lists the inner one as git lists one.
    assert pair.cof("status", "--porcelain").stdout == "?? inner/\n"
