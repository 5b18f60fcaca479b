"""Differential tests: ``cof rev-parse`` against ``git rev-parse`` (``gitpair``).

Ids differ (cof's are 64 digits), so a commit id is compared by the commit it names
(``GitPair.cof_of``, filled by ``sync_refs``), an abbreviation by its length.

Differences from git, documented rather than matched:

- ``--short`` is 12 digits by default (git: ``core.abbrev``, 7 here) and at most 64.
- ``--cof-dir`` is always absolute, as git's ``--absolute-git-dir`` (git's
  ``--git-dir`` says ``.git`` at the top).
- A failing REV prints nothing on stdout (git echoes the word, and the ids before it).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.integration.gitpair import GIT_OPTIONS, GitPair
from tests.integration.test_merge_conflicts import apply, commit_both, pair

__all__ = ["pair"]  # a fixture, used by name


def two_commits(pair: GitPair) -> None:
    apply(pair, {"a": b"1\n", "d/e/f": b"x\n"})
    commit_both(pair, "one")
    apply(pair, {"b": b"2\n"})
    commit_both(pair, "two")


def git_in(pair: GitPair, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *GIT_OPTIONS, *args],
        cwd=cwd,
        env=pair.git_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def fails_alike(pair: GitPair, args: list[str], code: int | None = None) -> None:
    """Both fail (with ``code``, if given); cof says why in one line, or nothing
    when git says nothing."""
    g, c = pair.both(["rev-parse", *args])
    assert g.returncode != 0 and c.returncode != 0
    if code is not None:
        assert g.returncode == c.returncode == code, (g, c)
    assert c.stdout == ""
    assert len(c.stderr.splitlines()) == (1 if g.stderr else 0), c.stderr


def test_revisions_name_the_same_objects(pair: GitPair) -> None:
    fails_alike(pair, ["HEAD"])  # no commit yet
    fails_alike(pair, ["-q", "--verify", "HEAD"], code=1)
    fails_alike(pair, ["--abbrev-ref", "HEAD"])
    two_commits(pair)
    pair.both(["tag", "-a", "v1", "-m", "tagged", "HEAD~1"])
    pair.both(["tag", "light"])
    revs = ["HEAD", "HEAD~1", "main", "light", "v1^{commit}", "v1^{}", "v1^0", "@"]
    g, c = pair.both(["rev-parse", *revs])
    assert [pair.cof_of[i] for i in g.stdout.split()] == c.stdout.split()
    g, c = pair.both(["rev-parse", "--verify", "main~1"])
    assert pair.cof_of[g.stdout.strip()] == c.stdout.strip()
    # An annotated tag's name gives the tag object, which peels back to its commit.
    g, c = pair.both(["rev-parse", "v1", "v1^{tag}"])
    git_tag, cof_tag = g.stdout.split(), c.stdout.split()
    assert git_tag[0] == git_tag[1] not in pair.cof_of
    assert cof_tag[0] == cof_tag[1] and cof_tag[0] not in pair.cof_of.values()
    g, c = pair.both(["rev-parse", git_tag[0] + "^{commit}"], ["rev-parse", cof_tag[0] + "^{}"])
    assert pair.cof_of[g.stdout.strip()] == c.stdout.strip()
    fails_alike(pair, ["light^{tag}"])
    fails_alike(pair, ["HEAD", "nosuch"])
    fails_alike(pair, ["--verify", "HEAD", "HEAD~1"])
    fails_alike(pair, ["-q", "--verify", "HEAD~5"], code=1)
    fails_alike(pair, ["--quiet", "--verify"], code=1)


def test_short_ids_are_unique_prefixes_of_the_asked_length(pair: GitPair) -> None:
    two_commits(pair)
    full = pair.cof("rev-parse", "HEAD").stdout.strip()
    for flag, git_len, cof_len in (("--short", 7, 12), ("--short=2", 4, 4), ("--short=99", 40, 64)):
        g, c = pair.both(["rev-parse", flag, "HEAD"])
        assert len(g.stdout.strip()) == git_len
        assert c.stdout == full[:cof_len] + "\n"
    fails_alike(pair, ["--short", "HEAD", "HEAD~1"])  # --short verifies


def test_ref_names_as_git_prints_them(pair: GitPair) -> None:
    two_commits(pair)
    pair.git("update-ref", "refs/remotes/origin/main", "HEAD")
    remote_ref = pair.cof_root / ".cof" / "refs" / "remotes" / "origin" / "main"
    remote_ref.parent.mkdir(parents=True)
    remote_ref.write_text(pair.cof("rev-parse", "HEAD").stdout)
    pair.both(["branch", "x"])
    pair.both(["tag", "x", "HEAD~1"])  # x is a tag and a branch: tags come first
    words = ["HEAD", "main", "origin/main", "HEAD~1", "x", "refs/heads/x", "refs/tags/x"]
    for flag in ("--abbrev-ref", "--symbolic-full-name"):
        g, c = pair.both(["rev-parse", flag, *words])
        assert c.stdout == g.stdout
    pair.both(["checkout", "-q", "HEAD~1"])
    for flag in ("--abbrev-ref", "--symbolic-full-name"):
        g, c = pair.both(["rev-parse", flag, "HEAD", "@{-1}"])
        assert c.stdout == g.stdout


def test_repository_paths_in_order_inside_and_outside(pair: GitPair) -> None:
    two_commits(pair)
    queries = ["--show-prefix", "HEAD", "--show-toplevel", "--is-inside-work-tree"]
    g = git_in(pair, pair.git_root / "d" / "e", "rev-parse", *queries, "--absolute-git-dir")
    c = pair.sandbox.cof("rev-parse", *queries, "--cof-dir", cwd=pair.cof_root / "d" / "e")
    git_lines, cof_lines = g.stdout.splitlines(), c.stdout.splitlines()
    assert git_lines[0] == cof_lines[0] == "d/e/"
    assert pair.cof_of[git_lines[1]] == cof_lines[1]
    assert (git_lines[2], cof_lines[2]) == (os.fspath(pair.git_root), os.fspath(pair.cof_root))
    assert git_lines[3] == cof_lines[3] == "true"
    assert cof_lines[4] == os.fspath(pair.cof_root / ".cof")
    # Inside .git and .cof: not in the work tree, which has no top level from there.
    g = git_in(pair, pair.git_root / ".git", "rev-parse", "--is-inside-work-tree", "--show-prefix")
    c = pair.sandbox.cof(
        "rev-parse", "--is-inside-work-tree", "--show-prefix", cwd=pair.cof_root / ".cof"
    )
    assert c.stdout == g.stdout == "false\n\n"
    g = git_in(pair, pair.git_root / ".git", "rev-parse", "--show-toplevel")
    c = pair.sandbox.cof("rev-parse", "--show-toplevel", cwd=pair.cof_root / ".cof", check=False)
    assert g.returncode != 0 and c.returncode != 0 and len(c.stderr.splitlines()) == 1
    outside = pair.sandbox.base / "outside"
    outside.mkdir()
    for args in (["--show-toplevel"], ["--is-inside-work-tree"], ["HEAD"]):
        g = git_in(pair, outside, "rev-parse", *args)
        c = pair.sandbox.cof("rev-parse", *args, cwd=outside, check=False)
        assert g.returncode != 0 and c.returncode != 0 and c.stdout == ""
        assert len(c.stderr.splitlines()) == 1, c.stderr
