"""Wants that name no commit (a branch or tag at a tree, at file data, at a tag of a
tree): listed alone, never cutting short the closure of a commit that reaches the
same object, and served only when a ref names them (``cofd.sync.walk``,
``cofd.sync.serving``, ``cofd.sync.transfer.verify_closure``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cofd.objects.model import (
    MODE_FILE,
    Commit,
    CommitId,
    Kind,
    Tag,
    Tree,
    TreeEntry,
    TreeId,
)
from cofd.ops.repository import Repository
from cofd.store.ids import BlockId
from cofd.sync.serving import LackingPages, object_kind, ref_value_problem
from cofd.sync.transfer import verify_closure
from cofd.sync.walk import MissingWalk, spaced_haves
from protocol.errors import AccessDeniedError, IntegrityError
from protocol.peer import messages as m
from tests.unit.test_sync_closure import WHO, new_repo


def _content(repo: Repository, data: bytes) -> tuple[bytes, int]:
    with repo.blocks.transaction() as txn:
        writer = repo.objects.content_writer(txn)
        writer.write(data)
        content, size = writer.finish()
    return bytes(content), size


def _commit(repo: Repository, files: dict[str, bytes]) -> tuple[bytes, bytes]:
    """A root commit of ``files``: (commit, tree)."""
    entries = []
    for name, data in sorted(files.items()):
        content, size = _content(repo, data)
        entries.append(TreeEntry(name, Kind.FILE, MODE_FILE, content, size))
    with repo.blocks.transaction() as txn:
        tree = repo.objects.write_tree(txn, Tree(tuple(entries)))
        commit = repo.objects.write_commit(txn, Commit((), TreeId(tree), WHO, WHO, "c", 1))
    return bytes(commit), bytes(tree)


def _tag(repo: Repository, target: bytes) -> bytes:
    with repo.blocks.transaction() as txn:
        return bytes(repo.objects.write_tag(txn, Tag(CommitId(target), "t", WHO, "m")))


def _copy(src: Repository, dst: Repository, ids: list[BlockId]) -> None:
    with dst.blocks.transaction() as txn:
        txn.put_many([src.blocks.get(i) for i in ids], ids)


def test_a_loose_tree_want_is_listed_alone(tmp_path: Path) -> None:
    src = new_repo(tmp_path / "src")
    _, tree = _commit(src, {"a.txt": b"a\n", "b.bin": os.urandom(src.objects.block_size * 3)})
    with pytest.raises(IntegrityError):
        MissingWalk(src.objects).run([tree], [])  # not loose: refused as before
    walk = MissingWalk(src.objects)
    assert walk.run([tree], [], {tree}) == [tree]
    assert walk.not_commits == [tree] and walk.new_commits == []

    dst = new_repo(tmp_path / "dst")
    _copy(src, dst, [BlockId(tree)])
    assert verify_closure(dst, [tree], [], None, {tree}) == 0
    with pytest.raises(IntegrityError):
        verify_closure(dst, [tree], [])
    assert ref_value_problem(dst, "refs/heads/x", tree) == (
        "not a commit: a tree (a branch must name a commit)"
    )


def test_a_loose_tree_want_does_not_cut_short_a_commit_reaching_it(tmp_path: Path) -> None:
    """A branch at a commit and another at that commit's tree, in one listing: the
    commit's files are all listed; and the receiver's check, missing one of them,
    fails, whatever the order of the wants."""
    src = new_repo(tmp_path / "src")
    commit, tree = _commit(src, {"a.txt": b"a\n", "b.txt": b"b\n"})
    full = MissingWalk(src.objects).run([commit], [])
    for wants in ([tree, commit], [commit, tree]):
        assert sorted(MissingWalk(src.objects).run(wants, [], {tree})) == sorted(full)
    dst = new_repo(tmp_path / "dst")
    blob = next(e.id for e in src.objects.read_tree(TreeId(tree)).entries if e.name == "a.txt")
    _copy(src, dst, [i for i in full if i != blob])
    for wants in ([tree, commit], [commit, tree]):
        with pytest.raises(IntegrityError, match="missing"):
            verify_closure(dst, wants, [], None, set(wants))


def test_loose_data_and_tags_of_trees(tmp_path: Path) -> None:
    """File data is listed by its first block only (a branch at a 1 GiB file costs
    one block), a tag of a tree by the tag object and the tree; the receiver then
    tells what each is."""
    src = new_repo(tmp_path / "src")
    block = src.objects.block_size
    _, tree = _commit(src, {"a.txt": b"a\n"})
    big, size = _content(src, os.urandom(block * 5))
    assert size > block
    small, _ = _content(src, b"just data\n")
    tag = _tag(src, tree)
    loose = {big, small, tag}
    listed = MissingWalk(src.objects).run([big, small, tag], [], loose)
    assert sorted(listed) == sorted([big, small, tag, tree])

    dst = new_repo(tmp_path / "dst")
    _copy(src, dst, [BlockId(i) for i in listed])
    assert verify_closure(dst, [big, small, tag], [], None, loose) == 0
    assert object_kind(dst, big) == object_kind(dst, small) == "data"
    assert ref_value_problem(dst, "refs/heads/x", big, explain=False) == ("not a commit: file data")
    assert ref_value_problem(dst, "refs/tags/x", tag) == (
        "an annotated tag of a tree, not of a commit"
    )


def test_only_ids_a_shown_ref_names_are_served(tmp_path: Path) -> None:
    """As git serves only what it advertised ("not our ref"): a Want of a tree or a
    commit is listed when a shown ref names it now, or named it when the refs were
    listed to this peer (``advertised``), refused otherwise before any listing."""
    repo = new_repo(tmp_path / "r")
    commit, tree = _commit(repo, {"a.txt": b"a\n"})
    want = m.Want("proj", (m.BlockId(tree),), (), 0)
    with pytest.raises(AccessDeniedError, match=f"not our ref {tree.hex()}"):
        LackingPages().page(repo, want)
    repo.refs.update("refs/heads/at-tree", CommitId(tree), WHO, "by hand")
    page = LackingPages().page(repo, want)
    assert page.ids == (tree,) and page.complete
    repo.refs.update("refs/heads/at-tree", None, WHO, "by hand")
    repo.refs.update("refs/remotes/origin/at-tree", CommitId(tree), WHO, "by hand")
    with pytest.raises(AccessDeniedError):  # refs/remotes/* are not shown to peers
        LackingPages().page(repo, want)
    commit_want = m.Want("proj", (m.BlockId(commit),), (), 0)
    pages = LackingPages()
    with pytest.raises(AccessDeniedError, match="not our ref"):  # no ref names it
        pages.page(repo, commit_want)
    assert not pages.offered  # nothing listed, so no block of it is served
    assert pages.page(repo, commit_want, advertised=frozenset({commit})).complete
    repo.refs.update("refs/tags/v1", CommitId(commit), WHO, "by hand")
    assert LackingPages().page(repo, commit_want).complete


def test_haves_skip_a_local_ref_naming_a_tree(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "r")
    commit, tree = _commit(repo, {"a.txt": b"a\n"})
    assert spaced_haves(repo.objects, [tree, commit]) == [commit]
