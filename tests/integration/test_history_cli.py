"""History through the real CLI and daemon (issue 3), happy paths: branches,
checkout (what it writes, keeps and refuses), tags, ``log`` ranges / paths / graph,
``diff --stat`` / ``--name-status`` and the reflog with ``BRANCH@{N}``."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.integration.treekit import commit, listing, write

if TYPE_CHECKING:
    from conftest import CofRunner, CofSandbox

AUTHOR = {"COF_AUTHOR_NAME": "Hist Ory", "COF_AUTHOR_EMAIL": "hist@example.com"}
BLOCK = 4096


@pytest.fixture
def repo(sandbox: CofSandbox, cof: CofRunner) -> Path:
    """An initialised, empty repository with an author configured."""
    sandbox.env.update(AUTHOR)
    cof("init")
    return sandbox.work


def head_id(cof: CofRunner, rev: str = "HEAD") -> str:
    return json.loads(cof("show", rev, "--json").stdout)["id"]


def branches(cof: CofRunner) -> list[str]:
    return cof("branch").stdout.splitlines()


def porcelain(cof: CofRunner) -> list[str]:
    return cof("status", "--porcelain").stdout.splitlines()


def tree_listing(root: Path) -> dict[str, str]:
    """Every path under ``root`` except ``.cof``: file contents, link targets, dirs."""
    return listing(root, lambda path: path.read_bytes().decode(errors="replace"), skip=".cof")


# -- branch ------------------------------------------------------------------------


def test_branch_list_create_at_start_delete_and_rename(repo: Path, cof: CofRunner) -> None:
    write(repo, "a.txt", "one\n")
    first = commit(cof, "first")
    write(repo, "a.txt", "two\n")
    second = commit(cof, "second")
    assert branches(cof) == ["* main"]

    cof("branch", "old", first)  # at START
    cof("branch", "same")  # at HEAD
    assert branches(cof) == ["* main", "  old", "  same"]
    listed = {b["name"]: b for b in json.loads(cof("branch", "--json").stdout)["branches"]}
    assert listed["old"]["commit"] == first and not listed["old"]["current"]
    assert listed["same"]["commit"] == second and listed["main"]["current"]
    verbose = cof("branch", "-v").stdout
    # Names padded to the longest, as git's -v.
    assert f"  old  {first[:12]} first" in verbose and f"* main {second[:12]} second" in verbose

    # 'old' is an ancestor of HEAD, so merged: -d deletes it.
    cof("branch", "-d", "old")
    # An unmerged branch: -d refuses, names -D, and keeps it; -D deletes.
    cof("checkout", "-b", "topic")
    write(repo, "t.txt", "topic\n")
    topic = commit(cof, "topic work")
    cof("checkout", "main")
    refused = cof("branch", "-d", "topic", check=False)
    assert refused.returncode != 0
    assert refused.stderr.startswith("cof: ") and "not fully merged" in refused.stderr
    assert "-D" in refused.stderr
    assert "  topic" in branches(cof)
    deleted = cof("branch", "-D", "topic")
    assert topic[:12] in deleted.stdout
    assert branches(cof) == ["* main", "  same"]

    # Rename a branch that is not checked out.
    cof("branch", "-m", "same", "renamed")
    assert branches(cof) == ["* main", "  renamed"]
    assert head_id(cof, "renamed") == second

    # Rename the current branch: HEAD follows, and the next commit lands on it.
    cof("branch", "-m", "main", "trunk")
    assert branches(cof) == ["  renamed", "* trunk"]
    assert cof("status").stdout.startswith("On branch trunk")
    write(repo, "a.txt", "three\n")
    third = commit(cof, "third")
    assert head_id(cof, "trunk") == third
    assert cof("log", "--oneline", "-n", "1").stdout.startswith(f"{third[:12]} (HEAD -> trunk)")


def test_checkout_branch_detached_and_new_branch(repo: Path, cof: CofRunner) -> None:
    write(repo, "a.txt", "one\n")
    first = commit(cof, "first")
    write(repo, "a.txt", "two\n")
    second = commit(cof, "second")

    switched = cof("checkout", "-b", "feature")
    assert "Switched to a new branch 'feature'" in switched.stderr
    assert branches(cof) == ["* feature", "  main"]
    assert head_id(cof, "feature") == second

    cof("checkout", "-b", "from-first", first)  # -b NAME START
    assert (repo / "a.txt").read_text() == "one\n"
    assert head_id(cof, "from-first") == first
    assert cof("status").stdout.startswith("On branch from-first")

    cof("checkout", "main")
    assert (repo / "a.txt").read_text() == "two\n"
    assert cof("status").stdout.startswith("On branch main")

    # A commit id detaches HEAD; status and branch say so.
    detached = cof("checkout", first)
    assert f"HEAD is now at {first[:12]} first" in detached.stderr
    assert (repo / "a.txt").read_text() == "one\n"
    assert cof("status").stdout.startswith(f"HEAD detached at {first[:12]}")
    assert branches(cof)[0] == f"* (HEAD detached at {first[:12]})"
    assert head_id(cof) == first

    # --detach on a branch name: named by the branch's full name, as git.
    cof("checkout", "--detach", "main")
    assert head_id(cof) == second
    assert cof("status").stdout.startswith("HEAD detached at refs/heads/main\n")
    assert (repo / "a.txt").read_text() == "two\n"
    cof("checkout", "main")
    assert cof("status").stdout.startswith("On branch main")


def test_checkout_writes_only_files_that_differ(repo: Path, cof: CofRunner) -> None:
    for i in range(40):
        write(repo, f"same/f{i:02d}.bin", os.urandom(3 * BLOCK + i))
    write(repo, "changes.bin", b"main version\n" * 100)
    commit(cof, "base")
    cof("checkout", "-b", "other")
    write(repo, "changes.bin", b"other version\n" * 100)
    commit(cof, "changed one file")

    def identity(path: Path) -> tuple[int, int, int]:
        st = path.stat()
        return st.st_ino, st.st_mtime_ns, st.st_ctime_ns

    before = {p: identity(p) for p in (repo / "same").iterdir()}
    changed_before = identity(repo / "changes.bin")
    cof("checkout", "main")
    assert (repo / "changes.bin").read_bytes() == b"main version\n" * 100
    assert identity(repo / "changes.bin") != changed_before
    cof("checkout", "other")
    assert (repo / "changes.bin").read_bytes() == b"other version\n" * 100
    # Identical files were neither rewritten nor replaced (same inode, mtime, ctime).
    assert {p: identity(p) for p in (repo / "same").iterdir()} == before
    assert porcelain(cof) == []


def test_checkout_removes_files_and_emptied_directories(repo: Path, cof: CofRunner) -> None:
    write(repo, "keep.txt", "keep\n")
    commit(cof, "base")
    cof("checkout", "-b", "deep")
    write(repo, "gone/sub/deeper/x.bin", b"x")
    write(repo, "gone/sub/y.bin", b"y")
    write(repo, "shared/only-here.bin", b"z")
    write(repo, "shared/untracked-neighbour.bin", b"u")
    cof("add", "gone", "shared/only-here.bin")
    cof("commit", "-q", "-m", "deep tree")

    cof("checkout", "main")
    # Everything 'main' lacks is gone, emptied directories too; the directory still
    # holding an untracked file stays, with it.
    assert tree_listing(repo) == {
        "keep.txt": "keep\n",
        "shared": "dir",
        "shared/untracked-neighbour.bin": "u",
    }
    cof("checkout", "deep")
    assert (repo / "gone/sub/deeper/x.bin").read_bytes() == b"x"
    assert (repo / "shared/only-here.bin").read_bytes() == b"z"


def test_checkout_preserves_exec_bits_and_symlinks(repo: Path, cof: CofRunner) -> None:
    write(repo, "plain.txt", "plain\n")
    commit(cof, "base")
    cof("checkout", "-b", "tools")
    script = write(repo, "bin/run.sh", "#!/bin/sh\necho hi\n")
    script.chmod(0o755)
    (repo / "link").symlink_to("plain.txt")
    (repo / "bin/dirlink").symlink_to("../bin")
    (repo / "dangling").symlink_to("does/not/exist")
    commit(cof, "tools")

    cof("checkout", "main")
    assert not (repo / "bin").exists() and not os.path.lexists(repo / "link")
    assert not os.path.lexists(repo / "dangling")
    cof("checkout", "tools")
    mode = (repo / "bin/run.sh").stat().st_mode
    assert mode & stat.S_IXUSR and stat.S_ISREG(mode)
    assert not (repo / "plain.txt").stat().st_mode & stat.S_IXUSR
    assert os.readlink(repo / "link") == "plain.txt"
    assert os.readlink(repo / "bin/dirlink") == "../bin"
    assert os.readlink(repo / "dangling") == "does/not/exist"
    assert porcelain(cof) == []

    # A mode-only change between branches is applied by a switch too.
    cof("checkout", "-b", "noexec")
    (repo / "bin/run.sh").chmod(0o644)
    commit(cof, "not executable")
    cof("checkout", "tools")
    assert (repo / "bin/run.sh").stat().st_mode & stat.S_IXUSR
    cof("checkout", "noexec")
    assert not (repo / "bin/run.sh").stat().st_mode & stat.S_IXUSR


def test_checkout_keeps_local_changes_that_do_not_conflict(repo: Path, cof: CofRunner) -> None:
    write(repo, "shared.txt", "shared\n")
    write(repo, "differs.txt", "main\n")
    write(repo, "staged.txt", "staged base\n")
    commit(cof, "base")
    cof("checkout", "-b", "other")
    write(repo, "differs.txt", "other\n")
    commit(cof, "other")
    cof("checkout", "main")

    # Local changes only to paths the switch does not touch: kept, as git keeps them.
    write(repo, "shared.txt", "edited locally\n")
    write(repo, "staged.txt", "staged change\n")
    cof("add", "staged.txt")
    write(repo, "new-untracked.txt", "untracked\n")
    write(repo, "new-staged.txt", "added\n")
    cof("add", "new-staged.txt")
    expected = [" M shared.txt", "A  new-staged.txt", "M  staged.txt", "?? new-untracked.txt"]
    assert sorted(porcelain(cof)) == sorted(expected)

    cof("checkout", "other")
    assert (repo / "differs.txt").read_text() == "other\n"
    assert (repo / "shared.txt").read_text() == "edited locally\n"
    assert (repo / "staged.txt").read_text() == "staged change\n"
    assert (repo / "new-untracked.txt").read_text() == "untracked\n"
    assert sorted(porcelain(cof)) == sorted(expected)
    cof("checkout", "main")
    assert (repo / "differs.txt").read_text() == "main\n"
    assert sorted(porcelain(cof)) == sorted(expected)


def test_checkout_refuses_conflicting_changes_and_force_discards(
    repo: Path, cof: CofRunner
) -> None:
    write(repo, "a.txt", "main a\n")
    write(repo, "b.txt", "main b\n")
    write(repo, "c.txt", "main c\n")
    commit(cof, "base")
    cof("checkout", "-b", "other")
    write(repo, "a.txt", "other a\n")
    write(repo, "b.txt", "other b\n")
    write(repo, "new.txt", "other new\n")
    commit(cof, "other")
    cof("checkout", "main")

    write(repo, "a.txt", "local a\n")  # unstaged, the switch changes a.txt
    write(repo, "b.txt", "local b\n")  # staged, the switch changes b.txt
    cof("add", "b.txt")
    write(repo, "c.txt", "local c\n")  # not in the way
    refused = cof("checkout", "other", check=False)
    assert refused.returncode == 7, refused.stderr
    assert refused.stderr.startswith("cof: ") and refused.stderr.count("\n") == 1
    assert "a.txt" in refused.stderr and "b.txt" in refused.stderr
    assert "c.txt" not in refused.stderr
    assert (repo / "a.txt").read_text() == "local a\n"
    assert cof("status").stdout.startswith("On branch main")

    # An untracked file where the target has one: refused, named, left alone.
    (repo / "a.txt").write_text("main a\n")
    cof("restore", "--staged", "--worktree", "b.txt")
    write(repo, "new.txt", "precious\n")
    refused = cof("checkout", "other", check=False)
    assert refused.returncode == 7 and "new.txt" in refused.stderr
    assert "untracked" in refused.stderr
    assert (repo / "new.txt").read_text() == "precious\n"

    # --force discards the local changes in the way.
    write(repo, "a.txt", "local a again\n")
    cof("checkout", "--force", "other")
    assert (repo / "a.txt").read_text() == "other a\n"
    assert (repo / "b.txt").read_text() == "other b\n"
    assert (repo / "new.txt").read_text() == "other new\n"
    assert cof("status").stdout.startswith("On branch other")
    # As git's checkout --force: local changes to every tracked file are discarded.
    assert (repo / "c.txt").read_text() == "main c\n"
    assert porcelain(cof) == []


# -- tag -----------------------------------------------------------------------------


def test_tags_lightweight_annotated_list_delete_and_decorations(repo: Path, cof: CofRunner) -> None:
    write(repo, "a.txt", "1\n")
    first = commit(cof, "first")
    write(repo, "a.txt", "2\n")
    second = commit(cof, "second")

    cof("tag", "v1", first)
    cof("tag", "-a", "v2", "-m", "release two")
    cof("tag", "light")
    assert cof("tag").stdout.splitlines() == ["light", "v1", "v2"]
    tags = {t["name"]: t for t in json.loads(cof("tag", "--json").stdout)}
    assert tags["v1"] == {"name": "v1", "commit": first, "annotated": False}
    assert tags["v2"] == {"name": "v2", "commit": second, "annotated": True}
    assert tags["light"]["commit"] == second and not tags["light"]["annotated"]

    # Tags name revisions (an annotated one peels to its commit).
    assert head_id(cof, "v1") == first
    assert head_id(cof, "v2") == second
    log = cof("log", "--oneline").stdout.splitlines()
    assert log == [
        f"{second[:12]} (HEAD -> main, tag: light, tag: v2) second",
        f"{first[:12]} (tag: v1) first",
    ]
    cof("checkout", "v1")
    assert (repo / "a.txt").read_text() == "1\n"
    cof("checkout", "main")

    deleted = cof("tag", "-d", "light")
    assert "Deleted tag 'light'" in deleted.stdout
    assert cof("tag").stdout.splitlines() == ["v1", "v2"]
    assert "light" not in cof("log", "--oneline").stdout


# -- log -----------------------------------------------------------------------------


@pytest.fixture
def merge_history(repo: Path, cof: CofRunner) -> dict[str, str]:
    """main: base - m1 - (merge of topic) ; topic: base - t1 - t2 (t2 touches docs/)."""
    ids: dict[str, str] = {}
    write(repo, "code.txt", "base\n")
    ids["base"] = commit(cof, "base")
    cof("checkout", "-b", "topic")
    write(repo, "topic.txt", "t1\n")
    ids["t1"] = commit(cof, "t1")
    write(repo, "docs/readme.txt", "docs\n")
    ids["t2"] = commit(cof, "t2")
    cof("checkout", "main")
    write(repo, "code.txt", "m1\n")
    ids["m1"] = commit(cof, "m1")
    merged = cof("merge", "topic", "-m", "merge topic")
    assert "Merge made by" in merged.stdout
    ids["merge"] = head_id(cof)
    return ids


def oneline_summaries(cof: CofRunner, *args: str) -> list[str]:
    return [line.split(" ")[-1] for line in cof("log", "--oneline", *args).stdout.splitlines()]


def test_log_range_and_path(repo: Path, cof: CofRunner, merge_history: dict[str, str]) -> None:
    ids = merge_history
    info = json.loads(cof("show", "HEAD", "--json").stdout)
    assert info["parents"] == [ids["m1"], ids["t2"]]
    assert oneline_summaries(cof, "main..topic") == []
    assert sorted(oneline_summaries(cof, "topic..main")) == ["m1", "topic"]
    assert oneline_summaries(cof, f"{ids['base']}..topic") == ["t2", "t1"]
    assert oneline_summaries(cof, f"{ids['t1']}..{ids['t2']}") == ["t2"]
    assert sorted(oneline_summaries(cof, "topic")) == ["base", "t1", "t2"]

    # History of a path: only the commits that changed it.
    assert oneline_summaries(cof, "--", "docs/readme.txt") == ["t2"]
    assert oneline_summaries(cof, "--", "docs") == ["t2"]
    assert oneline_summaries(cof, "--", "code.txt") == ["m1", "base"]
    assert oneline_summaries(cof, "--", "topic.txt") == ["t1"]
    assert oneline_summaries(cof, "topic", "--", "code.txt") == ["base"]
    assert oneline_summaries(cof, "--", "nothing-here") == []


def test_log_graph_on_a_merge_history(
    repo: Path, cof: CofRunner, merge_history: dict[str, str]
) -> None:
    ids = merge_history
    rows = cof("log", "--graph", "--oneline").stdout.splitlines()
    for name, full_id in ids.items():  # short ids -> names, for readable comparisons
        rows = [row.replace(full_id[:12], name) for row in rows]
    # The merge opens a lane for its second parent; the side branch is drawn in that
    # lane (newest first) while the first parent's line continues; the lanes rejoin
    # at the merge base.
    assert rows[0] == "* merge (HEAD -> main) merge topic"
    assert rows[1] == "|\\"
    assert rows[-2:] == ["|/", "* base base"]
    middle = rows[2:-2]
    assert sorted(middle) == ["* | m1 m1", "| * t1 t1", "| * t2 (topic) t2"]
    assert middle.index("| * t2 (topic) t2") < middle.index("| * t1 t1")
    # Without --oneline every commit still gets its row, and the merge its Merge: line.
    full = cof("log", "--graph").stdout.splitlines()
    assert sum(" commit " in line or line.startswith("* commit ") for line in full) == 5
    assert f"| Merge: {ids['m1'][:12]} {ids['t2'][:12]}" in full
    # While two lanes are open, both run beside every line of a commit's text.
    opened, joined = full.index("|\\"), full.index("|/")
    assert all(line.startswith(("* | ", "| * ", "| |")) for line in full[opened + 1 : joined])
    assert "| |     t1" in full and "| |     m1" in full


# -- diff ----------------------------------------------------------------------------


def test_diff_stat_and_name_status(repo: Path, cof: CofRunner) -> None:
    blob = bytearray(os.urandom(16 * BLOCK))
    write(repo, "data.bin", bytes(blob))
    write(repo, "text.txt", "a\nb\nc\n")
    write(repo, "gone.txt", "bye\n")
    first = commit(cof, "first")
    blob[5 * BLOCK : 5 * BLOCK + 10] = b"0123456789"
    blob += os.urandom(BLOCK)  # grows by one block: 2 of 17 blocks changed
    write(repo, "data.bin", bytes(blob))
    write(repo, "text.txt", "a\nB\nc\nd\n")
    (repo / "gone.txt").unlink()
    write(repo, "added.txt", "new\n")
    second = commit(cof, "second")

    # Two revisions.
    assert cof("diff", "--name-status", first, second).stdout.splitlines() == [
        "A\tadded.txt",
        "M\tdata.bin",
        "D\tgone.txt",
        "M\ttext.txt",
    ]
    stat_lines = cof("diff", "--stat", first, second).stdout.splitlines()
    assert " data.bin  | Bin 64.0 KiB -> 68.0 KiB (2 of 17 blocks changed)" in stat_lines
    assert any(line.startswith(" text.txt  |   3 ++-") for line in stat_lines), stat_lines
    assert stat_lines[-1] == " 4 files changed, 3 insertions(+), 2 deletions(-)"
    patch = cof("diff", first, second, "--", "data.bin").stdout
    assert patch.strip() == (
        "Binary file data.bin differs: 64.0 KiB -> 68.0 KiB (2 of 17 blocks changed)"
    )

    # Staging area against HEAD, and the working tree against the staging area.
    blob[0:4] = b"WXYZ"
    write(repo, "data.bin", bytes(blob))
    cof("add", "data.bin")
    write(repo, "text.txt", "only in the work tree\n")
    assert cof("diff", "--cached", "--name-status").stdout.splitlines() == ["M\tdata.bin"]
    cached_stat = cof("diff", "--cached", "--stat").stdout.splitlines()
    assert cached_stat[0] == " data.bin | Bin 68.0 KiB -> 68.0 KiB (1 of 17 blocks changed)"
    assert cof("diff", "--name-status").stdout.splitlines() == ["M\ttext.txt"]
    assert cof("diff", "--stat").stdout.splitlines()[-1].startswith(" 1 file changed")
    # Working tree against a revision covers both.
    assert cof("diff", "--name-status", first).stdout.splitlines() == [
        "A\tadded.txt",
        "M\tdata.bin",
        "D\tgone.txt",
        "M\ttext.txt",
    ]
    changes = json.loads(cof("diff", "--stat", "--cached", "--json").stdout)["changes"]
    assert changes[0]["binary"] and changes[0]["changed_blocks"] == 1
    assert changes[0]["old_size"] == changes[0]["new_size"] == 17 * BLOCK


# -- reflog ----------------------------------------------------------------------------


def test_reflog_and_branch_at_n(repo: Path, cof: CofRunner) -> None:
    write(repo, "a.txt", "1\n")
    first = commit(cof, "first")
    write(repo, "a.txt", "2\n")
    second = commit(cof, "second")
    write(repo, "a.txt", "3\n")
    third = commit(cof, "third")

    assert head_id(cof, "main@{0}") == third
    assert head_id(cof, "main@{1}") == second
    assert head_id(cof, "main@{2}") == first
    lines = cof("reflog", "main").stdout.splitlines()
    assert lines[0].startswith(f"{third[:12]} main@{{0}}: commit: third")
    assert lines[1].startswith(f"{second[:12]} main@{{1}}: commit: second")
    assert lines[2].startswith(f"{first[:12]} main@{{2}}: commit (initial): first")
    assert len(lines) == 3

    cof("checkout", "-b", "side", first)
    head_log = cof("reflog").stdout.splitlines()
    assert head_log[0] == f"{first[:12]} HEAD@{{0}}: checkout: moving from main to side"
    assert head_id(cof, "HEAD@{1}") == third
    # A revision built on @{N} works wherever a revision does.
    cof("checkout", "main@{1}")
    assert (repo / "a.txt").read_text() == "2\n"
    assert json.loads(cof("reflog", "--json").stdout)[0]["new"] == second
    assert cof("diff", "--name-status", "main@{2}", "main").stdout == "M\ta.txt\n"
    bad = cof("show", "main@{3}", check=False)
    assert bad.returncode == 4 and bad.stderr.startswith("cof: ")


def _git_in(path: Path) -> Callable[..., str]:
    env = {
        **os.environ,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "x",
        "GIT_AUTHOR_EMAIL": "x@x",
        "GIT_COMMITTER_NAME": "x",
        "GIT_COMMITTER_EMAIL": "x@x",
    }

    def git(*args: str, check: bool = True) -> str:
        return subprocess.run(
            ["git", "-c", "init.defaultBranch=main", *args],
            cwd=path,
            env=env,
            check=check,
            capture_output=True,
            text=True,
        ).stdout

    return git


def _messages(cof: CofRunner, ref: str = "HEAD") -> list[str]:
    return [line.split(": ", 1)[1] for line in cof("reflog", ref).stdout.splitlines()]


def test_reflog_expire_lets_gc_free_a_deleted_branch_as_git_does(
    repo: Path, cof: CofRunner, tmp_path: Path
) -> None:
    """git's recipe for reclaiming a deleted branch's space: ``branch -D``, ``reflog
    expire --expire-unreachable=now --all``, ``gc --prune=now``. The same steps in git
    and cof leave the same HEAD reflog, and both stores lose the big file."""
    git_dir = tmp_path / "g"
    git_dir.mkdir()
    git = _git_in(git_dir)
    git("init", "-q")
    base, big = os.urandom(200_000), os.urandom(1_000_000)
    for root in (repo, git_dir):
        write(root, "base.bin", base)
    commit(cof, "base")
    git("add", "-A")
    git("commit", "-q", "-m", "base")
    for root in (repo, git_dir):
        write(root, "big.bin", big)
    cof("checkout", "-b", "big")
    git("checkout", "-q", "-b", "big")
    commit(cof, "big")
    git("add", "-A")
    git("commit", "-q", "-m", "big")
    big_blob = git("rev-parse", "HEAD:big.bin").strip()
    for run in (cof, git):
        run("checkout", "main")
        run("branch", "-D", "big")

    dry = cof("reflog", "expire", "--expire-unreachable=now", "--all", "--dry-run").stdout
    assert dry == "would prune 2 entries of HEAD\nwould prune 3 entries of refs/heads/big\n"
    assert _messages(cof)[0] == "checkout: moving from big to main"  # a dry run
    for run in (cof, git):
        run("reflog", "expire", "--expire-unreachable=now", "--all")
    ours = _messages(cof)
    assert ours == git("reflog", "--format=%gs").splitlines()
    assert ours == ["checkout: moving from main to big", "commit (initial): base"]

    gc = json.loads(cof("gc", "--prune=now", "--json").stdout)
    assert gc["deleted_blocks"] >= len(big) // 4096
    git("gc", "-q", "--prune=now")
    gone = subprocess.run(["git", "cat-file", "-e", big_blob], cwd=git_dir, check=False)
    assert gone.returncode != 0
    cof("fsck")
    assert (repo / "base.bin").read_bytes() == base
    assert not (repo / ".cof" / "logs" / "refs" / "heads" / "big").exists()  # emptied


def _age_reflogs(repo: Path, days: float) -> None:
    """Move every reflog entry ``days`` into the past (entries carry their time)."""
    for path in (repo / ".cof" / "logs").rglob("*"):
        if path.is_file():
            lines = []
            for line in path.read_text().splitlines():
                head, tab, message = line.partition("\t")
                parts = head.split(" ")
                parts[-2] = str(int(parts[-2]) - int(days * 86400))
                lines.append(" ".join(parts) + tab + message + "\n")
            path.write_text("".join(lines))


def test_gc_expires_reflogs_by_the_configured_ages(repo: Path, cof: CofRunner) -> None:
    """As ``git gc``: entries older than gc.reflog_expire_unreachable_days (30) that
    name a commit no longer reachable go, reachable ones stay until
    gc.reflog_expire_days (90); a deleted branch's whole reflog goes at 30 days."""
    write(repo, "a.bin", os.urandom(100_000))
    first = commit(cof, "first")
    cof("checkout", "-b", "gone")
    write(repo, "gone.bin", os.urandom(300_000))
    commit(cof, "gone")
    cof("checkout", "main")
    cof("branch", "-D", "gone")
    write(repo, "a.bin", os.urandom(100_000))
    second = commit(cof, "second")

    _age_reflogs(repo, 20)  # younger than both limits: everything stays
    kept = json.loads(cof("gc", "--prune=now", "--json").stdout)
    assert kept["expired_reflog_entries"] == 0 and kept["deleted_blocks"] == 0

    _age_reflogs(repo, 20)  # 40 days: the unreachable entries go
    aged = json.loads(cof("gc", "--prune=now", "--json").stdout)
    assert aged["deleted_blocks"] >= 300_000 // 4096
    assert aged["expired_reflog_entries"] == 3 + 2  # refs/heads/gone's 3, HEAD's 2
    assert _messages(cof, "main") == ["commit: second", "commit (initial): first"]
    assert head_id(cof, "main@{1}") == first

    _age_reflogs(repo, 60)  # 100 days: everything goes; the refs themselves stay
    config = repo / ".cof" / "config.toml"
    default = config.read_text()
    config.write_text(default.replace("# reflog_expire_days = 90", "reflog_expire_days = 120"))
    assert json.loads(cof("gc", "--json").stdout)["expired_reflog_entries"] == 0
    config.write_text(default)
    assert json.loads(cof("gc", "--json").stdout)["expired_reflog_entries"] > 0
    assert cof("reflog", "main").stdout == ""
    assert head_id(cof) == second
    cof("fsck")


