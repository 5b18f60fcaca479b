"""Manifests: Merkle trees of blocks for content larger than one block.

A node lists up to :data:`FANOUT` children as ``(id, size)``; level-1 nodes point
at data blocks, level-k nodes at level-(k-1) nodes. Content of at most one block is
its own block (no manifest); larger content is named by its root node's id. A
one-block edit in a 1 GiB file therefore stores one data block and one node per
level (three), not a list of every block id.

Encoding of a node (msgpack, via ``protocol.codec``)::

    ["manifest", 1, level, <ids concatenated, 32 bytes each>, [size, ...]]
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from cofd.store.ids import ID_LEN, BlockId
from protocol.codec import CodecError, pack, unpack
from protocol.errors import IntegrityError

TAG = "manifest"
VERSION = 1
# 96 children: 96 x 32-byte ids + 96 sizes (at most 9 bytes each in msgpack) + a
# small header stays under 4096 bytes, so every node is exactly one block.
FANOUT = 96
# A tree deeper than this would describe more than 96**8 blocks (~2.9e15 TiB).
MAX_LEVEL = 8


@dataclass(frozen=True, slots=True)
class Node:
    level: int
    children: tuple[tuple[BlockId, int], ...]

    def encode(self) -> bytes:
        ids = b"".join(child for child, _ in self.children)
        return pack([TAG, VERSION, self.level, ids, [size for _, size in self.children]])

    @property
    def size(self) -> int:
        return sum(size for _, size in self.children)


def is_node(data: bytes) -> bool:
    """Cheap test used by object readers: does this block start like a manifest node?"""
    # fixarray of 5, then fixstr "manifest"
    return data[:10] == b"\x95\xa8manifest"


def decode_node(data: bytes, where: str = "manifest") -> Node:
    try:
        obj = unpack(data, max_bytes=len(data))
    except CodecError as exc:
        raise IntegrityError(f"{where}: not a manifest node: {exc}") from exc
    if (
        not isinstance(obj, list)
        or len(obj) != 5
        or obj[0] != TAG
        or obj[1] != VERSION
        or type(obj[2]) is not int  # bool is an int too, but not a canonical level
        or not 1 <= obj[2] <= MAX_LEVEL
        or not isinstance(obj[3], bytes)
        or not isinstance(obj[4], list)
    ):
        raise IntegrityError(f"{where}: malformed manifest node")
    ids, sizes = obj[3], obj[4]
    count = len(sizes)
    if len(ids) != count * ID_LEN or not 1 <= count <= FANOUT:
        raise IntegrityError(f"{where}: manifest node has inconsistent child lists")
    if not all(type(s) is int and s >= 0 for s in sizes):
        raise IntegrityError(f"{where}: manifest node has invalid sizes")
    children = tuple((BlockId(ids[i * ID_LEN : (i + 1) * ID_LEN]), sizes[i]) for i in range(count))
    return Node(obj[2], children)


class ManifestBuilder:
    """Builds a manifest bottom-up while leaves stream in; memory is O(levels x FANOUT).

    ``put`` stores one encoded node and returns its id (normally ``WriteTxn.put``).
    """

    def __init__(self, put: object) -> None:
        assert callable(put)
        self._put = put
        self._levels: list[list[tuple[BlockId, int]]] = [[]]

    def add(self, block_id: BlockId, size: int) -> None:
        self._push(0, block_id, size)

    def add_many(self, leaves: list[tuple[BlockId, int]]) -> None:
        """Add leaves in order; same result as calling :meth:`add` for each."""
        pending = self._levels[0]
        for start in range(0, len(leaves), FANOUT):
            pending += leaves[start : start + FANOUT]
            while len(pending) > FANOUT:
                node = Node(1, tuple(pending[:FANOUT]))
                del pending[:FANOUT]
                self._push(1, self._put(node.encode()), node.size)

    def _push(self, level: int, block_id: BlockId, size: int) -> None:
        if level == len(self._levels):
            self._levels.append([])
        pending = self._levels[level]
        pending.append((block_id, size))
        if len(pending) > FANOUT:
            # Emit a full node only when a further child arrives, so the last
            # node of a level is always emitted by finish() and the root is known.
            node = Node(level + 1, tuple(pending[:FANOUT]))
            del pending[:FANOUT]
            self._push(level + 1, self._put(node.encode()), node.size)

    def finish(self) -> tuple[BlockId, int]:
        """Flush every level and return (root id, total size)."""
        level = 0
        while True:
            pending = self._levels[level]
            is_top = level == len(self._levels) - 1
            if is_top and len(pending) == 1:
                return pending[0]
            if not pending:
                raise ValueError("manifest of no leaves")
            node = Node(level + 1, tuple(pending))
            self._levels[level] = []
            self._push(level + 1, self._put(node.encode()), node.size)
            level += 1


def iter_leaf_batches(
    get: object, root: BlockId, size: int, block_size: int
) -> Iterator[list[tuple[BlockId, int]]]:
    """Yield the leaves (data block ids and sizes) of content, one level-1 node at a time.

    ``get`` reads and verifies one block (``BlockStore.get``). Sizes recorded in the
    nodes are checked against the size the caller expects, so a manifest that lies
    about its content length is an integrity error, not a short or long file.
    """
    assert callable(get)
    if size <= block_size:
        yield [(root, size)]
        return
    stack: list[tuple[BlockId, int, int]] = [(root, size, MAX_LEVEL + 1)]
    while stack:
        node_id, expected, parent_level = stack.pop()
        node = decode_node(get(node_id), f"manifest node {node_id.hex()}")
        if node.size != expected or node.level >= parent_level:
            raise IntegrityError(f"manifest node {node_id.hex()} does not match its parent")
        if node.level == 1:
            yield list(node.children)
        else:
            stack.extend((cid, csize, node.level) for cid, csize in reversed(node.children))


def walk_nodes(
    get: object,
    root: BlockId,
    size: int,
    skip: object = None,
) -> Iterator[tuple[BlockId, Node]]:
    """Yield every manifest node of content larger than one block, parents first.

    ``skip(node_id)`` returning True prunes that node's subtree (already visited:
    identical subtrees are shared between versions of a file). Nodes are checked
    as :func:`iter_leaf_batches` checks them; the leaves are each level-1 node's
    children.
    """
    assert callable(get)
    stack: list[tuple[BlockId, int, int]] = [(root, size, MAX_LEVEL + 1)]
    while stack:
        node_id, expected, parent_level = stack.pop()
        if skip is not None and node_id != root and skip(node_id):  # type: ignore[operator]
            continue
        node = decode_node(get(node_id), f"manifest node {node_id.hex()}")
        if node.size != expected or node.level >= parent_level:
            raise IntegrityError(f"manifest node {node_id.hex()} does not match its parent")
        yield node_id, node
        if node.level > 1:
            stack.extend((cid, csize, node.level) for cid, csize in reversed(node.children))
