"""Merkle manifests over a real store: shapes, streaming leaves, edits, lies, fuzz."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cofd.store.blockstore import BlockStore
from cofd.store.ids import ID_LEN, BlockId, hash_block
from cofd.store.manifest import (
    FANOUT,
    MAX_LEVEL,
    ManifestBuilder,
    Node,
    decode_node,
    is_node,
    iter_leaf_batches,
)
from protocol.codec import pack
from protocol.errors import IntegrityError

BS = 4096
PATTERNS = [bytes([i, 255 - i, i ^ 0x5A, 7]) * (BS // 4) for i in range(13)]


def content_blocks(size: int) -> list[bytes]:
    """Content of ``size`` bytes as its blocks, cycling through a few patterns."""
    if size == 0:
        return [b""]
    count = -(-size // BS)
    blocks = [PATTERNS[i % len(PATTERNS)] for i in range(count)]
    tail = size - (count - 1) * BS
    blocks[-1] = blocks[-1][:tail]
    return blocks


def store_content(store: BlockStore, size: int) -> tuple[BlockId, int, list[tuple[BlockId, int]]]:
    blocks = content_blocks(size)
    with store.transaction() as txn:
        distinct = {hash_block(b): b for b in blocks}
        txn.put_many(list(distinct.values()))
        builder = ManifestBuilder(txn.put)
        leaves = [(hash_block(b), len(b)) for b in blocks]
        for leaf_id, leaf_size in leaves:
            builder.add(leaf_id, leaf_size)
        root, total = builder.finish()
    return root, total, leaves


def depth_of(store: BlockStore, root: BlockId, size: int) -> int:
    if size <= BS:
        return 0
    return decode_node(store.get(root)).level


@pytest.mark.parametrize(
    ("size", "depth"),
    [
        (0, 0),
        (1, 0),
        (BS, 0),
        (BS + 1, 1),
        (FANOUT * BS, 1),
        (FANOUT * BS + 1, 2),
        (FANOUT * FANOUT * BS + 1, 3),
    ],
)
def test_builder_and_leaf_batches_round_trip(store: BlockStore, size: int, depth: int) -> None:
    root, total, leaves = store_content(store, size)
    assert total == size
    if len(leaves) == 1:
        assert root == leaves[0][0]  # small content is its own block, no manifest
    assert depth_of(store, root, size) == depth
    batches = list(iter_leaf_batches(store.get, root, size, BS))
    assert all(1 <= len(batch) <= FANOUT for batch in batches)
    assert [leaf for batch in batches for leaf in batch] == leaves
    # The leaves read back reproduce the content byte for byte.
    digest = hashlib.sha256()
    for batch in batches:
        for data in store.get_many([leaf_id for leaf_id, _ in batch]):
            digest.update(data)
    assert digest.digest() == hashlib.sha256(b"".join(content_blocks(size))).digest()


def test_nodes_fit_in_one_block() -> None:
    worst = Node(MAX_LEVEL, tuple((BlockId(bytes([i]) * ID_LEN), 2**64 - 1) for i in range(96)))
    assert len(worst.encode()) <= BS
    assert decode_node(worst.encode()) == worst
    assert is_node(worst.encode())


def test_one_block_edit_writes_one_node_per_level(store: BlockStore) -> None:
    count = 10 * 1024  # 40 MiB of 4 KiB blocks: three levels
    leaves = [(hash_block(PATTERNS[i % len(PATTERNS)]), BS) for i in range(count)]
    with store.transaction() as txn:
        txn.put_many(PATTERNS)
        builder = ManifestBuilder(txn.put)
        for leaf in leaves:
            builder.add(*leaf)
        root, size = builder.finish()
    assert decode_node(store.get(root)).level == 3

    edited = b"edited block".ljust(BS, b"!")
    changed = list(leaves)
    changed[5000] = (hash_block(edited), BS)
    with store.transaction() as txn:
        txn.put(edited)
        builder = ManifestBuilder(txn.put)
        for leaf in changed:
            builder.add(*leaf)
        new_root, new_size = builder.finish()
        assert txn.new_blocks == 1 + 3  # the data block, one node per level
    assert new_size == size and new_root != root
    got = [leaf for batch in iter_leaf_batches(store.get, new_root, size, BS) for leaf in batch]
    assert got == changed


def put_node(store: BlockStore, node: Node) -> BlockId:
    with store.transaction() as txn:
        return txn.put(node.encode())


def test_node_lying_about_sizes(store: BlockStore) -> None:
    a, b = hash_block(PATTERNS[0]), hash_block(PATTERNS[1])
    honest = put_node(store, Node(1, ((a, BS), (b, BS))))
    with pytest.raises(IntegrityError, match="does not match its parent"):
        list(iter_leaf_batches(store.get, honest, 2 * BS + 1, BS))
    # A parent that claims more for a child than the child holds.
    parent = put_node(store, Node(2, ((honest, 3 * BS), (honest, 2 * BS))))
    with pytest.raises(IntegrityError, match=honest.hex()):
        list(iter_leaf_batches(store.get, parent, 5 * BS, BS))


def test_node_levels_must_decrease(store: BlockStore) -> None:
    a = hash_block(PATTERNS[0])
    level2_leafy = put_node(store, Node(2, ((a, BS), (a, BS))))
    root = put_node(store, Node(2, ((level2_leafy, 2 * BS),)))
    with pytest.raises(IntegrityError, match="does not match its parent"):
        list(iter_leaf_batches(store.get, root, 2 * BS, BS))


def test_manifest_pointing_at_data_is_an_integrity_error(store: BlockStore) -> None:
    with store.transaction() as txn:
        data_id = txn.put(PATTERNS[2])
    with pytest.raises(IntegrityError, match=r"not a manifest node|malformed"):
        list(iter_leaf_batches(store.get, data_id, 2 * BS, BS))


def test_builder_refuses_no_leaves() -> None:
    with pytest.raises(ValueError, match="no leaves"):
        ManifestBuilder(hash_block).finish()


ID = b"\x11" * ID_LEN


@pytest.mark.parametrize(
    "obj",
    [
        ["manifest", 1, 1, ID],
        ["manifest", 1, 1, ID, [1], "extra"],
        ["manifesto", 1, 1, ID, [1]],
        ["manifest", 2, 1, ID, [1]],
        ["manifest", 1, 0, ID, [1]],
        ["manifest", 1, MAX_LEVEL + 1, ID, [1]],
        ["manifest", 1, "1", ID, [1]],
        ["manifest", 1, True, ID, [1]],
        ["manifest", 1, 1, "text", [1]],
        ["manifest", 1, 1, ID, (1).to_bytes(1, "big")],
        ["manifest", 1, 1, ID[:-1], [1]],
        ["manifest", 1, 1, ID + ID, [1]],
        ["manifest", 1, 1, b"", []],
        ["manifest", 1, 1, ID * (FANOUT + 1), [1] * (FANOUT + 1)],
        ["manifest", 1, 1, ID, [-1]],
        ["manifest", 1, 1, ID, [1.5]],
        ["manifest", 1, 1, ID, [True]],
        ["manifest", 1, 1, ID, [None]],
        {"manifest": 1},
        "manifest",
    ],
)
def test_decode_node_rejects_malformed(obj: object) -> None:
    with pytest.raises(IntegrityError):
        decode_node(pack(obj))


def test_decode_node_rejects_trailing_bytes_and_garbage() -> None:
    good = Node(1, ((BlockId(ID), 5),)).encode()
    assert decode_node(good) == Node(1, ((BlockId(ID), 5),))
    for bad in (good + b"\x00", good[:-1], b"", b"\xc1", b"\xff" * 10):
        with pytest.raises(IntegrityError):
            decode_node(bad)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4096))
def test_decode_node_arbitrary_bytes(data: bytes) -> None:
    try:
        node = decode_node(data)
    except IntegrityError:
        return
    assert isinstance(node, Node)


msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.binary(max_size=70)
    | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=6),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(msgpack_values, max_size=6).map(lambda items: ["manifest", 1, *items])
    | st.tuples(
        st.integers(-2, 10), st.binary(max_size=200), st.lists(msgpack_values, max_size=8)
    ).map(lambda t: ["manifest", 1, t[0], t[1], t[2]])
)
def test_decode_node_structured_fuzz(obj: list[object]) -> None:
    try:
        node = decode_node(pack(obj))
    except IntegrityError:
        return
    assert 1 <= node.level <= MAX_LEVEL
    assert 1 <= len(node.children) <= FANOUT
    assert node.encode() == pack(obj)  # anything accepted is in canonical form


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, MAX_LEVEL),
    st.lists(
        st.tuples(st.binary(min_size=32, max_size=32), st.integers(0, 2**64 - 1)),
        min_size=1,
        max_size=FANOUT,
    ),
)
def test_node_round_trip(level: int, children: list[tuple[bytes, int]]) -> None:
    node = Node(level, tuple((BlockId(i), s) for i, s in children))
    assert decode_node(node.encode()) == node


@pytest.mark.parametrize("count", [1, 2, 95, 96, 97, 96 * 96, 96 * 96 + 1, 3 * 96 * 96 + 17])
def test_add_many_builds_the_same_manifest_as_add(count: int) -> None:
    leaves = [(BlockId(hashlib.blake2s(i.to_bytes(4, "big")).digest()), 4096) for i in range(count)]
    one_by_one = ManifestBuilder(hash_block)
    for leaf_id, size in leaves:
        one_by_one.add(leaf_id, size)
    in_bulk = ManifestBuilder(hash_block)
    for start in range(0, count, 1000):  # batches that do not align with the fanout
        in_bulk.add_many(leaves[start : start + 1000])
    assert in_bulk.finish() == one_by_one.finish()
