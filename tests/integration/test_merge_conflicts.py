"""Every merge conflict kind, each run on git too: same exit status, same
``status --porcelain``, byte-identical work trees.

Each test builds the same history in a git and a cof repository (``gitpair``): a
base commit on ``main``, a commit on branch ``side``, a commit on ``main``, then
``merge side`` in both.

Differences from git, documented rather than matched:

- Conflict messages: only the ``CONFLICT (kind)`` tags are compared, and that the
  summary names every conflicted path (cof words modify/delete without git's
  "Version X of P left in tree." tail).
- ``log --graph`` with ``-n N`` orders the N newest commits topologically, where
  git orders the whole history first and then cuts it; without ``-n`` (compared
  here) the shapes agree.
- A file in the way of a checkout or merge (untracked, or tracked with local
  changes) that already is, byte for byte and exec bit, what would be written there:
  git refuses, cof goes ahead, since nothing can be lost, and a checkout or merge
  killed half-way leaves exactly such files (``test_switch_crash``).
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator

import pytest

from tests.integration.conftest import CofSandbox
from tests.integration.gitpair import GitPair, conflict_kinds

Files = dict[str, bytes | None]  # path -> new bytes, or None to delete it


@pytest.fixture
def pair(sandbox: CofSandbox) -> Iterator[GitPair]:
    yield GitPair(sandbox, "m")


def apply(pair: GitPair, files: Files) -> None:
    for path, data in files.items():
        if data is None:
            pair.delete(path)
        else:
            pair.write(path, data)


def commit_both(pair: GitPair, message: str) -> None:
    pair.both(["add", "-A"])
    pair.both(["commit", "-q", "-m", message], ["commit", "-q", "-m", message])
    pair.sync_refs()


def branch_side(pair: GitPair, base: Files, theirs: Files) -> None:
    """``base`` committed on main; ``side`` from it with ``theirs``; back on main."""
    apply(pair, base)
    commit_both(pair, "base")
    pair.both(["checkout", "-q", "-b", "side"], ["checkout", "-b", "side"])
    apply(pair, theirs)
    commit_both(pair, "theirs")
    pair.both(["checkout", "-q", "main"], ["checkout", "main"])


def fork(pair: GitPair, base: Files, ours: Files, theirs: Files) -> None:
    """base on main; ``side`` from it with ``theirs``; main gets ``ours``."""
    branch_side(pair, base, theirs)
    apply(pair, ours)
    commit_both(pair, "ours")


def merge_both(pair: GitPair, rev: str = "side", *flags: str) -> tuple[str, str]:
    """``merge REV`` in both; both must stop on conflicts (exit 1), name the same
    conflict kinds and leave the same files and status. Returns both outputs."""
    g = pair.git("merge", *flags, rev, check=False)
    c = pair.cof("merge", *flags, rev, check=False)
    assert g.returncode == 1, g.stdout + g.stderr
    assert c.returncode == 1, c.stdout + c.stderr
    assert conflict_kinds(c.stdout) == conflict_kinds(g.stdout), f"git:\n{g.stdout}cof:\n{c.stdout}"
    assert_same(pair)
    return g.stdout, c.stdout


def merge_clean(pair: GitPair, rev: str = "side", *flags: str) -> None:
    pair.both(["merge", *flags, rev])
    assert_same(pair)
    pair.sync_refs()
    pair.assert_same_graph()


def assert_same(pair: GitPair) -> None:
    pair.assert_same_tree()
    pair.assert_same_status()


def status(pair: GitPair) -> str:
    return pair.cof("status", "--porcelain").stdout


def read(pair: GitPair, path: str) -> bytes:
    return (pair.cof_root / path).read_bytes()


def lines(*items: str) -> bytes:
    return "".join(f"{item}\n" for item in items).encode()


BASE_TEXT = lines("one", "two", "three", "four", "five")


# --- content conflicts -------------------------------------------------------------------


def test_text_conflict_has_gits_markers(pair: GitPair) -> None:
    fork(
        pair,
        {"a.txt": BASE_TEXT},
        {"a.txt": lines("one", "two", "OURS", "four", "five")},
        {"a.txt": lines("one", "two", "THEIRS", "four", "five")},
    )
    _, out = merge_both(pair)
    assert status(pair) == "UU a.txt\n"
    assert read(pair, "a.txt") == lines(
        "one", "two", "<<<<<<< HEAD", "OURS", "=======", "THEIRS", ">>>>>>> side", "four", "five"
    )
    assert "CONFLICT (content): Merge conflict in a.txt" in out


def test_text_edits_apart_merge_cleanly(pair: GitPair) -> None:
    fork(
        pair,
        {"a.txt": BASE_TEXT, "mode.sh": b"#!/bin/sh\n"},
        {"a.txt": lines("ONE", "two", "three", "four", "five"), "mode.sh": b"#!/bin/sh\necho\n"},
        {"a.txt": lines("one", "two", "three", "four", "FIVE")},
    )
    pair.chmod("mode.sh", True)  # exec bit only on side: mode and content merge apart
    merge_clean(pair)
    assert read(pair, "a.txt") == lines("ONE", "two", "three", "four", "FIVE")


def test_binary_both_modified_keeps_ours(pair: GitPair) -> None:
    fork(
        pair,
        {"img.bin": b"\0base\0" * 10},
        {"img.bin": b"\0ours\0" * 10},
        {"img.bin": b"\0theirs\0" * 12},
    )
    _, out = merge_both(pair)
    assert status(pair) == "UU img.bin\n"
    assert read(pair, "img.bin") == b"\0ours\0" * 10
    assert "Cannot merge binary files: img.bin" in out


def test_modify_delete_keeps_modified_version(pair: GitPair) -> None:
    """Ours modifies, theirs deletes: UD; then the reverse: DU."""
    fork(
        pair,
        {"a.txt": BASE_TEXT, "b.txt": BASE_TEXT},
        {"a.txt": lines("ours", "edit"), "b.txt": None},
        {"a.txt": None, "b.txt": lines("theirs", "edit")},
    )
    _, out = merge_both(pair)
    assert status(pair) == "UD a.txt\nDU b.txt\n"
    assert read(pair, "a.txt") == lines("ours", "edit")
    assert read(pair, "b.txt") == lines("theirs", "edit")
    assert "CONFLICT (modify/delete): a.txt deleted in side and modified in HEAD" in out
    assert "CONFLICT (modify/delete): b.txt deleted in HEAD and modified in side" in out


def test_add_add_text_and_binary(pair: GitPair) -> None:
    fork(
        pair,
        {"base.txt": BASE_TEXT},
        {"new.txt": lines("same", "ours"), "new.bin": b"\0ours"},
        {"new.txt": lines("same", "theirs"), "new.bin": b"\0theirs"},
    )
    out_git, _ = merge_both(pair)
    assert status(pair) == "AA new.bin\nAA new.txt\n"
    assert read(pair, "new.txt") == lines(
        "same", "<<<<<<< HEAD", "ours", "=======", "theirs", ">>>>>>> side"
    )
    assert read(pair, "new.bin") == b"\0ours"
    assert conflict_kinds(out_git) == ["add/add", "add/add"]


def test_both_deleted_is_not_a_conflict(pair: GitPair) -> None:
    fork(
        pair,
        {"gone.txt": BASE_TEXT, "a.txt": BASE_TEXT, "b.txt": BASE_TEXT},
        {"gone.txt": None, "a.txt": lines("ours")},
        {"gone.txt": None, "b.txt": lines("theirs")},
    )
    merge_clean(pair)
    assert not (pair.cof_root / "gone.txt").exists()
    assert status(pair) == ""


# --- file/directory ------------------------------------------------------------------


def test_file_on_our_side_directory_on_theirs(pair: GitPair) -> None:
    """git moves our file aside to ``x~HEAD`` (AU) and takes their directory."""
    fork(pair, {"base.txt": BASE_TEXT}, {"x": b"file\n"}, {"x/y": b"in dir\n"})
    merge_both(pair)
    assert read(pair, "x~HEAD") == b"file\n"
    assert read(pair, "x/y") == b"in dir\n"


def test_directory_on_our_side_file_on_theirs(pair: GitPair) -> None:
    """git keeps our directory and writes their file as ``x~side`` (UA)."""
    fork(pair, {"base.txt": BASE_TEXT}, {"x/y": b"in dir\n"}, {"x": b"file\n"})
    merge_both(pair)
    assert read(pair, "x~side") == b"file\n"
    assert read(pair, "x/y") == b"in dir\n"


# --- criss-cross -------------------------------------------------------------------------


def test_criss_cross_merge_matches_git(pair: GitPair) -> None:
    """Two best common ancestors (each branch merged the other): the merge is clean,
    deterministic, and equal to git's."""
    fork(
        pair,
        {"a.txt": BASE_TEXT, "c.txt": lines("c1", "c2", "c3", "c4", "c5")},
        {"a.txt": lines("ONE", "two", "three", "four", "five")},
        {"a.txt": lines("one", "two", "three", "four", "FIVE")},
    )
    # main merges side; side merges main's pre-merge commit: the criss-cross.
    pair.both(["branch", "main-before"])
    pair.sync_refs()
    merge_clean(pair, "side", "--no-ff")
    pair.both(["checkout", "-q", "side"], ["checkout", "side"])
    merge_clean(pair, "main-before", "--no-ff")
    apply(pair, {"c.txt": lines("c1", "c2", "c3", "c4", "SIDE")})
    commit_both(pair, "side after criss-cross")
    pair.both(["checkout", "-q", "main"], ["checkout", "main"])
    apply(pair, {"c.txt": lines("MAIN", "c2", "c3", "c4", "c5")})
    commit_both(pair, "main after criss-cross")
    bases = pair.git("merge-base", "--all", "main", "side").stdout.split()
    assert len(bases) == 2  # the history really is criss-cross
    merge_clean(pair)
    assert read(pair, "c.txt") == lines("MAIN", "c2", "c3", "c4", "SIDE")
    assert read(pair, "a.txt") == lines("ONE", "two", "three", "four", "FIVE")