def test_reflog_delete_and_bad_arguments(repo: Path, cof: CofRunner, tmp_path: Path) -> None:
    git_dir = tmp_path / "g"
    git_dir.mkdir()
    git = _git_in(git_dir)
    git("init", "-q")
    for n in range(3):
        write(repo, "f.txt", f"{n}\n")
        write(git_dir, "f.txt", f"{n}\n")
        commit(cof, f"c{n}")
        git("add", "-A")
        git("commit", "-q", "-m", f"c{n}")
    for run in (cof, git):
        run("reflog", "delete", "main@{1}")
    assert _messages(cof, "main") == git("reflog", "--format=%gs", "main").splitlines()
    assert _messages(cof, "main") == ["commit: c2", "commit (initial): c0"]
    for args, code in (
        (("reflog", "delete", "main@{5}"), 4),
        (("reflog", "delete", "main"), 2),
        (("reflog", "delete", "nope@{0}"), 4),
        (("reflog", "expire"), 2),
        (("reflog", "expire", "--all", "--expire=yesterdayish"), 2),
    ):
        bad = cof(*args, check=False)
        assert bad.returncode == code, (args, bad.stderr)
        assert bad.stderr.startswith("cof: ") and len(bad.stderr.splitlines()) == 1
    assert len(_messages(cof, "main")) == 2  # nothing changed by the refused ones


