"""``cof stash`` against git's ``stash``: push (``-m``, ``-u``, ``-k``, paths), list,
show, apply (``--index``), pop, drop, clear and branch, each run on git too. Compared:
success versus failure, stdout (ids masked; status hints naming ``git`` read as
``cof``), the files, ``status --porcelain`` and the stash list.

Differences from git, documented rather than matched:

- ids: a stash's message names HEAD by 12 hex digits (git: 7), ``Dropped ... (<id>)``
  by cof's 64.
- ``stash apply`` onto a moved HEAD does not print git's ``Auto-merging PATH`` lines;
  conflicts are compared by their ``CONFLICT (kind)`` lines. Refusals are one line
  ``cof: ...`` (git: several lines on stderr).
- A stash whose untracked files (``-u``) find a file in their place is refused whole,
  changing nothing; git applies the tracked changes and the other files, then fails.
- ``show -p`` prints no ``index`` lines (cof has no git blob ids).
"""

from __future__ import annotations

import re

from tests.integration.gitpair import GitPair, conflict_kinds
from tests.integration.test_everyday_options_vs_git import assert_fails_one_line
from tests.integration.test_merge_conflicts import apply, assert_same, commit_both, lines, pair

__all__ = ["pair"]  # a fixture, used by name

_IDS = re.compile(r"\b[0-9a-f]{7,64}\b")
_AUTO_MERGING = re.compile(r"^Auto-merging .*\n", re.MULTILINE)


def _mask(text: str) -> str:
    text = text.replace('"git ', '"cof ')
    return _IDS.sub("<id>", _AUTO_MERGING.sub("", text))


def same(pair: GitPair, git_args: list[str], cof_args: list[str] | None = None) -> str:
    """Run in both: same success, same stdout (masked), same files and status."""
    g, c = pair.both(git_args, cof_args)
    assert _mask(c.stdout) == _mask(g.stdout), f"git:\n{g.stdout}cof:\n{c.stdout}"
    assert_same(pair)
    return c.stdout


def same_list(pair: GitPair) -> list[str]:
    git = _mask(pair.git("stash", "list").stdout)
    cof = _mask(pair.cof("stash", "list").stdout)
    assert cof == git, f"git:\n{git}cof:\n{cof}"
    return cof.splitlines()


def base(pair: GitPair) -> None:
    apply(pair, {"a.txt": lines("a1", "a2", "a3"), "b.txt": b"b\n", "c.txt": b"c\n"})
    apply(pair, {"d/x.txt": b"x\n"})
    commit_both(pair, "first one")


def local_changes(pair: GitPair) -> None:
    """Unstaged, staged then changed again, deleted, staged new, untracked."""
    apply(pair, {"a.txt": lines("a1", "a2", "A3"), "b.txt": b"b staged\n", "n.txt": b"n\n"})
    pair.both(["add", "b.txt", "n.txt"])
    apply(pair, {"b.txt": b"b worktree\n", "u.txt": b"untracked\n"})
    pair.delete("c.txt")


def test_push_list_show_and_pop_as_git(pair: GitPair) -> None:
    base(pair)
    pair.write("only-untracked.txt", b"u\n")
    assert same(pair, ["stash"]) == "No local changes to save\n"  # exit 0 too
    pair.delete("only-untracked.txt")
    local_changes(pair)
    out = same(pair, ["stash"])  # the worktree and staging area back at HEAD
    assert out.startswith("Saved working directory and index state WIP on main: "), out
    assert same_list(pair) == ["stash@{0}: WIP on main: <id> first one"]
    same(pair, ["stash", "show"])
    same(pair, ["stash", "show", "--stat", "stash@{0}"])
    patch = pair.git("stash", "show", "-p").stdout
    without_index = "".join(x for x in patch.splitlines(True) if not x.startswith("index "))
    assert pair.cof("stash", "show", "-p").stdout == without_index
    # Stashed content survives gc: refs/stash and its reflog are roots.
    pair.git("gc", "-q", "--prune=now")
    pair.cof("gc", "--prune=now")
    out = same(pair, ["stash", "pop"])  # git's status, then "Dropped refs/stash@{0} (...)"
    assert "Dropped refs/stash@{0} (<id>)" in _mask(out)
    assert same_list(pair) == []