# --- stopping, aborting, continuing ------------------------------------------------------


def conflicted_with_local_changes(pair: GitPair) -> None:
    fork(
        pair,
        {"a.txt": BASE_TEXT, "local.txt": BASE_TEXT},
        {"a.txt": lines("ours")},
        {"a.txt": lines("theirs"), "clean.txt": lines("from side")},
    )
    # Local changes the merge does not touch: an unstaged edit, an untracked file.
    pair.write("local.txt", lines("edited", "not staged"))
    pair.write("untracked.txt", lines("untracked"))
    assert_same(pair)


def test_merge_abort_restores_pre_merge_tree_keeping_local_changes(pair: GitPair) -> None:
    conflicted_with_local_changes(pair)
    before = status(pair)
    merge_both(pair)
    assert (pair.cof_root / "clean.txt").exists()
    pair.both(["merge", "--abort"])
    assert_same(pair)
    assert status(pair) == before == " M local.txt\n?? untracked.txt\n"
    assert read(pair, "a.txt") == lines("ours")
    assert not (pair.cof_root / "clean.txt").exists()
    assert read(pair, "local.txt") == lines("edited", "not staged")
    pair.sync_refs()
    assert pair.cof("merge", "--abort", check=False).returncode != 0  # nothing to abort


def test_continue_and_commit_refused_while_conflicts_remain(pair: GitPair) -> None:
    conflicted_with_local_changes(pair)
    merge_both(pair)
    pair.both(["merge", "--continue"])  # both must fail
    assert pair.cof("merge", "--continue", check=False).returncode != 0
    pair.both(["commit", "-q", "-m", "too early"], ["commit", "-q", "-m", "too early"])
    assert pair.cof("commit", "-m", "too early", check=False).returncode != 0
    assert_same(pair)
    assert status(pair) == "UU a.txt\nA  clean.txt\n M local.txt\n?? untracked.txt\n"
    pair.both(["checkout", "--theirs", "--", "a.txt"], ["checkout", "--theirs", "a.txt"])
    assert_same(pair)
    assert read(pair, "a.txt") == lines("theirs")
    pair.both(["add", "a.txt"])
    assert_same(pair)
    pair.both(["merge", "--continue"])
    assert_same(pair)
    pair.sync_refs()
    pair.assert_same_graph()
    assert len(pair.cof_graph()[pair.cof_of[pair.git_order[-1]]]) == 2