def test_git_agrees_on_diff_name_status(repo: Path, cof: CofRunner, tmp_path: Path) -> None:
    """The same two snapshots in git give the same ``diff --name-status``."""
    git_dir = tmp_path / "g"
    git_dir.mkdir()
    git = _git_in(git_dir)
    git("init", "-q")
    snapshots = [
        {"a.bin": b"\0" * 5000, "d/x.txt": b"x\n", "d/y.txt": b"y\n", "z.txt": b"z\n"},
        {"a.bin": b"\1" * 5000, "d/y.txt": b"y\n", "d/w.txt": b"w\n", "z.txt": b"z\n"},
    ]
    revs = []
    for snap in snapshots:
        for root in (repo, git_dir):
            for child in list(root.iterdir()):
                if child.name not in (".cof", ".git"):
                    if child.is_dir():
                        shutil.rmtree(child)
                    else:
                        child.unlink()
            for rel, data in snap.items():
                write(root, rel, data)
        revs.append(commit(cof, f"snap {len(revs)}"))
        git("add", "-A")
        git("commit", "-q", "-m", "snap")
    ours = cof("diff", "--name-status", revs[0], revs[1]).stdout
    theirs = git("diff", "--no-renames", "--name-status", "HEAD~1", "HEAD")
    assert ours == theirs


