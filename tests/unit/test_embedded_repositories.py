"""Repositories of their own inside a working tree (git's embedded repositories): what
counts as one, and how a walk reports them instead of entering them; and the long
status hints worded by the changes (git's "add/rm")."""

from __future__ import annotations

from pathlib import Path

from cofctl.status_text import _resolution_hint, _update_hint
from cofd.objects.ignore import IgnoreRules
from cofd.ops.scan import enclosing_repository, is_repository, walk


def make(root: Path, files: dict[str, bytes]) -> None:
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)


def test_what_counts_as_a_repository(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "cof/.cof/config.toml": b"",
            "git/.git/HEAD": b"ref: refs/heads/main\n",
            "linked/.git": b"gitdir: /elsewhere/.git/worktrees/linked\n",
            "plainfile/.git": b"not a pointer\n",
            "emptygit/.git/objects/x": b"",
            "halfcof/.cof/other": b"",
            "plain/f": b"",
        },
    )
    found = {p.name: is_repository(p) for p in tmp_path.iterdir()}
    assert found == {
        "cof": True,
        "git": True,
        "linked": True,
        "plainfile": False,
        "emptygit": False,
        "halfcof": False,
        "plain": False,
    }


def test_walk_reports_a_repository_once_and_never_enters_it(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            "top": b"",
            "a/f": b"",
            "a/inner/.git/HEAD": b"",
            "a/inner/g": b"",
            "t/tracked": b"",
            "t/.cof/config.toml": b"",
            "t/new": b"",
        },
    )
    tracked = {"t/tracked"}
    repositories: list[str] = []
    walked = walk(tmp_path, IgnoreRules(tmp_path), {"t"}, tracked, "", repositories)
    # t holds a tracked file: looked inside, as git does (its .cof never).
    assert sorted(f.path for f in walked) == ["a/f", "t/new", "t/tracked", "top"]
    assert repositories == ["a/inner"]
    started_there: list[str] = []
    assert list(walk(tmp_path, IgnoreRules(tmp_path), set(), set(), "a/inner", started_there)) == []
    assert started_there == ["a/inner"]
    assert enclosing_repository(tmp_path, "a/inner/g", set()) == "a/inner"
    assert enclosing_repository(tmp_path, "a/inner", set()) is None  # itself: walked
    assert enclosing_repository(tmp_path, "t/new", set()) == "t"
    assert enclosing_repository(tmp_path, "t/new", {"t"}) is None


def test_hints_are_worded_by_the_changes() -> None:
    assert "cof add <file>" in _update_hint([("M", "a")])
    assert "cof add/rm <file>" in _update_hint([("M", "a"), ("D", "b")])
    add, add_rm, rm = (
        '  (use "cof add <file>..." to mark resolution)',
        '  (use "cof add/rm <file>..." as appropriate to mark resolution)',
        '  (use "cof rm <file>..." to mark resolution)',
    )
    for codes, hint in (
        (["UU", "AA"], add),
        (["UU", "UD"], add_rm),
        (["DU"], add_rm),
        (["DD"], rm),
        (["DD", "UU"], add_rm),
        (["DD", "DU"], add_rm),
    ):
        assert _resolution_hint([(code, "p") for code in codes]) == hint, codes