def test_resolving_with_ours_then_commit(pair: GitPair) -> None:
    fork(pair, {"a.bin": b"\0a"}, {"a.bin": b"\0ours"}, {"a.bin": b"\0theirs"})
    merge_both(pair)
    pair.both(["checkout", "--ours", "--", "a.bin"], ["checkout", "--ours", "a.bin"])
    pair.both(["add", "a.bin"])
    assert_same(pair)
    pair.both(["commit", "-q", "-m", "resolved"], ["commit", "-q", "-m", "resolved"])
    assert_same(pair)
    pair.sync_refs()
    pair.assert_same_graph()


def test_summary_names_every_conflicted_path(pair: GitPair) -> None:
    fork(
        pair,
        {"text.txt": BASE_TEXT, "img.bin": b"\0b", "md.txt": BASE_TEXT, "dm.txt": BASE_TEXT},
        {
            "text.txt": lines("ours"),
            "img.bin": b"\0o",
            "md.txt": lines("ours"),
            "dm.txt": None,
            "aa.txt": lines("ours"),
        },
        {
            "text.txt": lines("theirs"),
            "img.bin": b"\0t",
            "md.txt": None,
            "dm.txt": lines("theirs"),
            "aa.txt": lines("theirs"),
        },
    )
    _, out = merge_both(pair)
    conflicted = ["aa.txt", "dm.txt", "img.bin", "md.txt", "text.txt"]
    assert pair.unmerged() == conflicted
    for path in conflicted:
        assert re.search(rf"CONFLICT \([^)]+\): .*\b{re.escape(path)}\b", out), (path, out)
    assert "Automatic merge failed" in out


