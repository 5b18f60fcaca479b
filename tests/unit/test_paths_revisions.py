"""Pathspecs and revision parsing, on a repository built in-process with the ops."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import cofd.ops
from cofd.objects.model import CommitId
from cofd.ops.api import OPS, OpContext
from cofd.ops.paths import in_scope, parent_dirs, repo_relative
from cofd.ops.repository import Repository, create_layout
from cofd.ops.revisions import resolve
from protocol.errors import PathError, RevisionError

ENV = {"COF_AUTHOR_NAME": "T", "COF_AUTHOR_EMAIL": "t@e"}


# -- repo_relative -------------------------------------------------------------------

R = Path("/srv/repo")


@pytest.mark.parametrize(
    ("cwd", "arg", "expected"),
    [
        (R, "a.bin", "a.bin"),
        (R, ".", ""),
        (R, "./", ""),
        (R / "sub", "x", "sub/x"),
        (R / "sub", ".", "sub"),
        (R / "sub", "..", ""),
        (R / "sub", "../y", "y"),
        (R / "sub", "deep/../z", "sub/z"),
        (R / "sub", "/srv/repo/a/./b/../c", "a/c"),
        (Path("/elsewhere"), "/srv/repo/abs", "abs"),
        (R, ".cofignore", ".cofignore"),
        (R, "a//b/", "a/b"),
        (R, ".gitignore", ".gitignore"),
    ],
)
def test_repo_relative_inside(cwd: Path, arg: str, expected: str) -> None:
    assert repo_relative(R, cwd, arg) == expected


@pytest.mark.parametrize(
    ("cwd", "arg", "why"),
    [
        (R, "..", "outside"),
        (R / "sub", "../../etc/passwd", "outside"),
        (R, "/etc/passwd", "outside"),
        (R, "/srv/repository/x", "outside"),  # a sibling sharing the prefix
        (R, "/srv/repo2", "outside"),
        (Path("/elsewhere"), "file", "outside"),
        (R, ".cof", ".cof"),
        (R, ".cof/HEAD", ".cof"),
        (R / "sub", "../.cof/objects", ".cof"),
        (R, "./.cof/", ".cof"),
        (R, "sub/.cof", "never tracks"),  # a nested repository's
        (R, ".git/config", "never tracks"),
        (R / "sub", ".GIT", "never tracks"),
    ],
)
def test_repo_relative_refused(cwd: Path, arg: str, why: str) -> None:
    with pytest.raises(PathError, match=rf"'{re.escape(arg)}'.*{why}"):
        repo_relative(R, cwd, arg)


def test_in_scope_and_parent_dirs() -> None:
    assert in_scope("a/b/c", ["a"]) and in_scope("a/b/c", ["a/b/c"]) and in_scope("x", [""])
    assert not in_scope("ab/c", ["a"]) and not in_scope("a", ["a/b"])
    assert list(parent_dirs("a/b/c")) == ["a", "a/b"]
    assert list(parent_dirs("top")) == []


# -- revisions -----------------------------------------------------------------------


@dataclass
class Repo:
    repo: Repository
    ctx: OpContext

    def call(self, name: str, **params: Any) -> Any:
        return OPS[name].fn(self.ctx, params)

    def commit(self, message: str) -> CommitId:
        result = self.call("commit", message=message, allow_empty=True)
        return CommitId(bytes.fromhex(result["id"]))


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    cofd.ops.load_all()
    root = tmp_path / "work"
    root.mkdir()
    assert create_layout(root)
    opened = Repository.open(root)
    ctx = OpContext(root, ENV, tmp_path / "home", lambda event: None, opened)
    try:
        yield Repo(opened, ctx)
    finally:
        opened.close()


@dataclass
class History:
    m0: CommitId
    m1: CommitId
    s1: CommitId
    s2: CommitId
    merge: CommitId
    m3: CommitId
    m4: CommitId


def build_history(r: Repo) -> History:
    """m0 - m1 ------- M - m3 - m4   (main)
    \\      /
     s1 - s2            (side)
    """
    (r.repo.root / "f.txt").write_text("one")
    r.call("add", paths=["f.txt"])
    m0 = r.commit("m0")
    m1 = r.commit("m1")
    s1 = r.commit("s1")
    s2 = r.commit("s2")
    who = r.repo.signature("T", "t@e")
    r.repo.refs.update("refs/heads/side", s2, who, "branch: side", expected=None)
    r.repo.refs.update("refs/heads/main", m1, who, "reset: back to m1", expected=s2)
    (r.repo.cof_dir / "MERGE_HEAD").write_text(s2.hex() + "\n")
    merge = r.commit("merge side")
    m3 = r.commit("m3")
    m4 = r.commit("m4")
    assert r.repo.objects.read_commit(merge).parents == (m1, s2)
    return History(m0, m1, s1, s2, merge, m3, m4)


def test_revision_suffixes_and_names(repo: Repo) -> None:
    h = build_history(repo)
    cases = {
        "HEAD": h.m4,
        "@": h.m4,
        "main": h.m4,
        "refs/heads/main": h.m4,
        "heads/main": h.m4,
        "side": h.s2,
        "HEAD~": h.m3,
        "HEAD~1": h.m3,
        "HEAD^": h.m3,
        "HEAD~2": h.merge,
        "HEAD^^": h.merge,
        "HEAD~2^": h.m1,
        "HEAD~2^1": h.m1,
        "HEAD~2^2": h.s2,
        "HEAD~2^2~1": h.s1,
        "HEAD~2^2^": h.s1,
        "HEAD~2^0": h.merge,
        "HEAD~3": h.m1,
        "HEAD~4": h.m0,
        "side~2": h.m1,
        "main~2^2~2": h.m1,
        "@~4": h.m0,
        h.merge.hex(): h.merge,
        h.merge.hex()[:12] + "^2": h.s2,
        h.m3.hex()[:16].upper(): h.m3,
        "HEAD@{0}": h.m4,
        "HEAD@{1}": h.m3,
        "side@{0}": h.s2,
    }
    wrong = {rev: want for rev, want in cases.items() if resolve(repo.repo, rev) != want}
    assert wrong == {}


def test_shortest_unique_prefix(repo: Repo) -> None:
    h = build_history(repo)
    for commit in (h.m0, h.s1, h.m4):
        hexid = commit.hex()
        # The shortest prefix of at least 4 digits that names this commit alone.
        for length in range(4, 65):
            others = [c for c in vars(h).values() if c != commit]
            if not any(o.hex().startswith(hexid[:length]) for o in others):
                break
        assert resolve(repo.repo, hexid[:length]) == commit


@pytest.mark.parametrize(
    ("rev", "message"),
    [
        ("HEAD~7", "history is too short"),
        ("HEAD~2^3", "has 2 parent"),
        ("HEAD^2", "has 1 parent"),
        ("nope", "unknown revision 'nope'"),
        ("side~9", "history is too short"),
        ("refs/heads/gone", "unknown revision"),
        ("HEAD@{99}", "reflog entries"),
        ("", "invalid revision"),
        ("a\0b", "invalid revision"),
        ("0" * 65, "unknown revision"),
    ],
)
def test_bad_revisions(repo: Repo, rev: str, message: str) -> None:
    build_history(repo)
    with pytest.raises(RevisionError, match=message.replace("(", r"\(")):
        resolve(repo.repo, rev)


def test_too_short_prefix_is_not_a_prefix(repo: Repo) -> None:
    h = build_history(repo)
    for length in (1, 2, 3):
        with pytest.raises(RevisionError, match="unknown revision"):
            resolve(repo.repo, h.m4.hex()[:length])


def test_unborn_head(repo: Repo) -> None:
    with pytest.raises(RevisionError, match="no commits yet"):
        resolve(repo.repo, "HEAD")
    with pytest.raises(RevisionError, match="unknown revision 'main'"):
        resolve(repo.repo, "main")


def test_ambiguous_prefix(repo: Repo) -> None:
    seen: dict[str, CommitId] = {}
    for n in itertools.count():
        assert n < 3000, "no 4-digit prefix collision in 3000 commits"
        commit = repo.commit(f"c{n}")
        prefix = commit.hex()[:4]
        if prefix in seen:
            break
        seen[prefix] = commit
    with pytest.raises(RevisionError, match=f"ambiguous revision '{prefix}'") as info:
        resolve(repo.repo, prefix)
    message = str(info.value)
    assert seen[prefix].hex()[:12] in message and commit.hex()[:12] in message
    # The full id, or a longer prefix, still picks one of them.
    assert resolve(repo.repo, commit.hex()) == commit
    assert resolve(repo.repo, seen[prefix].hex()[:20]) == seen[prefix]
