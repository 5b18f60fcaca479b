"""``cof mv`` against git's ``mv``: renames and moves into a directory, of files and
of whole directories (untracked files in them go along), with git's ``-n``/``-v``
lines, status and commits; and git's refusals, word for word after ``fatal:`` /
``cof:``, changing nothing.

Differences from git, documented rather than matched:

- A destination whose directory is missing is found before anything moves, so a
  refused ``mv`` of several sources changes nothing (git has renamed the sources
  before it, and leaves its index without them).
- A refused ``-n`` prints only the refusal, not the "Checking rename" lines before it.
- A destination that is a symbolic link to a directory is not moved into (cof never
  writes beyond a symlink).
"""

from __future__ import annotations

from tests.integration.gitpair import GitPair
from tests.integration.test_everyday_options_vs_git import same_output, same_refs_and_graph
from tests.integration.test_merge_conflicts import apply, commit_both, pair

__all__ = ["pair"]  # a fixture, used by name


def base(pair: GitPair) -> None:
    apply(
        pair,
        {"a.txt": b"a\n", "b.txt": b"b\n", "d/x.txt": b"x\n", "d/y.txt": b"y\n", "e/z.txt": b"z\n"},
    )
    commit_both(pair, "base")
    apply(pair, {"d/untracked.txt": b"u\n", "u.txt": b"u\n", "n.txt": b"new\n"})
    pair.both(["add", "n.txt"])
    (pair.git_root / "empty").mkdir()
    (pair.cof_root / "empty").mkdir()


def test_mv_renames_files_and_directories_as_git_does(pair: GitPair) -> None:
    base(pair)
    pair.write("a.txt", b"a-local\n")  # an unstaged change moves along, still unstaged
    out = same_output(pair, ["mv", "-n", "d", "e", "a.txt", "empty"])
    assert out.startswith("Checking rename of 'd' to 'empty/d'\n"), out
    pair.assert_same_tree()  # -n changed nothing
    pair.assert_same_status()

    pair.both(["mv", "a.txt", "renamed.txt"])
    pair.assert_same_status()
    same_output(pair, ["mv", "-v", "d", "moved"])  # the directory, untracked file included
    same_output(pair, ["mv", "-v", "renamed.txt", "n.txt", "e"])  # several into a directory
    pair.both(["mv", "-f", "e/renamed.txt", "e/z.txt"])  # -f replaces a tracked file
    pair.assert_same_tree()
    pair.assert_same_status()
    pair.both(["commit", "-q", "-m", "moved"])
    same_refs_and_graph(pair)


def test_mv_refuses_as_git_does(pair: GitPair) -> None:
    base(pair)
    cases = [
        ["mv", "u.txt", "v.txt"],  # not under version control
        ["mv", "nosuch", "v.txt"],  # bad source
        ["mv", "a.txt", "b.txt"],  # destination exists
        ["mv", "d", "d/sub"],  # can not move directory into itself
        ["mv", "d", "e/z.txt"],  # cannot move directory over file
        ["mv", "empty", "full"],  # source directory is empty
        ["mv", "a.txt", "b.txt", "c"],  # destination 'c' is not a directory
        ["mv", "a.txt", "nodir/"],  # destination directory does not exist
        ["mv", "a.txt", "nodir/v.txt"],  # renaming 'a.txt' failed
    ]
    for args in cases:
        g, c = pair.both(args)
        assert g.returncode != 0, args
        git_says = g.stderr.strip().removeprefix("fatal: ")
        assert c.stderr == f"cof: {git_says}\n", (args, g.stderr, c.stderr)
    pair.assert_same_tree()
    pair.assert_same_status()
    # -k skips what cannot move and moves the rest.
    same_output(pair, ["mv", "-k", "-n", "u.txt", "a.txt", "e"])
    pair.both(["mv", "-k", "u.txt", "nosuch", "a.txt", "e"])
    pair.assert_same_tree()
    pair.assert_same_status()