# --- the graph ---------------------------------------------------------------------------


def graph_shape(output: str) -> list[str]:
    """The graph characters of ``log --graph --oneline``, without ids and messages."""
    return [re.sub(r"[0-9a-f]{7,}.*$", "", line).rstrip() for line in output.splitlines()]


def test_log_graph_shape_matches_git(pair: GitPair) -> None:
    """Commit times one second apart, so both order the commits the same way."""

    def commit(message: str, files: Files) -> None:
        time.sleep(1.05)
        apply(pair, files)
        commit_both(pair, message)

    commit("base", {"a.txt": BASE_TEXT})
    pair.both(["checkout", "-q", "-b", "side"], ["checkout", "-b", "side"])
    commit("side 1", {"s.txt": lines("s1")})
    pair.both(["checkout", "-q", "main"], ["checkout", "main"])
    commit("main 1", {"m.txt": lines("m1")})
    time.sleep(1.05)
    merge_clean(pair, "side", "--no-ff")
    commit("main 2", {"m.txt": lines("m2")})
    g = pair.git("log", "--graph", "--oneline").stdout
    c = pair.cof("log", "--graph", "--oneline").stdout
    assert graph_shape(c) == graph_shape(g), f"git:\n{g}cof:\n{c}"


def test_checkout_ends_a_resolved_merge_and_refuses_an_unresolved_one(pair: GitPair) -> None:
    """git's checkout forgets a merge in progress (even 'checkout CURRENT'), keeping
    the resolution staged; with unmerged paths it refuses, even for the current
    branch."""
    fork(pair, {"a.txt": BASE_TEXT}, {"a.txt": lines("ours")}, {"a.txt": lines("theirs")})
    pair.both(["branch", "other"])
    merge_both(pair)
    pair.both(["checkout", "-q", "main"], ["checkout", "main"])  # both refuse
    pair.both(["checkout", "-q", "other"], ["checkout", "other"])  # both refuse
    assert_same(pair)
    pair.write("a.txt", lines("resolved"))
    pair.both(["add", "a.txt"])
    pair.both(["checkout", "-q", "main"], ["checkout", "main"])  # already on main
    assert not (pair.cof_root / ".cof" / "MERGE_HEAD").exists()
    assert not pair.merging()
    pair.both(["checkout", "-q", "other"], ["checkout", "other"])  # carries a.txt along
    assert_same(pair)
    assert status(pair) == "M  a.txt\n"
    pair.both(["commit", "-q", "-m", "not a merge"], ["commit", "-q", "-m", "not a merge"])
    pair.sync_refs()
    pair.assert_same_graph()
    assert len(pair.cof_graph()[pair.cof_of[pair.git_order[-1]]]) == 1


