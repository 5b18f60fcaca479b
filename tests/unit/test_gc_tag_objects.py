"""gc and fsck with annotated tags: tag objects (and tags of tags) are roots whose
blocks stay live, the commit they peel to is walked, a broken tag is reported."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from cofd.objects.model import CommitId, Tag, TagId
from cofd.ops.maintenance import check_repository, collect_garbage, restore_commit_ages
from cofd.store.ids import BlockId, to_hex
from cofd.sync.walk import MAX_TAG_DEPTH
from protocol.errors import IntegrityError
from tests.unit.test_tiers import SIG, History


@pytest.fixture
def history(tmp_path: Path) -> Iterator[History]:
    h = History(tmp_path / "r")
    yield h
    h.close()


def tag(h: History, target: bytes, name: str) -> CommitId:
    """Write an annotated tag object at ``target`` and point ``refs/tags/NAME`` at it."""
    with h.repo.blocks.transaction() as txn:
        tag_id = CommitId(h.repo.objects.write_tag(txn, Tag(CommitId(target), name, SIG, "m\n")))
    h.repo.refs.update(f"refs/tags/{name}", tag_id, SIG, f"tag: {name}")
    return tag_id


def only_tagged(h: History) -> tuple[CommitId, CommitId]:
    """A main commit, and a commit on a deleted branch with no reflog naming it."""
    main = h.commit({"a.txt": b"main\n"})
    side = h.commit({"s.txt": b"side " * 3000}, branch="side", parents=[main])
    h.repo.refs.update("refs/heads/side", None, SIG, "deleted")
    return main, side


def drop_reflogs(h: History) -> None:
    shutil.rmtree(h.repo.cof_dir / "logs")


def test_gc_keeps_tag_objects_and_the_commit_a_tag_of_a_tag_names(history: History) -> None:
    h = history
    _, side = only_tagged(h)
    inner = tag(h, side, "t1")
    outer = tag(h, inner, "t2")
    h.repo.refs.update("refs/tags/t1", None, SIG, "deleted")  # only the tag of a tag left
    drop_reflogs(h)
    result = collect_garbage(h.repo, None, h.config)
    assert result.deleted_blocks == 0
    h.reopen()
    objects = h.repo.objects
    assert objects.read_tag(TagId(outer)).target == inner
    assert objects.peel(outer) == side
    h.verify([side])
    report = check_repository(h.repo, full=True)
    assert report["problems"] == [] and report["ok"]
    assert report["tags"] == 2 and report["commits"] == 2


def test_gc_sweeps_what_no_tag_reaches_any_more(history: History) -> None:
    h = history
    _, side = only_tagged(h)
    tag_id = tag(h, side, "t1")
    h.repo.refs.update("refs/tags/t1", None, SIG, "deleted")
    drop_reflogs(h)
    result = collect_garbage(h.repo, None, h.config)
    assert result.deleted_blocks > 0
    assert not h.repo.blocks.has(BlockId(tag_id))
    assert not h.repo.blocks.has(BlockId(side))
    assert check_repository(h.repo, full=True)["ok"]


def test_a_tag_whose_commit_is_missing_is_reported_and_stops_gc(history: History) -> None:
    h = history
    h.commit({"a.txt": b"a\n"})
    missing = bytes(range(32))
    tag_id = tag(h, missing, "broken")
    report = check_repository(h.repo, full=False)
    assert not report["ok"] and report["problem_count"] == 1
    problem = report["problems"][0]
    assert to_hex(missing) in problem and to_hex(tag_id) in problem
    assert "refs/tags/broken" in problem
    with pytest.raises(IntegrityError, match=to_hex(missing)):
        collect_garbage(h.repo, None, h.config)


def test_an_overlong_tag_chain_is_reported(history: History) -> None:
    h = history
    tags: list[bytes] = [h.commit({"a.txt": b"a\n"})]
    for n in range(MAX_TAG_DEPTH):
        tags.append(tag(h, tags[-1], f"t{n}"))
        h.repo.refs.update(f"refs/tags/t{n}", None, SIG, "deleted")
    drop_reflogs(h)
    # MAX_TAG_DEPTH tags deep: too long (as ObjectStore.peel has it).
    h.repo.refs.update("refs/tags/deep", CommitId(tags[-1]), SIG, "tag")
    report = check_repository(h.repo, full=False)
    assert not report["ok"]
    assert any("tag chain too long" in p and "refs/tags/deep" in p for p in report["problems"])
    with pytest.raises(IntegrityError):
        h.repo.objects.peel(tags[-1])
    # One tag fewer is fine.
    h.repo.refs.update("refs/tags/deep", CommitId(tags[-2]), SIG, "tag")
    drop_reflogs(h)
    report = check_repository(h.repo, full=False)
    assert report["ok"] and report["tags"] == MAX_TAG_DEPTH - 1
    assert h.repo.objects.peel(tags[-2]) == tags[0]


def test_restored_commit_ages_cover_tag_objects(history: History) -> None:
    h = history
    _, side = only_tagged(h)
    tag_id = tag(h, side, "t1")
    conn = h.repo.blocks.index.conn
    conn.execute("DELETE FROM commit_age")
    assert restore_commit_ages(h.repo) > 0
    generation = h.repo.blocks.index.generation_of(BlockId(tag_id))
    assert generation == h.repo.objects.read_commit(side).sequence


def test_fsck_of_a_repository_without_tags_is_unchanged(history: History) -> None:
    h = history
    h.commit({"a.txt": b"a\n"})
    report = check_repository(h.repo, full=True)
    assert report["ok"] and report["tags"] == 0 and report["commits"] == 1
