"""ObjectStore: objects and file contents on top of the block store.

Writes go through a ``WriteTxn`` supplied by the caller so that an operation (an
``add`` of many files, a commit) is one transaction. Reads verify everything: the
block store re-hashes each block and manifests are checked against the sizes their
parents record.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import TypeVar

from cofd.objects.encoding import object_tag
from cofd.objects.model import Commit, CommitId, Tag, TagId, Tree, TreeId
from cofd.store.blockstore import BlockStore, WriteTxn
from cofd.store.ids import BlockId, hash_block, to_hex
from cofd.store.manifest import ManifestBuilder, decode_node, is_node, iter_leaf_batches
from protocol.errors import IntegrityError

T = TypeVar("T")
Chunk = TypeVar("Chunk", bound=bytes | memoryview)

# Decoded commits and trees kept per repository: small objects, read repeatedly by
# log, status (HEAD's tree) and revision parsing.
OBJECT_CACHE_ENTRIES = 4096
# Blocks handed to the store per call when writing a stream: 4 MiB of 4 KiB blocks.
WRITE_BATCH_BLOCKS = 1024
# Leaves handed to the block store at once when reading content: many manifest
# nodes' worth (8 MiB of 4 KiB blocks), so that the store's record-wise lookups
# rarely split a frame between two calls. Only ids and index rows are held per
# batch: the data is read and handed on a span (<= 1 MiB) at a time.
READ_BATCH_BLOCKS = 2048


class _ObjectCache:
    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._items: OrderedDict[tuple[str, bytes], object] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_load(self, key: tuple[str, bytes], load: Callable[[], T]) -> T:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]  # type: ignore[return-value]
        value = load()
        with self._lock:
            self._items[key] = value
            if len(self._items) > self._capacity:
                self._items.popitem(last=False)
        return value

    def __contains__(self, key: tuple[str, bytes]) -> bool:
        with self._lock:
            return key in self._items


class ContentWriter:
    """Streams content into blocks and builds its manifest; call ``finish`` at the end."""

    def __init__(
        self, txn: WriteTxn | None, block_size: int, previous: Iterator[BlockId] | None = None
    ) -> None:
        # Without a transaction the writer only computes the content id (used by
        # status to compare a changed file with the staged version).
        self._txn = txn
        # Leaf ids of the version being replaced, in order: a new block equal to the
        # old one at the same position is known to be stored, so neither looked up
        # nor written (a one-block edit of a large file touches one block).
        self._previous = previous
        self._block_size = block_size
        self._builder = ManifestBuilder(self._put_node)
        self._pending = bytearray()
        self._batch: list[bytes] = []
        self.size = 0

    def _put_node(self, data: bytes) -> BlockId:
        return self._txn.put(data) if self._txn is not None else hash_block(data)

    def write(self, data: bytes | memoryview) -> None:
        self._pending += data
        self.size += len(data)
        bs = self._block_size
        if len(self._pending) >= bs:
            whole = len(self._pending) - len(self._pending) % bs
            view = memoryview(self._pending)
            self._batch.extend(bytes(view[i : i + bs]) for i in range(0, whole, bs))
            view.release()
            del self._pending[:whole]
            if len(self._batch) >= WRITE_BATCH_BLOCKS:
                self._flush_batch()

    def _flush_batch(self) -> None:
        if not self._batch:
            return
        ids = [hash_block(b) for b in self._batch]
        if self._txn is not None:
            self._store_unknown(ids)
        self._builder.add_many([(i, len(b)) for i, b in zip(ids, self._batch, strict=True)])
        self._batch = []

    def write_hashed(self, blocks: list[bytes], ids: list[BlockId]) -> None:
        """Add whole blocks whose ids the caller computed (``hash_block``); only the
        last block of the content may be short. Not to be mixed with :meth:`write`."""
        assert not self._pending and not self._batch, "write_hashed after write"
        self.size += sum(len(b) for b in blocks)
        if self._txn is not None:
            self._store_unknown(ids, blocks)
        self._builder.add_many([(i, len(b)) for i, b in zip(ids, blocks, strict=True)])

    def _store_unknown(self, ids: list[BlockId], blocks: list[bytes] | None = None) -> None:
        assert self._txn is not None
        batch = self._batch if blocks is None else blocks
        if self._previous is None:
            self._txn.put_many(batch, ids)
            return
        old = list(itertools.islice(self._previous, len(ids)))
        unknown = [i for i, block_id in enumerate(ids) if i >= len(old) or old[i] != block_id]
        if unknown:
            self._txn.put_many([batch[i] for i in unknown], [ids[i] for i in unknown])

    def finish(self) -> tuple[BlockId, int]:
        if self._pending or self.size == 0:
            self._batch.append(bytes(self._pending))
            self._pending.clear()
        self._flush_batch()
        return self._builder.finish()


class ObjectStore:
    def __init__(self, blocks: BlockStore) -> None:
        self.blocks = blocks
        self.block_size = blocks.block_size
        self._cache = _ObjectCache(OBJECT_CACHE_ENTRIES)

    # -- writing --------------------------------------------------------------------

    def content_writer(
        self, txn: WriteTxn | None, previous: tuple[BlockId, int] | None = None
    ) -> ContentWriter:
        """A writer for new content; ``previous`` (content id, size) names the version
        it replaces, whose blocks are then recognised without index lookups."""
        leaves = None
        if previous is not None and previous[1] > self.block_size:
            leaves = iter(self.iter_content_blocks(*previous))
        return ContentWriter(txn, self.block_size, leaves)

    def write_bytes(self, txn: WriteTxn, data: bytes) -> BlockId:
        writer = self.content_writer(txn)
        writer.write(data)
        return writer.finish()[0]

    def write_tree(self, txn: WriteTxn, tree: Tree) -> TreeId:
        return TreeId(self.write_bytes(txn, tree.encode()))

    def write_commit(self, txn: WriteTxn, commit: Commit) -> CommitId:
        return CommitId(self.write_bytes(txn, commit.encode()))

    # -- reading --------------------------------------------------------------------

    def read_object_bytes(self, object_id: bytes) -> bytes:
        """The encoding of a commit or tree, reassembled if it spans a manifest."""
        first = self.blocks.get(BlockId(object_id))
        if not is_node(first):
            return first
        node = decode_node(first, f"object {to_hex(object_id)}")
        return b"".join(self.iter_content(BlockId(object_id), node.size))

    def read_tree(self, tree_id: TreeId) -> Tree:
        return self._cache.get_or_load(
            ("tree", tree_id),
            lambda: Tree.decode(self.read_object_bytes(tree_id), f"tree {to_hex(tree_id)}"),
        )

    def read_commit(self, commit_id: CommitId) -> Commit:
        return self._cache.get_or_load(
            ("commit", commit_id),
            lambda: Commit.decode(self.read_object_bytes(commit_id), f"commit {to_hex(commit_id)}"),
        )

    def write_tag(self, txn: WriteTxn, tag: Tag) -> TagId:
        return TagId(self.write_bytes(txn, tag.encode()))

    def read_tag(self, tag_id: TagId) -> Tag:
        return self._cache.get_or_load(
            ("tag", tag_id),
            lambda: Tag.decode(self.read_object_bytes(tag_id), f"tag {to_hex(tag_id)}"),
        )

    def kind_of(self, object_id: bytes) -> str | None:
        """The type tag of a stored object ("commit", "tree", "tag"), None if not one."""
        try:
            return object_tag(self.read_object_bytes(object_id))
        except IntegrityError:
            return None

    def peel(self, object_id: bytes) -> CommitId:
        """The commit a ref value names: itself, or an annotated tag's target.

        Each object is read once: a commit found on the way lands in the decoded-object
        cache, so the caller's ``read_commit`` that usually follows costs nothing.
        """
        for _ in range(8):  # tags of tags, bounded
            if ("commit", object_id) in self._cache:
                return CommitId(object_id)
            data = self.read_object_bytes(object_id)
            where = f"object {to_hex(object_id)}"
            kind = object_tag(data)
            if kind != "tag":
                if kind == "commit":
                    self._cache.get_or_load(
                        ("commit", object_id), partial(Commit.decode, data, where)
                    )
                return CommitId(object_id)
            tag = self._cache.get_or_load(("tag", object_id), partial(Tag.decode, data, where))
            object_id = tag.target
        raise IntegrityError(f"tag chain at {to_hex(object_id)} is too long")

    def is_commit(self, object_id: bytes) -> bool:
        try:
            self.read_commit(CommitId(object_id))
        except IntegrityError:
            return False
        return True

    def iter_content(self, content_id: BlockId, size: int) -> Iterator[bytes]:
        """Yield the content's data blocks in order; total length is checked."""
        return self._iter_leaves(content_id, size, self._read_leaves)

    def iter_content_runs(self, content_id: BlockId, size: int) -> Iterator[bytes | memoryview]:
        """The content in order as pieces of one or more whole blocks, each verified;
        total length is checked. What a file is written from: a piece is often a
        memoryview of a span the store read (up to 1 MiB: a consumer that keeps the
        pieces keeps those spans), so no block is copied on the way."""
        return self._iter_leaves(content_id, size, self._read_runs)

    def _iter_leaves(
        self,
        content_id: BlockId,
        size: int,
        read: Callable[[list[tuple[BlockId, int]]], Iterator[Chunk]],
    ) -> Iterator[Chunk]:
        produced = 0
        pending: list[tuple[BlockId, int]] = []
        for batch in iter_leaf_batches(self.blocks.get, content_id, size, self.block_size):
            pending += batch
            if len(pending) < READ_BATCH_BLOCKS:
                continue
            for data in read(pending):
                produced += len(data)
                yield data
            pending = []
        for data in read(pending):
            produced += len(data)
            yield data
        if produced != size:
            raise IntegrityError(
                f"content {to_hex(content_id)} is {produced} bytes, expected {size}"
            )

    def _read_leaves(self, leaves: list[tuple[BlockId, int]]) -> Iterator[bytes]:
        for (block_id, expected), data in zip(
            leaves, self.blocks.get_many([b for b, _ in leaves]), strict=True
        ):
            if len(data) != expected:
                raise IntegrityError(f"block {to_hex(block_id)} has the wrong length")
            yield data

    def _read_runs(self, leaves: list[tuple[BlockId, int]]) -> Iterator[bytes | memoryview]:
        if not leaves:
            return iter(())
        ids, sizes = zip(*leaves, strict=True)
        return self.blocks.get_runs(ids, sizes)

    def iter_content_blocks(self, content_id: BlockId, size: int) -> Iterable[BlockId]:
        """Leaf ids of content, in order (for statistics and changed-block counts)."""
        for batch in iter_leaf_batches(self.blocks.get, content_id, size, self.block_size):
            for block_id, _ in batch:
                yield block_id