# --- a file where the other side needs a directory ----------------------------------------


def _side_adds_sub_x(pair: GitPair) -> None:
    """main with a.txt; ``side`` from it adds ``sub/x``; back on main."""
    apply(pair, {"a.txt": BASE_TEXT})
    commit_both(pair, "base")
    pair.both(["checkout", "-q", "-b", "side"], ["checkout", "-b", "side"])
    apply(pair, {"sub/x": b"in dir\n"})
    commit_both(pair, "theirs")
    pair.both(["checkout", "-q", "main"], ["checkout", "main"])


@pytest.mark.parametrize("how", ["checkout", "fast-forward", "three-way"])
def test_untracked_file_where_a_directory_comes_is_refused_as_git_does(
    pair: GitPair, how: str
) -> None:
    """``side`` adds ``sub/x``; main has an untracked file ``sub``. git refuses to
    switch or merge ("untracked working tree files would be overwritten"); cof used to
    delete the file to make the directory, and report success."""
    _side_adds_sub_x(pair)
    if how == "three-way":
        apply(pair, {"m.txt": b"ours\n"})
        commit_both(pair, "ours")
    pair.write("sub", b"PRECIOUS\n")
    if how == "checkout":
        g, c = pair.both(["checkout", "-q", "side"], ["checkout", "side"])
    else:
        g, c = pair.both(["merge", "side"])
    assert g.returncode != 0 and c.returncode != 0
    assert "untracked working tree files" in c.stderr and "sub" in c.stderr
    assert read(pair, "sub") == b"PRECIOUS\n"
    assert_same(pair)


def test_staged_file_where_a_directory_comes_is_refused(pair: GitPair) -> None:
    """A file only the staging area knows (added, never committed) is local work."""
    _side_adds_sub_x(pair)
    pair.write("sub", b"STAGED\n")
    pair.both(["add", "sub"])
    g, c = pair.both(["checkout", "-q", "side"], ["checkout", "side"])
    assert g.returncode != 0 and c.returncode != 0
    assert read(pair, "sub") == b"STAGED\n"
    assert_same(pair)


def test_tracked_file_replaced_by_a_directory_switches(pair: GitPair) -> None:
    """The file the switch itself removes is not in the way of the directory."""
    apply(pair, {"sub": b"file\n"})
    commit_both(pair, "base")
    pair.both(["checkout", "-q", "-b", "side"], ["checkout", "-b", "side"])
    apply(pair, {"sub": None, "sub/x": b"in dir\n"})
    commit_both(pair, "theirs")
    pair.both(["checkout", "-q", "main"], ["checkout", "main"])
    pair.both(["checkout", "-q", "side"], ["checkout", "side"])
    assert read(pair, "sub/x") == b"in dir\n"
    assert_same(pair)
    pair.both(["checkout", "-q", "main"], ["checkout", "main"])
    assert read(pair, "sub") == b"file\n"
    assert_same(pair)