def test_diff_of_the_working_tree_reads_files_and_stores_nothing(
    repo: Path, cof: CofRunner
) -> None:
    blob = bytearray(os.urandom(16 * BLOCK))
    write(repo, "data.bin", bytes(blob))
    write(repo, "text.txt", "a\nb\n")
    commit(cof, "first")
    blob[3 * BLOCK] ^= 0xFF  # one block changed
    write(repo, "data.bin", bytes(blob))
    write(repo, "text.txt", "a\nB\n")
    os.symlink("text.txt", repo / "link")
    cof("add", "link")
    objects = repo / ".cof" / "objects"
    before = {p: p.stat().st_size for p in objects.rglob("*.pack")}

    patch = cof("diff").stdout  # index -> working tree
    assert "-b\n+B\n" in patch
    assert "Binary file data.bin differs: 64.0 KiB -> 64.0 KiB (1 of 16 blocks changed)" in patch
    stat = cof("diff", "--stat", "HEAD").stdout  # HEAD -> working tree, symlink included
    assert " link     |   1 +" in stat.splitlines()
    assert {p: p.stat().st_size for p in objects.rglob("*.pack")} == before


def test_log_graph_with_a_count_cuts_the_graph_order_as_git_does(
    repo: Path, cof: CofRunner, merge_history: dict[str, str]
) -> None:
    """``-n`` with ``--graph`` counts commits in graph (topological) order: git prints
    merge, t2, t1 here (drawn in their lanes) although m1 is newer than t1 and t2."""
    ids = merge_history
    rows = cof("log", "--graph", "--oneline", "-n", "3").stdout.splitlines()
    for name, full_id in ids.items():
        rows = [row.replace(full_id[:12], name) for row in rows]
    assert rows == ["* merge (HEAD -> main) merge topic", "|\\", "| * t2 (topic) t2", "| * t1 t1"]
    assert cof("log", "--graph", "--oneline", "-n", "0").stdout == ""


