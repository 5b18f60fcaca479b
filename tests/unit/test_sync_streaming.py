"""Transfers stream their id lists: bounded sets, lazy walks, in-order Lacking pages.

A clone of a repository with hundreds of millions of blocks must not hold their ids:
the walk yields ids as it finds them and remembers a bounded recent part
(``RecentIds``); the server answers Want pages from one walk, in order; the closure
check looks up whatever its bounded ``known`` set has forgotten.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cofd.objects.model import MODE_FILE, Commit, CommitId, Kind, Signature, Tree, TreeEntry, TreeId
from cofd.ops.repository import Repository, create_layout
from cofd.store.ids import BlockId
from cofd.sync.recent import RecentIds
from cofd.sync.serving import LackingPages, split_offered
from cofd.sync.transfer import verify_closure
from cofd.sync.walk import MissingWalk
from protocol.errors import IntegrityError, ProtocolError
from protocol.peer import messages as m

WHO = Signature("Test", "t@example.com", 1_700_000_000, 0)


# -- RecentIds --------------------------------------------------------------------------


@given(
    st.lists(st.binary(min_size=1, max_size=2), max_size=300),
    st.integers(2, 40),
    st.lists(st.binary(min_size=1, max_size=2), max_size=300),
)
def test_recent_ids_keeps_the_last_half_and_never_more_than_capacity(
    items: list[bytes], capacity: int, lookups: list[bytes]
) -> None:
    """Lookups in between (another thread's, in the serving daemon) change nothing."""
    recent = RecentIds(capacity)
    for n, item in enumerate(items):
        recent.add(item)
        assert len(recent) <= capacity
        for probe in lookups[n % 7 : n % 7 + 3]:
            _ = probe in recent
    distinct_tail: list[bytes] = []
    for item in reversed(items):  # the last capacity // 2 distinct ids added
        if item not in distinct_tail:
            distinct_tail.append(item)
    for item in distinct_tail[: capacity // 2]:
        assert item in recent


def test_recent_ids_forgets_old_ids_and_keeps_recurring_ones() -> None:
    recent = RecentIds(4, refresh=True)
    recent.add(b"hot")
    for n in range(100):
        recent.add(b"%d" % n)
        assert b"hot" in recent  # a hit copies it into the young generation
    assert b"0" not in recent
    with pytest.raises(ValueError):
        RecentIds(1)


# -- the streaming walk ---------------------------------------------------------------------


def _repo(path: Path) -> Repository:
    path.mkdir()
    create_layout(path)
    return Repository.open(path)


def _commit(repo: Repository, files: dict[str, bytes]) -> bytes:
    with repo.blocks.transaction() as txn:
        entries = []
        for name, data in sorted(files.items()):
            writer = repo.objects.content_writer(txn)
            writer.write(data)
            content, size = writer.finish()
            entries.append(TreeEntry(name, Kind.FILE, MODE_FILE, content, size))
        tree_id = repo.objects.write_tree(txn, Tree(tuple(entries)))
        commit = Commit((), TreeId(tree_id), WHO, WHO, "c", 1)
        commit_id = repo.objects.write_commit(txn, commit)
    repo.refs.update("refs/heads/main", commit_id, WHO, "c")  # served: a ref names it
    return bytes(commit_id)


@pytest.fixture
def big_repo(tmp_path: Path) -> tuple[Repository, bytes]:
    """Two copies of a 600-block file plus a file that repeats one block 300 times."""
    repo = _repo(tmp_path / "src")
    block = repo.objects.block_size
    data = os.urandom(block * 600)
    same = os.urandom(block) * 300
    return repo, _commit(repo, {"a.bin": data, "b.bin": data, "z.bin": same})


def test_a_forgetful_walk_lists_the_same_ids_possibly_twice(
    big_repo: tuple[Repository, bytes],
) -> None:
    repo, commit = big_repo
    exact = MissingWalk(repo.objects).run([commit], [])
    assert len(exact) == len(set(exact))  # a roomy memory lists each id once
    small = MissingWalk(repo.objects, seen_capacity=16).run([commit], [])
    assert set(small) == set(exact)
    assert len(small) <= 3 * len(exact)  # forgotten ids come back, the walk stays linear
    assert len({i for i in small if small.count(i) > 1}) > 0  # and it did forget some


def test_the_walk_is_lazy(big_repo: tuple[Repository, bytes]) -> None:
    repo, commit = big_repo
    reads: list[BlockId] = []
    walk = MissingWalk(repo.objects)
    get = walk.get
    walk.get = lambda block_id: reads.append(block_id) or get(block_id)  # type: ignore[method-assign, func-returns-value]
    ids = walk.iter([commit], [])
    first = [next(ids) for _ in range(10)]
    assert len(reads) < 20, len(reads)  # not the 600-block file's manifest and more
    rest = list(ids)
    assert len(first) + len(rest) == len(MissingWalk(repo.objects).run([commit], []))
    assert walk.max_sequence == 1


# -- Lacking pages ------------------------------------------------------------------------


def _want(commit: bytes, offset: int) -> m.Want:
    return m.Want("proj", (m.BlockId(commit),), (), offset)


def test_lacking_pages_stream_the_walk_in_order(big_repo: tuple[Repository, bytes]) -> None:
    repo, commit = big_repo
    listing = MissingWalk(repo.objects).run([commit], [])
    pages = LackingPages(page_size=100)
    got: list[bytes] = []
    while True:
        page = pages.page(repo, _want(commit, len(got)))
        assert page.offset == len(got) and len(page.ids) <= 100
        assert pages.page(repo, _want(commit, len(got))) is page  # a repeated request
        got += page.ids
        if page.complete:
            break
    assert got == listing
    with pytest.raises(ProtocolError, match="in order"):
        pages.page(repo, _want(commit, len(got)))  # nothing after the last page
    assert pages.page(repo, _want(commit, page.offset)) is page  # but it is repeated
    again = pages.page(repo, _want(commit, 0))  # offset 0 starts over
    assert list(again.ids) == listing[:100]


def test_lacking_pages_refuse_offsets_out_of_order(big_repo: tuple[Repository, bytes]) -> None:
    repo, commit = big_repo
    pages = LackingPages(page_size=100)
    with pytest.raises(ProtocolError, match="in order"):
        pages.page(repo, _want(commit, 100))  # no walk started
    pages.page(repo, _want(commit, 0))
    with pytest.raises(ProtocolError, match="in order"):
        pages.page(repo, _want(commit, 200))  # skips a page
    other = m.Want("proj", (m.BlockId(commit),), (m.BlockId(commit),), 100)
    with pytest.raises(ProtocolError, match="in order"):
        pages.page(repo, other)  # another walk's continuation
    assert pages.page(repo, _want(commit, 100)).offset == 100  # the right one still works


def test_a_long_listing_serves_every_block_of_the_pages_in_flight(
    big_repo: tuple[Repository, bytes],
) -> None:
    """A receiver asks for blocks of its last page or so while later pages are listed,
    and the serving side looks each request up in ``offered`` (between pages, many
    times): every id of the last ``capacity // 2`` listed must still be served. (Lookups
    that refreshed ids used to crowd listed ones out: a 1 GiB clone failed with "does
    not have block" on its third page.)"""
    repo, commit = big_repo
    pages = LackingPages(page_size=64)
    pages.offered = RecentIds(256)
    listed: list[bytes] = []
    served = 0  # the receiver works through the listing in order, a page behind
    while True:
        page = pages.page(repo, _want(commit, len(listed)))
        listed += page.ids
        ask = listed[served : max(served, len(listed) - 64)]
        for at in range(0, len(ask), 16):  # requests arrive a few at a time
            chunk = [(n, m.BlockId(i)) for n, i in enumerate(ask[at : at + 16])]
            _, refused = split_offered(pages.offered, chunk)
            assert not refused, f"ids {served + at}.. of {len(listed)} listed refused"
        served += len(ask)
        if page.complete:
            break
    assert served > 4 * 128  # several generations went by
    assert m.BlockId(listed[0]) not in pages.offered  # and the oldest were forgotten


def test_a_failed_walk_is_not_resumed(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "r")
    commit = _commit(repo, {"a.bin": os.urandom(repo.objects.block_size * 50)})
    pages = LackingPages(page_size=2)
    pages.page(repo, _want(commit, 0))
    missing = m.BlockId(bytes(32))
    with pytest.raises(IntegrityError):
        pages.page(repo, m.Want("proj", (missing,), (), 0), allowed={missing})
    with pytest.raises(ProtocolError):
        pages.page(repo, m.Want("proj", (missing,), (), 2), allowed={missing})


# -- the closure check with a forgetful memory ----------------------------------------------


def test_closure_check_looks_up_what_known_forgot(tmp_path: Path) -> None:
    src = _repo(tmp_path / "src")
    commit = _commit(src, {"a.bin": os.urandom(src.objects.block_size * 300)})
    ids = MissingWalk(src.objects).run([commit], [])
    dst = _repo(tmp_path / "dst")
    [entry] = src.objects.read_tree(src.objects.read_commit(CommitId(commit)).tree).entries
    lost = next(iter(src.objects.iter_content_blocks(BlockId(entry.id), entry.size)))
    keep = [i for i in ids if i != lost]
    with dst.blocks.transaction() as txn:
        txn.put_many([src.blocks.get(i) for i in keep], keep)
    known = RecentIds(len(ids) * 4)
    known.update(ids)  # claims every id, the lost one too: known skips lookups
    assert verify_closure(dst, [commit], [], known) == 1
    forgetful = RecentIds(8)
    forgetful.update(ids)  # the lost id is long forgotten: it is looked up
    with pytest.raises(IntegrityError, match=f"{lost.hex()} is missing"):
        verify_closure(dst, [commit], [], forgetful)
    with pytest.raises(IntegrityError, match="missing"):
        verify_closure(dst, [commit], [])