def test_directory_holding_untracked_files_does_not_become_a_file(pair: GitPair) -> None:
    """main has ``p/f`` tracked; ``side`` has a file ``p``. With an untracked ``p/u``
    inside, git refuses the switch; cof too, and ``--force`` (which keeps untracked
    files) refuses up front instead of failing half-way with ``p/f`` deleted."""
    apply(pair, {"p/f": b"tracked\n"})
    commit_both(pair, "base")
    pair.both(["checkout", "-q", "-b", "side"], ["checkout", "-b", "side"])
    pair.delete("p/f")
    for root in (pair.git_root, pair.cof_root):
        (root / "p").rmdir()
    pair.write("p", b"now a file\n")
    commit_both(pair, "theirs")
    pair.both(["checkout", "-q", "main"], ["checkout", "main"])
    pair.write("p/u", b"untracked\n")
    g, c = pair.both(["checkout", "-q", "side"], ["checkout", "side"])
    assert g.returncode != 0 and "p/u" in c.stderr
    forced = pair.cof("checkout", "--force", "side", check=False)
    assert forced.returncode == 7, forced.stderr
    assert forced.stderr == (
        "cof: cannot replace the directory 'p' with a file: it holds untracked 'p/u' "
        "(move or remove it first)\n"
    )
    assert read(pair, "p/f") == b"tracked\n" and read(pair, "p/u") == b"untracked\n"
    assert_same(pair)
    pair.delete("p/u")
    pair.both(["checkout", "-q", "side"], ["checkout", "side"])
    assert read(pair, "p") == b"now a file\n"
    assert_same(pair)


# --- staging a path where the index has a file or a directory -----------------------------


def test_a_directory_replacing_a_staged_file_makes_a_sound_commit(pair: GitPair) -> None:
    """``p`` committed as a file, then replaced by ``p/f`` and ``add p/f``: git's index
    drops ``p``; cof kept both and wrote a corrupt tree ("entries are not sorted and
    unique"), after which status and show failed."""
    apply(pair, {"p": b"file\n"})
    commit_both(pair, "file")
    pair.delete("p")
    pair.write("p/f", b"in dir\n")
    pair.both(["add", "p/f"])
    assert_same(pair)
    pair.both(["commit", "-q", "-m", "dir"])
    pair.sync_refs()
    assert_same(pair)
    pair.cof("fsck")
    # And back: the file p displaces the staged p/f.
    pair.delete("p/f")
    for root in (pair.git_root, pair.cof_root):
        (root / "p").rmdir()
    pair.write("p", b"file again\n")
    pair.both(["add", "p"])
    assert_same(pair)
    pair.both(["commit", "-q", "-m", "file again"])
    pair.sync_refs()
    pair.assert_same_graph()
    pair.cof("fsck")


def test_adding_a_path_beyond_a_symlink_is_refused_as_git_does(pair: GitPair) -> None:
    """``link -> real``: ``add link/f`` would store a file read through the link (it
    could point anywhere on the machine) beside the link itself."""
    apply(pair, {"real/f": b"r\n"})
    for root in (pair.git_root, pair.cof_root):
        (root / "link").symlink_to("real")
    g, c = pair.both(["add", "link/f"])
    assert g.returncode != 0 and c.returncode == 5
    assert c.stderr == "cof: 'link/f' is beyond a symbolic link ('link')\n"
    pair.both(["add", "-A"])
    assert_same(pair)


# --- what a checkout or merge killed half-way leaves in the way ---------------------------

HOW = ["checkout", "fast-forward", "three-way"]


def _side_changes(pair: GitPair, how: str, base: Files, theirs: Files) -> None:
    """``base`` on main; ``side`` from it with ``theirs``; back on main, with a
    commit of its own for a three-way merge."""
    branch_side(pair, base, theirs)
    if how == "three-way":
        apply(pair, {"m.txt": b"ours\n"})
        commit_both(pair, "ours")


def _take_side(how: str) -> tuple[list[str], list[str]]:
    """git's and cof's command for going to ``side`` the way ``how`` says."""
    if how == "checkout":
        return ["checkout", "-q", "side"], ["checkout", "side"]
    return ["merge", "side"], ["merge", "side"]


def _git_follows(pair: GitPair, how: str, undo: list[str]) -> None:
    """git refused where cof went ahead: run git's command again after ``undo``
    (a git command discarding what was in its way), then compare the results."""
    git_args, _ = _take_side(how)
    refused = pair.git(*git_args, check=False)
    assert refused.returncode != 0, refused.stdout
    pair.git(*undo)
    pair.git(*git_args)
    assert_same(pair)
    pair.sync_refs()