def _git_merge_history(where: Path) -> None:
    """The history of ``merge_history``, made by git."""
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}

    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "user.name=a", "-c", "user.email=a@b", *args],
                       cwd=where, env=env, check=True, capture_output=True)  # fmt: skip

    git("init", "-q", "-b", "main")
    write(where, "code.txt", "base\n")
    git("add", "-A")
    git("commit", "-q", "-m", "base")
    git("checkout", "-q", "-b", "topic")
    write(where, "topic.txt", "t1\n")
    git("add", "-A")
    git("commit", "-q", "-m", "t1")
    write(where, "docs/readme.txt", "docs\n")
    git("add", "-A")
    git("commit", "-q", "-m", "t2")
    git("checkout", "-q", "main")
    write(where, "code.txt", "m1\n")
    git("add", "-A")
    git("commit", "-q", "-m", "m1")
    git("merge", "-q", "--no-edit", "topic", "-m", "merge topic")


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5])
def test_log_graph_count_matches_git(
    repo: Path, cof: CofRunner, merge_history: dict[str, str], tmp_path: Path, count: int
) -> None:
    _git_merge_history(tmp_path)
    git_out = subprocess.run(
        ["git", "log", "--graph", "--oneline", "--decorate", "-n", str(count)],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    cof_out = cof("log", "--graph", "--oneline", "-n", str(count)).stdout

    def shape(text: str) -> list[str]:
        # Ids differ between the two: drop them. git pads a merge's row to line its
        # text up with the "|\" below; cof does not: compare with spaces collapsed.
        return [" ".join(w for w in line.split() if not _is_hex_id(w))
                for line in text.splitlines()]  # fmt: skip

    assert shape(cof_out) == shape(git_out)


def _is_hex_id(word: str) -> bool:
    return len(word) >= 7 and all(c in "0123456789abcdef" for c in word)
