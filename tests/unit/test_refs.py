"""Refs and reflog on a real ``.cof`` directory; ref names against real git."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from cofd.objects.model import CommitId, Signature
from cofd.objects.refs import Refs, ref_name_problem
from protocol.errors import ConflictError, IntegrityError, UsageError

C1, C2, C3 = (CommitId(bytes([n]) * 32) for n in (1, 2, 3))
WHO = Signature("Tess Ter", "t@e", 1_700_000_000, -330)
MAIN = "refs/heads/main"


@pytest.fixture
def refs(tmp_path: Path) -> Refs:
    cof_dir = tmp_path / ".cof"
    (cof_dir / "refs" / "heads").mkdir(parents=True)
    (cof_dir / "HEAD").write_text(f"ref: {MAIN}\n")
    return Refs(cof_dir)


def test_compare_and_swap(refs: Refs) -> None:
    refs.update(MAIN, C1, WHO, "create", expected=None)
    assert refs.read(MAIN) == C1
    with pytest.raises(ConflictError, match="moved"):
        refs.update(MAIN, C2, WHO, "racing", expected=None)
    with pytest.raises(ConflictError, match="moved"):
        refs.update(MAIN, C2, WHO, "racing", expected=C3)
    assert refs.read(MAIN) == C1
    assert not (refs.cof_dir / "refs/heads/main.lock").exists()
    refs.update(MAIN, C2, WHO, "advance", expected=C1)
    assert refs.read(MAIN) == C2
    refs.update(MAIN, C3, WHO, "forced")  # no expectation: always succeeds
    assert refs.read(MAIN) == C3
    assert (refs.cof_dir / MAIN).read_text() == C3.hex() + "\n"
    assert [e.message for e in refs.reflog(MAIN)] == ["forced", "advance", "create"]


def test_delete_ref(refs: Refs) -> None:
    refs.update("refs/heads/topic", C1, WHO, "branch")
    refs.update("refs/heads/topic", None, WHO, "delete", expected=C1)
    assert refs.read("refs/heads/topic") is None
    assert not (refs.cof_dir / "refs/heads/topic").exists()
    newest = refs.reflog("refs/heads/topic")[0]
    assert (newest.old, newest.new) == (C1, None)


def test_a_ref_and_a_ref_below_it_cannot_both_exist(refs: Refs) -> None:
    """git's directory/file rule: ``a`` and ``a/b`` clash while the other lives; once
    it is deleted the name is free (its empty directory and its reflog are moved out
    of the way; the reflog stays readable for gc under logs/deleted/)."""
    a, ab, abc = "refs/heads/a", "refs/heads/a/b", "refs/heads/a/b/c"
    refs.update(ab, C1, WHO, "create a/b", expected=None)
    with pytest.raises(ConflictError, match="cannot create refs/heads/a: refs/heads/a/b exists"):
        refs.update(a, C1, WHO, "create a", expected=None)
    refs.update(ab, None, WHO, "delete a/b")
    assert not (refs.cof_dir / ab).exists() and not (refs.cof_dir / a).exists()
    refs.update(a, C2, WHO, "create a", expected=None)
    assert refs.read(a) == C2 and [e.message for e in refs.reflog(a)] == ["create a"]
    with pytest.raises(ConflictError, match="cannot create refs/heads/a/b/c: refs/heads/a exists"):
        refs.update(abc, C1, WHO, "create a/b/c", expected=None)
    refs.update(a, None, WHO, "delete a")
    refs.update(abc, C3, WHO, "create a/b/c", expected=None)
    assert dict(refs.iter_refs("refs/heads/")) == {abc: C3}
    aside = sorted(
        p.relative_to(refs.cof_dir / "logs").as_posix()
        for p in (refs.cof_dir / "logs" / "deleted").rglob("*")
        if p.is_file()
    )
    assert [name.split(".")[0] for name in aside] == [
        "deleted/refs/heads/a",
        "deleted/refs/heads/a",
    ]
    kept = [e.message for name in aside for e in refs.reflog(name)]
    assert sorted(kept) == ["create a", "create a/b", "delete a", "delete a/b"]


def test_reflog_newest_first_with_fields(refs: Refs) -> None:
    refs.update(MAIN, C1, WHO, "commit (initial): first\nbody ignored")
    refs.update(MAIN, C2, WHO, "commit: second")
    east = Signature("Other Person", "o@x", 1_700_000_100, 90)
    refs.update(MAIN, C3, east, "commit: third")
    log = refs.reflog(MAIN)
    assert [(e.old, e.new) for e in log] == [(C2, C3), (C1, C2), (None, C1)]
    assert [e.message for e in log] == [
        "commit: third",
        "commit: second",
        "commit (initial): first",
    ]
    assert log[0].who == "Other Person <o@x>"
    assert (log[0].timestamp, log[0].tz_minutes) == (1_700_000_100, 90)
    assert (log[2].who, log[2].tz_minutes) == ("Tess Ter <t@e>", -330)
    # HEAD is attached to main, so HEAD's log saw the same moves.
    assert [(e.old, e.new) for e in refs.reflog("HEAD")] == [(C2, C3), (C1, C2), (None, C1)]


def test_torn_reflog_line_is_skipped(refs: Refs) -> None:
    refs.update(MAIN, C1, WHO, "one")
    with (refs.cof_dir / "logs" / MAIN).open("a") as fh:
        fh.write("0000 half a li")
    assert [e.message for e in refs.reflog(MAIN)] == ["one"]
    assert refs.reflog("refs/heads/none") == []


def test_head_symbolic_and_detached(refs: Refs) -> None:
    assert refs.head_target() == MAIN
    assert refs.head() is None  # unborn branch
    refs.update("HEAD", C1, WHO, "commit (initial): a", expected=None)
    assert refs.read(MAIN) == C1 and refs.head() == C1
    assert (refs.cof_dir / "HEAD").read_text() == f"ref: {MAIN}\n"

    refs.set_head(C1, WHO, "checkout: detach")
    assert refs.head_target() is None
    assert refs.head() == C1
    refs.update("HEAD", C2, WHO, "commit: detached work", expected=C1)
    assert refs.head() == C2
    assert refs.read(MAIN) == C1  # the branch did not move
    assert (refs.cof_dir / "HEAD").read_text().strip() == C2.hex()

    refs.set_head(MAIN, WHO, "checkout: back to main")
    assert refs.head_target() == MAIN and refs.head() == C1
    assert [e.message for e in refs.reflog("HEAD")][:3] == [
        "checkout: back to main",
        "commit: detached work",
        "checkout: detach",
    ]
    with pytest.raises(UsageError):
        refs.set_head("main", WHO, "not a full ref")


def test_stale_lock_refuses_until_cleared(refs: Refs) -> None:
    refs.update(MAIN, C1, WHO, "one")
    lock = refs.cof_dir / "refs/heads/main.lock"
    lock.write_text("left by a killed writer\n")
    head_lock = refs.cof_dir / "HEAD.lock"
    head_lock.write_text("stale")
    with pytest.raises(ConflictError, match="being updated"):
        refs.update(MAIN, C2, WHO, "two", expected=C1)
    assert lock.exists()  # someone else's lock is never removed by a failed update
    assert refs.read(MAIN) == C1
    assert [name for name, _ in refs.iter_refs()] == [MAIN]  # locks are not refs
    refs.clear_stale_locks()
    assert not lock.exists() and not head_lock.exists()
    refs.update(MAIN, C2, WHO, "two", expected=C1)
    assert refs.read(MAIN) == C2


def test_iter_refs_and_corrupt_ref(refs: Refs) -> None:
    refs.update("refs/heads/b", C2, WHO, "b")
    refs.update("refs/heads/a/nested", C1, WHO, "a")
    refs.update("refs/tags/v1", C3, WHO, "tag")
    assert list(refs.iter_refs()) == [
        ("refs/heads/a/nested", C1),
        ("refs/heads/b", C2),
        ("refs/tags/v1", C3),
    ]
    assert [n for n, _ in refs.iter_refs("refs/tags/")] == ["refs/tags/v1"]
    (refs.cof_dir / "refs/heads/bad").write_text("not hex\n")
    with pytest.raises(IntegrityError, match="refs/heads/bad"):
        refs.read("refs/heads/bad")


# Names compared with `git check-ref-format --branch`. cof deliberately also rejects
# "@" (it means HEAD in revisions); git's --branch rejects "HEAD", cof leaves that
# to the branch command. Both are left out of the comparison.
NAMES = [
    "main",
    "feature/x",
    "x/y/z",
    "v1.0",
    "a.b",
    "ok-name_1",
    "été",
    "a@b",
    "x@",
    "a/b.lock.c",
    "a..b",
    "-lead",
    "x.lock",
    "x/y.lock",
    "a.lock/b",
    "a b",
    "tab\tx",
    "ctl\x01",
    "del\x7f",
    "a~1",
    "a^",
    "a:b",
    "a?",
    "a*",
    "a[",
    "a\\b",
    "a@{1}",
    "@{",
    "x/",
    "x.",
    "foo.",
    "a/.",
    ".hidden",
    "x/.y",
    "a//b",
    "/a",
]


def git_accepts(name: str) -> bool:
    result = subprocess.run(
        ["git", "check-ref-format", "--branch", name],
        capture_output=True,
        check=False,
        timeout=30,
        cwd="/",
    )
    return result.returncode == 0


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_ref_name_problem_agrees_with_git() -> None:
    disagreements = [
        (name, git_accepts(name), ref_name_problem(name))
        for name in NAMES
        if git_accepts(name) != (ref_name_problem(name) is None)
    ]
    assert disagreements == []
    assert sum(git_accepts(n) for n in NAMES) >= 8  # the list exercises both answers


def test_ref_name_problem_cof_specific() -> None:
    assert ref_name_problem("") is not None
    assert ref_name_problem("@") is not None
    assert ref_name_problem("refs/heads/main") is None


def test_expiry_times_read_as_git_reads_them() -> None:
    from cofd.ops.reflogs import SECONDS_PER_DAY, parse_when

    now = 1_800_000_000.0
    assert parse_when("now", now) == parse_when("all", now) == now + 1
    assert parse_when("never", now) is None and parse_when("false", now) is None
    assert parse_when("30", now) == now - 30 * SECONDS_PER_DAY
    assert parse_when("90.days.ago", now) == now - 90 * SECONDS_PER_DAY
    assert parse_when("2 weeks ago", now) == now - 14 * SECONDS_PER_DAY
    assert parse_when("2.5.days", now) == now - 2.5 * SECONDS_PER_DAY
    assert parse_when("2026-01-02", now) is not None
    for bad in ("yesterday", "-3", "3.fortnights.ago", "2026-13-40", ""):
        with pytest.raises(UsageError):
            parse_when(bad, now)
