"""``cof add -u`` / ``--update`` against git's ``add -u``: modified and deleted
tracked files are staged, under the given paths or everywhere; new files stay
untracked; ``-A`` with ``-u`` and a path matching nothing are refused. And
``add -f``: ignored files under the paths are added too, as git adds them."""

from __future__ import annotations

import subprocess

from tests.integration.gitpair import GIT_OPTIONS, GitPair
from tests.integration.test_everyday_options_vs_git import assert_fails_one_line
from tests.integration.test_merge_conflicts import apply, commit_both, pair

__all__ = ["pair"]  # a fixture, used by name


def test_add_update_stages_tracked_changes_only(pair: GitPair) -> None:
    apply(pair, {"a.txt": b"a\n", "b.txt": b"b\n", "d/t.txt": b"t\n", "e/x.txt": b"x\n"})
    commit_both(pair, "base")
    apply(pair, {"a.txt": b"a2\n", "d/t.txt": b"t2\n", "d/new.txt": b"n\n", "top.txt": b"t\n"})
    pair.delete("b.txt")
    pair.delete("e/x.txt")

    pair.both(["add", "-u", "d"])  # only under d/, and not d/new.txt
    pair.assert_same_status()
    assert "M  d/t.txt" in pair.cof("status", "--porcelain").stdout
    pair.both(["add", "-u", "top.txt"])  # untracked: nothing to do, no error
    pair.assert_same_status()

    assert_fails_one_line(pair.cof("add", "-u", "nowhere", check=False), "nowhere")
    assert pair.git("add", "-u", "nowhere", check=False).returncode != 0
    assert_fails_one_line(pair.cof("add", "-A", "-u", check=False), "-A", "-u")
    assert pair.git("add", "-A", "-u", check=False).returncode != 0

    pair.both(["add", "--update"])  # the whole tree: a.txt, b.txt and e/x.txt too
    pair.assert_same_status()
    status = pair.cof("status", "--porcelain").stdout.splitlines()
    assert status == [
        "M  a.txt",
        "D  b.txt",
        "M  d/t.txt",
        "D  e/x.txt",
        "?? d/new.txt",
        "?? top.txt",
    ], status
    pair.both(["commit", "-q", "-m", "tracked only"])
    pair.sync_refs()
    pair.assert_same_graph()
    pair.assert_same_status()


def test_add_force_adds_ignored_files_under_the_paths(pair: GitPair) -> None:
    """``add -f`` adds the ignored files under its paths, the whole tree's for ``.``
    at the top and for ``-A -f``, as git's (the rules twice: .gitignore for git,
    .cofignore for cof)."""
    rules = b"*.log\nbuild/\n"
    apply(pair, {".gitignore": rules, ".cofignore": rules, "a.txt": b"a\n"})
    commit_both(pair, "base")
    ignored = {"x.log": b"l\n", "build/o": b"o\n", "build/sub/p.log": b"p\n", "d/y.log": b"y\n"}
    apply(pair, {**ignored, "d/z.txt": b"z\n", "new.txt": b"n\n"})

    pair.both(["add", "-f", "build/"])  # an ignored directory, named with its slash
    pair.assert_same_status()
    subprocess.run(  # "." from a subdirectory: its ignored files, nothing above
        ["git", *GIT_OPTIONS, "add", "-f", "."],
        cwd=pair.git_root / "d",
        env=pair.git_env,
        check=True,
    )
    pair.sandbox.cof("add", "-f", ".", cwd=pair.cof_root / "d")
    pair.assert_same_status()
    assert "A  d/y.log" in pair.cof("status", "--porcelain").stdout
    pair.both(["add", "-f", "."])  # the whole tree: x.log at the top too
    pair.assert_same_status()
    status = pair.cof("status", "--porcelain").stdout
    assert all(f"A  {path}\n" in status for path in [*ignored, "new.txt"]), status
    commit_both(pair, "forced")

    apply(pair, {"more.log": b"m\n", "build/q": b"q\n", "a.txt": b"a2\n"})
    pair.both(["add", "-A", "-f"])
    pair.assert_same_status()
    assert pair.cof("status", "--porcelain").stdout == "M  a.txt\nA  build/q\nA  more.log\n"
