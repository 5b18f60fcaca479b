"""The closure check of a transfer (``cofd.sync.transfer.verify_closure``) stays sound.

A manifest node that is present (stored by an interrupted transfer) says nothing about
its children: only objects reachable from the receiver's refs prune the walk.
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
    Signature,
    Tree,
    TreeEntry,
    TreeId,
)
from cofd.ops.repository import Repository, create_layout
from cofd.store.ids import BlockId
from cofd.sync.transfer import verify_closure
from protocol.errors import IntegrityError

WHO = Signature("Test", "t@example.com", 1_700_000_000, 0)


def new_repo(path: Path) -> Repository:
    path.mkdir()
    create_layout(path)
    return Repository.open(path)


def _commit(repo: Repository, data: bytes, parents: tuple[bytes, ...] = ()) -> bytes:
    with repo.blocks.transaction() as txn:
        writer = repo.objects.content_writer(txn)
        writer.write(data)
        content, size = writer.finish()
        tree = Tree((TreeEntry("big.bin", Kind.FILE, MODE_FILE, content, size),))
        tree_id = repo.objects.write_tree(txn, tree)
        ids = tuple(CommitId(p) for p in parents)
        commit = Commit(ids, TreeId(tree_id), WHO, WHO, "c", len(parents) + 1)
        return bytes(repo.objects.write_commit(txn, commit))


def _leaves(repo: Repository, commit_id: bytes) -> list[BlockId]:
    [entry] = repo.objects.read_tree(repo.objects.read_commit(CommitId(commit_id)).tree).entries
    return list(repo.objects.iter_content_blocks(BlockId(entry.id), entry.size))


def _copy(src: Repository, dst: Repository, skip: set[BlockId]) -> None:
    ids = [i for i, _ in src.blocks.index.iter_blocks() if i not in skip]
    with dst.blocks.transaction() as txn:
        txn.put_many([src.blocks.get(i) for i in ids], ids)


def test_present_manifest_nodes_do_not_prove_their_children(tmp_path: Path) -> None:
    src = new_repo(tmp_path / "src")
    block = src.objects.block_size
    first = _commit(src, os.urandom(block * 200))
    changed = bytearray(os.urandom(block * 200))
    second = _commit(src, bytes(changed), (first,))
    dst = new_repo(tmp_path / "dst")
    # The receiver holds all of `first` (as if a ref pointed at it) and, as after an
    # interrupted transfer, every block of `second` except one of its new leaves.
    new_leaf = next(i for i in _leaves(src, second) if i not in set(_leaves(src, first)))
    _copy(src, dst, {new_leaf})
    with pytest.raises(IntegrityError, match="missing"):
        verify_closure(dst, [second], [first])
    with pytest.raises(IntegrityError, match="missing"):
        verify_closure(dst, [second], [])
    assert verify_closure(dst, [first], []) == 1  # the complete one passes
    _copy(src, dst, set())
    assert verify_closure(dst, [second], [first]) == 2