@pytest.mark.parametrize("how", HOW)
def test_untracked_file_is_in_the_way_only_where_it_differs(pair: GitPair, how: str) -> None:
    """``side`` adds same.bin and differs.bin; main has both untracked: same.bin
    byte-identical, differs.bin of the same size with other bytes. git refuses for
    both; cof for differs.bin only (before, for both, which made running a killed
    checkout again fail), and without differs.bin it goes ahead."""
    same, mine, theirs = b"s" * 9000, b"m" * 9000, b"t" * 9000
    _side_changes(pair, how, {"a.txt": b"a\n"}, {"same.bin": same, "differs.bin": theirs})
    pair.write("same.bin", same)
    pair.write("differs.bin", mine)
    git_args, cof_args = _take_side(how)
    g, c = pair.both(git_args, cof_args)
    assert g.returncode != 0 and c.returncode == 7
    assert "same.bin" in g.stderr and "differs.bin" in g.stderr
    assert "untracked working tree files" in c.stderr
    assert "differs.bin" in c.stderr and "same.bin" not in c.stderr
    assert read(pair, "differs.bin") == mine
    assert_same(pair)

    pair.delete("differs.bin")
    pair.cof(*cof_args)
    assert read(pair, "same.bin") == same and read(pair, "differs.bin") == theirs
    assert status(pair) == ""
    _git_follows(pair, how, ["clean", "-q", "-f", "same.bin"])


@pytest.mark.parametrize("how", HOW)
def test_a_deleted_file_the_other_side_changes_is_not_in_the_way(pair: GitPair, how: str) -> None:
    """As git: a tracked file deleted from the working tree loses nothing when the
    checkout or merge rewrites or removes it (a kill leaves deleted files too). A
    directory in its place is in the way of the file. (git's three-way merge refuses
    too, but only after replacing the directory, untracked file and all, by HEAD's
    file; so there it runs on cof alone.)"""
    base = {"a.txt": b"a\n", "changed.txt": b"old\n", "removed.txt": b"r\n"}
    _side_changes(pair, how, base, {"changed.txt": b"new\n", "removed.txt": None})
    pair.delete("changed.txt")
    pair.delete("removed.txt")
    git_args, cof_args = _take_side(how)
    roots = [pair.cof_root] if how == "three-way" else [pair.git_root, pair.cof_root]
    for root in roots:
        (root / "changed.txt").mkdir()
        (root / "changed.txt" / "u").write_bytes(b"untracked\n")
    c = pair.cof(*cof_args, check=False)
    assert c.returncode == 7 and "changed.txt" in c.stderr
    assert read(pair, "changed.txt/u") == b"untracked\n"
    if how != "three-way":
        assert pair.git(*git_args, check=False).returncode != 0
        pair.assert_same_tree()  # (git's status does not list the untracked changed.txt/u)
    for root in roots:
        shutil.rmtree(root / "changed.txt")

    _, c = pair.both(git_args, cof_args)
    assert c.returncode == 0, c.stderr
    assert read(pair, "changed.txt") == b"new\n"
    assert_same(pair)
    pair.sync_refs()


@pytest.mark.parametrize("how", HOW)
def test_a_local_change_already_equal_to_the_other_side_is_not_in_the_way(
    pair: GitPair, how: str
) -> None:
    """A tracked file changed locally to exactly the version coming in: cof goes
    ahead (git refuses). The same bytes with another exec bit are still a local
    change, refused by both."""
    _side_changes(pair, how, {"a.txt": b"a\n", "f.bin": b"old"}, {"f.bin": b"new"})
    pair.write("f.bin", b"new")
    pair.chmod("f.bin", executable=True)
    git_args, cof_args = _take_side(how)
    g, c = pair.both(git_args, cof_args)
    assert g.returncode != 0 and c.returncode == 7
    assert "local changes" in c.stderr and "f.bin" in c.stderr
    assert_same(pair)

    pair.chmod("f.bin", executable=False)
    pair.cof(*cof_args)
    assert read(pair, "f.bin") == b"new" and status(pair) == ""
    _git_follows(pair, how, ["checkout", "-q", "--", "f.bin"])