def test_message_keep_index_untracked_and_apply_index(pair: GitPair) -> None:
    base(pair)
    local_changes(pair)
    same(pair, ["stash", "push", "-k", "-m", "kept index"])  # staged changes stay
    same(pair, ["reset", "-q", "--hard"])
    same(pair, ["stash", "apply", "--index"])  # staged again as staged
    same(pair, ["stash", "-u", "-q"])  # untracked files stashed and removed too
    assert not (pair.cof_root / "u.txt").exists()
    assert len(same_list(pair)) == 2
    same(pair, ["stash", "pop", "--index"])
    same_list(pair)


def test_pathspec_stashes_only_those_paths(pair: GitPair) -> None:
    base(pair)
    local_changes(pair)
    same(pair, ["stash", "push", "-m", "only a", "--", "a.txt"])
    same(pair, ["stash", "show"])
    same_list(pair)
    g, c = pair.both(["stash", "push", "--", "nosuch.txt"])
    assert g.returncode != 0
    assert_fails_one_line(c, "nosuch.txt", "did not match")
    assert_same(pair)


def test_apply_onto_a_moved_head_merges_and_keeps_a_conflicting_stash(pair: GitPair) -> None:
    base(pair)
    pair.write("pic.bin", b"\0base\n")
    commit_both(pair, "picture")
    apply(pair, {"a.txt": lines("a1", "a2", "STASHED"), "pic.bin": b"\0stashed\n"})
    same(pair, ["stash", "-q"])
    apply(pair, {"a.txt": lines("MOVED", "a2", "a3")})  # apart from the stashed line
    commit_both(pair, "moved")
    same(pair, ["stash", "apply"])  # a clean three-way merge
    same(pair, ["reset", "-q", "--hard"])
    apply(pair, {"a.txt": lines("MOVED", "a2", "CONFLICT"), "pic.bin": b"\0committed\n"})
    commit_both(pair, "conflicting")
    g, c = pair.both(["stash", "pop"])
    assert g.returncode == c.returncode == 1
    assert conflict_kinds(c.stdout) == conflict_kinds(g.stdout) == ["content", "content"]
    assert "The stash entry is kept in case you need it again." in c.stdout
    assert_same(pair)  # git's markers (Updated upstream / Stashed changes), ours for the binary
    assert len(same_list(pair)) == 1


def test_apply_over_local_changes_is_refused_and_changes_nothing(pair: GitPair) -> None:
    base(pair)
    pair.write("a.txt", b"stashed\n")
    same(pair, ["stash", "-q"])
    pair.write("a.txt", b"local\n")
    for action in ("apply", "pop"):
        g, c = pair.both(["stash", action])
        assert g.returncode != 0
        assert_fails_one_line(
            c, "Your local changes to the following files would be overwritten", "a.txt"
        )
        assert_same(pair)
    assert len(same_list(pair)) == 1


def test_drop_clear_and_stash_references(pair: GitPair) -> None:
    base(pair)
    for n in (1, 2, 3):
        pair.write("a.txt", f"{n}\n".encode())
        same(pair, ["stash", "-q", "-m", f"s{n}"])
    assert len(same_list(pair)) == 3
    assert same(pair, ["stash", "drop", "1"]).startswith("Dropped refs/stash@{1} (")
    assert same(pair, ["stash", "drop", "stash@{0}"]).startswith("Dropped stash@{0} (")
    assert same_list(pair) == ["stash@{0}: On main: s1"]
    for args in (
        ["stash", "apply", "stash@{5}"],
        ["stash", "drop", "HEAD"],
        ["stash", "show", "x"],
    ):
        g, c = pair.both(args)
        assert g.returncode != 0 and c.stderr.startswith("cof: "), c.stderr
    same(pair, ["stash", "clear"])
    assert same_list(pair) == []
    for action in ("drop", "pop", "apply", "show"):
        g, c = pair.both(["stash", action])
        assert g.returncode != 0
        assert_fails_one_line(c, "No stash entries found.")


def test_stash_branch_as_git(pair: GitPair) -> None:
    base(pair)
    local_changes(pair)
    same(pair, ["stash", "-q"])
    apply(pair, {"a.txt": lines("later", "a2", "a3")})
    commit_both(pair, "later")
    g, c = pair.both(["stash", "branch", "topic"])
    assert _mask(c.stdout) == _mask(g.stdout), f"git:\n{g.stdout}cof:\n{c.stdout}"
    assert c.stderr == g.stderr == "Switched to a new branch 'topic'\n"
    assert_same(pair)
    pair.sync_refs()  # topic at the stash's base, checked out
    assert same_list(pair) == []
    g, c = pair.both(["stash", "branch", "topic"])
    assert g.returncode != 0
