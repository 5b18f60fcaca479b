"""fsck and gc with refs written by hand at a tree or at file data, beside git doing the
same: a tag may name any object (git's fsck passes and its gc keeps what the tag
reaches), a branch only a commit (git's fsck: "error: refs/heads/x: not a commit").
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import CofRunner, CofSandbox

AUTHOR = {"COF_AUTHOR_NAME": "Ref Maker", "COF_AUTHOR_EMAIL": "ref@example.com"}


def _git(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GIT_AUTHOR_NAME": "g", "GIT_AUTHOR_EMAIL": "g@example.com"}
    env.update(GIT_COMMITTER_NAME="g", GIT_COMMITTER_EMAIL="g@example.com")
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, text=True, capture_output=True, check=check
    )


def _cof_unreferenced(cof: CofRunner, repo: Path, rel: str, data: bytes) -> tuple[str, str]:
    """(tree, content id of ``rel``) of a commit on a branch made then deleted."""
    cof("checkout", "-q", "-b", "side")
    (repo / rel).write_bytes(data)
    cof("add", rel)
    cof("commit", "-q", "-m", rel)
    tree = json.loads(cof("log", "-n", "1", "--json").stdout)[0]["tree"]
    [content] = [
        line.split()[1] for line in cof("ls-files", "-s").stdout.splitlines() if rel in line
    ]
    cof("checkout", "-q", "main")
    cof("branch", "-D", "side")
    return tree, content


def _git_unreferenced(repo: Path, rel: str, data: bytes) -> tuple[str, str]:
    _git("checkout", "-q", "-b", "side", cwd=repo)
    (repo / rel).write_bytes(data)
    _git("add", rel, cwd=repo)
    _git("commit", "-q", "-m", rel, cwd=repo)
    tree = _git("rev-parse", "HEAD^{tree}", cwd=repo).stdout.strip()
    blob = _git("rev-parse", f"HEAD:{rel}", cwd=repo).stdout.strip()
    _git("checkout", "-q", "main", cwd=repo)
    _git("branch", "-q", "-D", "side", cwd=repo)
    return tree, blob


def test_tags_may_name_trees_and_data_branches_only_commits_as_git_fsck_says(
    sandbox: CofSandbox, cof: CofRunner, tmp_path: Path
) -> None:
    """A tag at a tree and one at a large file's data (reached by nothing else once
    the reflogs expired): gc keeps all they reach and fsck passes, as git's. A branch
    at a tree: fsck lists git's "not a commit" error (exit 10; git's fsck fails too),
    gc still runs."""
    sandbox.env.update(AUTHOR)
    repo = sandbox.work
    cof("init")
    (repo / "f.txt").write_bytes(b"base\n")
    cof("add", "f.txt")
    cof("commit", "-q", "-m", "base")
    big = os.urandom(60_000)  # several blocks under a manifest
    tree, _ = _cof_unreferenced(cof, repo, "dir.txt", b"only in this tree\n")
    _, data = _cof_unreferenced(cof, repo, "big.bin", big)
    tags = repo / ".cof" / "refs" / "tags"
    tags.mkdir(parents=True, exist_ok=True)
    (tags / "at-tree").write_text(tree + "\n")
    (tags / "at-data").write_text(data + "\n")

    git_repo = tmp_path / "g"
    _git("init", "-q", "-b", "main", str(git_repo), cwd=tmp_path)
    (git_repo / "f.txt").write_bytes(b"base\n")
    _git("add", "f.txt", cwd=git_repo)
    _git("commit", "-q", "-m", "base", cwd=git_repo)
    git_tree, _ = _git_unreferenced(git_repo, "dir.txt", b"only in this tree\n")
    _, git_blob = _git_unreferenced(git_repo, "big.bin", big)
    _git("update-ref", "refs/tags/at-tree", git_tree, cwd=git_repo)
    _git("update-ref", "refs/tags/at-data", git_blob, cwd=git_repo)

    cof("reflog", "expire", "--expire=now", "--all")
    cof("gc", "--prune=now")
    _git("reflog", "expire", "--expire=now", "--all", cwd=git_repo)
    _git("gc", "-q", "--prune=now", cwd=git_repo)
    assert _git("fsck", cwd=git_repo).returncode == 0
    assert _git("cat-file", "-t", git_tree, cwd=git_repo).stdout == "tree\n"
    # What the tags reach is walked, every block of it found: base's commit, its tree
    # and the tagged one, base's file, the tagged tree's file and the big file.
    report = json.loads(cof("fsck", "--json").stdout)
    assert (report["ok"], report["trees"], report["contents"]) == (True, 2, 6), report

    heads = repo / ".cof" / "refs" / "heads"
    (heads / "at-tree").write_text(tree + "\n")
    (git_repo / ".git" / "refs" / "heads" / "at-tree").write_text(git_tree + "\n")
    ours = cof("fsck", check=False)
    theirs = _git("fsck", cwd=git_repo, check=False)
    line = "error: refs/heads/at-tree: not a commit"
    assert ours.returncode == 10 and line in ours.stdout.splitlines(), ours
    assert theirs.returncode != 0 and line in theirs.stderr.splitlines(), theirs
    assert ours.stdout.splitlines()[-1] == "1 problems found", ours.stdout
    cof("gc", "--prune=now")  # the walk is sound: gc runs
