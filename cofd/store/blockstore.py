"""BlockStore: write blocks into packs transactionally, read them back verified.

Write ordering (crash safety): pack bytes are written and fsynced, then the index
transaction that references them commits. A crash before the commit leaves bytes
past the committed pack length, which :meth:`BlockStore.open` truncates away.
Every read re-hashes the block; a mismatch raises ``IntegrityError`` naming the
block and the pack and is never returned as data.

Rewriting (migration, compaction, gc) writes the new records and fsyncs them, then
switches the index rows in one transaction, and only then deletes an emptied pack.
A reader that looked a block up just before the switch may find its pack gone; it
looks the block up once more and reads it from its new place.
"""

from __future__ import annotations

import errno
import itertools
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import zstandard
from blake3 import blake3

from cofd.store.cache import ByteLRU
from cofd.store.fifolock import FifoLock
from cofd.store.ids import BlockId, hash_block, to_hex
from cofd.store.index import BlockRow, Index, Location, PackInfo, row_location
from cofd.store.maintenance_state import MaintenanceState
from cofd.store.pack import (
    MAX_FRAME_BLOCKS,
    PACK_MAGIC,
    PACK_TARGET_BYTES,
    Codec,
    Member,
    Tier,
    encode_footer,
    encode_record,
    fsync_dir,
    pack_path,
    parse_record_header,
    record_header_len,
    scan_records,
)
from protocol.errors import ConfigError, IntegrityError, StorageFullError

log = logging.getLogger(__name__)

# Reads of hot blocks that lie within this distance of each other in a pack are
# served by one pread: a file's blocks are written consecutively, so a restore
# becomes a few large sequential reads instead of one syscall per block. 1 MiB (a
# whole raw frame) per read: measured against 256 KiB to 8 MiB, a span that stays
# in the CPU cache while its blocks are hashed restores fastest.
COALESCE_GAP = 64 * 1024
MAX_COALESCED_READ = 1024 * 1024
# Writes are buffered in memory up to this size before one os.write.
WRITE_BUFFER_BYTES = 4 * 1024 * 1024

_RAW = int(Codec.RAW)
_HOT = int(Tier.HOT)


@dataclass(frozen=True, slots=True)
class StoreStats:
    blocks: int
    raw_bytes_by_tier: dict[Tier, int]
    blocks_by_tier: dict[Tier, int]
    stored_bytes_by_tier: dict[Tier, int]

    @property
    def unique_bytes(self) -> int:
        return sum(self.raw_bytes_by_tier.values())

    @property
    def stored_bytes(self) -> int:
        return sum(self.stored_bytes_by_tier.values())


def _is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return isinstance(exc, sqlite3.OperationalError) and "full" in str(exc)


class BlockStore:
    """Blocks of one repository: ``objects/`` packs plus the ``index/`` database."""

    def __init__(self, cof_dir: Path, block_size: int, cache_bytes: int) -> None:
        self.cof_dir = cof_dir
        self.objects_dir = cof_dir / "objects"
        self.block_size = block_size
        index_path = cof_dir / "index" / "blocks.sqlite"
        index_was_missing = not index_path.exists()
        try:
            self.index = Index(index_path)
        except sqlite3.DatabaseError as exc:
            # A damaged index is derived data: set it aside and start a new one,
            # which _recover marks as needing `cof fsck --repair-index` (the packs
            # describe themselves, so nothing committed is lost).
            aside = _set_aside(index_path)
            log.error("index %s is unreadable (%s); moved to %s", index_path, exc, aside)
            index_was_missing = True
            self.index = Index(index_path)
        self.cache = ByteLRU(cache_bytes)
        self._read_fds: dict[int, int] = {}
        self._fd_lock = threading.Lock()
        self._write_lock = FifoLock()  # in order: a checkpointing fetch lets others in
        # Background work (migration, compaction, gc) of this store: one at a time.
        self.maintenance = MaintenanceState()
        recorded = self.index.recorded_block_size(block_size)
        if recorded != block_size:
            self.index.close()
            raise ConfigError(
                f"{cof_dir / 'config.toml'}: core.block_size: expected {recorded}, the size "
                f"this repository's blocks were cut with (got {block_size}); it cannot change"
            )
        self._recover(index_was_missing)

    @staticmethod
    def create_layout(cof_dir: Path) -> None:
        for tier in Tier:
            (cof_dir / "objects" / tier.dirname).mkdir(parents=True, exist_ok=True)
        (cof_dir / "index").mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        with self._fd_lock:
            for fd in self._read_fds.values():
                os.close(fd)
            self._read_fds.clear()
        self.index.close()

    # -- recovery -------------------------------------------------------------------

    def _recover(self, index_was_missing: bool) -> None:
        """Undo what an interrupted transaction left behind (see module docstring).

        Pack files the index does not list are either new packs of a transaction
        that never committed, or packs a committed rewrite emptied and had not yet
        deleted: both are removed. But when the index file itself was missing while
        pack files exist, the index was lost, not emptied: the store is marked as
        needing ``cof fsck --repair-index`` and no pack is removed until then (new
        packs get numbers above the existing files).
        """
        known = self.index.packs()
        listed = {p.pack for p in known}
        on_disk = [
            path
            for tier in Tier
            for path in (self.objects_dir / tier.dirname).glob("*.pack")
            if path.stem.isdigit()
        ]
        if index_was_missing and on_disk:
            self.index.mark_needs_repair(max(int(p.stem) for p in on_disk))
        if self.index.needs_repair():
            log.error("the block index of %s was lost: run 'cof fsck --repair-index'", self.cof_dir)
            return
        for info in known:
            path = pack_path(self.objects_dir, info.tier, info.pack)
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                log.error("pack %s is listed in the index but missing", path)
                continue
            if not info.sealed and size > info.length:
                log.warning("truncating %s from %d to committed %d bytes", path, size, info.length)
                os.truncate(path, info.length)
        for path in on_disk:
            if int(path.stem) not in listed:
                log.warning("removing %s: no index row refers to it", path)
                path.unlink()

    # -- reading --------------------------------------------------------------------

    def _fd(self, pack: int, tier: Tier | int) -> int:
        with self._fd_lock:
            fd = self._read_fds.get(pack)
            if fd is None:
                fd = os.open(pack_path(self.objects_dir, Tier(tier), pack), os.O_RDONLY)
                self._read_fds[pack] = fd
            return fd

    def forget_pack(self, pack: int) -> None:
        """Close cached descriptors and cache entries of a pack about to be deleted."""
        with self._fd_lock:
            fd = self._read_fds.pop(pack, None)
            if fd is not None:
                os.close(fd)
        self.cache.discard_where(lambda key: isinstance(key, tuple) and key[0] == pack)

    def has(self, block_id: BlockId) -> bool:
        return self.index.lookup(block_id) is not None

    def existing(self, ids: Sequence[BlockId]) -> set[BlockId]:
        return self.index.existing(ids)

    def location(self, block_id: BlockId) -> Location:
        loc = self.index.lookup(block_id)
        if loc is None:
            raise _missing(block_id)
        return loc

    def get(self, block_id: BlockId) -> bytes:
        return self._get_at(block_id, self.location(block_id))

    def _reread(self, block_id: BlockId, old: Location, exc: Exception) -> bytes:
        """Second try after a failed read: succeeds only if the block moved meanwhile.

        A rewrite may have switched the block to a new record and deleted the pack
        we were reading (its descriptor closed under us); anything else re-raises.
        """
        new = self.index.lookup(block_id)
        if new is None or new == old:
            if isinstance(exc, OSError):
                raise IntegrityError(
                    f"block {to_hex(block_id)}: cannot read pack {old.pack:08d} "
                    f"({old.tier.dirname}): {exc.strerror or exc}"
                ) from exc
            raise exc
        return self._read(block_id, new)

    def _decoded_record(self, loc: Location) -> bytes:
        key = (loc.pack, loc.offset)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        fd = self._fd(loc.pack, loc.tier)
        stored = os.pread(fd, loc.stored_len, loc.offset)
        limit = loc.raw_len if loc.frame_off < 0 else MAX_FRAME_BLOCKS * self.block_size
        try:
            decoded = zstandard.ZstdDecompressor().decompress(stored, max_output_size=limit)
        except zstandard.ZstdError as exc:
            raise IntegrityError(
                f"record at offset {loc.offset} in pack {loc.pack:08d} ({loc.tier.dirname}) "
                f"is corrupt: cannot decompress it: {exc}"
            ) from exc
        self.cache.put(key, decoded)
        return decoded

    def _read(self, block_id: BlockId, loc: Location, raw: bytes | None = None) -> bytes:
        if raw is None:
            if loc.codec == Codec.RAW:
                start, length = _raw_span(loc)
                raw = os.pread(self._fd(loc.pack, loc.tier), length, start)
            else:
                try:
                    decoded = self._decoded_record(loc)
                except IntegrityError as exc:
                    raise IntegrityError(f"block {to_hex(block_id)}: {exc}") from exc
                start = max(loc.frame_off, 0)
                raw = decoded[start : start + loc.raw_len]
        if len(raw) != loc.raw_len or hash_block(raw) != block_id:
            raise self._corrupt(block_id, loc)
        return raw

    @staticmethod
    def _corrupt(block_id: BlockId, loc: Location) -> IntegrityError:
        return IntegrityError(
            f"block {to_hex(block_id)} in pack {loc.pack:08d} ({loc.tier.dirname}) "
            f"at offset {loc.offset} is corrupt: its content does not match its id"
        )

    def get_many(self, ids: Sequence[BlockId]) -> Iterator[bytes]:
        """Yield the blocks in order, reading runs of adjacent hot blocks in one pread."""
        rows = self._rows(ids)
        return cast(Iterator[bytes], self._verified(ids, rows, None))

    def get_runs(
        self, ids: Sequence[BlockId], sizes: Sequence[int]
    ) -> Iterator[bytes | memoryview]:
        """The blocks' contents in order, as pieces that each hold one or more of them.

        What a restore writes to a file: consecutive blocks that lie back to back in
        a pack come out as one memoryview of the span read for them (no copy per
        block), each block of it re-hashed and compared with its id as :meth:`get`
        does. ``sizes[k]`` is the length the caller expects of block ``k`` (a
        manifest's record); a block of another length is an integrity error.
        """
        if len(sizes) != len(ids):
            raise ValueError("get_runs needs one size per id")
        return self._verified(ids, self._rows(ids), sizes)

    def _rows(self, ids: Sequence[BlockId]) -> dict[BlockId, BlockRow]:
        """Index rows of ``ids`` (and perhaps of a few others); a missing id raises.

        Looked up record by record: a file's blocks mostly lie in order in frames of
        up to 256 blocks, so the first id of a record is looked up alone and the
        record's other members come from :meth:`_record_rows`, for ~0.6 us a member
        where an IN lookup costs ~1.7 us an id (as much as hashing the block). When
        the ids do not follow their records (blocks shared with other content, or
        single-block records), the estimated extra cost of this (a lookup alone ~3
        ids' worth of IN lookups, a member examined ~0.4) soon exceeds what it saved,
        and once the excess reaches a frame's worth the remaining ids go through
        batched IN lookups: a bounded loss where blocks are scattered.
        """
        index = self.index
        found: dict[BlockId, BlockRow] = {}
        n = len(ids)
        excess = 0  # estimated cost over IN lookups so far, in IN lookups of one id
        i = 0
        while i < n:
            block_id = ids[i]
            if block_id in found:
                excess -= 1
                i += 1
                continue
            if excess > MAX_FRAME_BLOCKS:
                rest = [b for b in ids[i:] if b not in found]
                found.update(index.lookup_rows(rest))
                for block_id in rest:
                    if block_id not in found:
                        raise _missing(block_id)
                break
            row = index.lookup_row(block_id)
            if row is None:
                raise _missing(block_id)
            found[block_id] = row
            excess += 2
            i += 1
            if row[6] >= 0 and i < n:  # a frame member with ids left: its fellows may follow
                excess += self._record_rows(row, found) * 2 // 5
        return found

    def _record_rows(self, row: BlockRow, found: dict[BlockId, BlockRow]) -> int:
        """Add rows for the other blocks of ``row``'s record; return the members examined.

        Which blocks the index maps to the record comes from a scan of the covering
        index on (pack, offset); where each lies inside the frame, from the record's
        header in the pack, which lists its members in order (the index rows were made
        from it, and ``fsck --repair-index`` rebuilds them from it). The header is found
        from the number of members the index maps; when that does not match (members
        no longer mapped, or damage), the index's own rows are taken. A row that is
        wrong all the same cannot yield wrong data: each block read is hashed, and a
        failed read looks its block up again (:meth:`_reread`).
        """
        _, tier, pack, offset, stored_len, codec, _, _ = row
        mapped = self.index.record_ids(pack, offset)
        if len(mapped) <= 1:
            return 1
        record = None
        start = offset - record_header_len(len(mapped))
        if start >= len(PACK_MAGIC):
            try:
                record = parse_record_header(
                    self._fd(pack, tier), start, offset + stored_len, f"pack {pack:08d}"
                )
            except (OSError, IntegrityError):
                record = None
        if (
            record is None
            or record.data_offset != offset
            or record.codec != codec
            or record.stored_len != stored_len
        ):
            for other in self.index.record_rows(pack, offset):
                found.setdefault(other[0], other)
            return len(mapped)
        frame_off = 0
        for block_id, raw_len in record.members:
            if block_id in mapped:
                found.setdefault(
                    block_id, (block_id, tier, pack, offset, stored_len, codec, frame_off, raw_len)
                )
            frame_off += raw_len
        return len(record.members)

    def _verified(
        self, ids: Sequence[BlockId], rows: dict[BlockId, BlockRow], sizes: Sequence[int] | None
    ) -> Iterator[bytes | memoryview]:
        """Blocks one by one (``sizes`` None: bytes) or as merged pieces (memoryviews).

        A run of raw blocks close together in one pack is read with one pread; each
        block is hashed in place (a memoryview slice, no copy) and, when pieces are
        wanted, blocks adjacent in the span are handed out as one view. A block that
        does not verify goes through :meth:`_reread` (moved meanwhile, else raised);
        a block repeated back to back (runs of zero blocks) is hashed once per run.
        """
        merge = sizes is not None
        # One hasher reset after each block: cheaper than a new one per block.
        hasher = blake3()
        update, reset = hasher.update, hasher.reset
        n = len(ids)
        i = 0
        while i < n:
            block_id = ids[i]
            row = rows[block_id]
            if row[5] != _RAW:
                data = self._get_at(block_id, row_location(row))
                if sizes is not None and len(data) != sizes[i]:
                    raise _wrong_length(block_id)
                yield data
                i += 1
                continue
            j, begin, end = _run(ids, rows, i)
            pack = row[2]
            try:
                span = os.pread(self._fd(pack, row[1]), end - begin, begin)
            except OSError:
                span = b""
            if len(span) != end - begin:
                # The pack went away or is shorter than the index says: read each
                # block alone, so that each failure is reported (or recovered) as
                # get() would.
                for k in range(i, j):
                    data = self._get_at(ids[k], row_location(rows[ids[k]]))
                    if sizes is not None and len(data) != sizes[k]:
                        raise _wrong_length(ids[k])
                    yield data
                i = j
                continue
            view = memoryview(span)
            piece_start = piece_end = 0  # the piece of the span not yet yielded
            verified = None  # the block hashed last (and its bytes still in view)
            for k in range(i, j):
                block_id = ids[k]
                _, _, _, offset, _, _, frame_off, size = rows[block_id]
                rel = (offset + frame_off if frame_off >= 0 else offset) - begin
                if block_id != verified:
                    update(view[rel : rel + size])
                    digest = hasher.digest()
                    reset()
                    if digest != block_id:
                        if piece_end > piece_start:
                            yield view[piece_start:piece_end]
                        piece_start = piece_end = 0
                        verified = None
                        loc = row_location(rows[block_id])
                        data = self._reread(block_id, loc, self._corrupt(block_id, loc))
                        if sizes is not None and len(data) != sizes[k]:
                            raise _wrong_length(block_id)
                        yield data
                        continue
                    verified = block_id
                if not merge:
                    yield bytes(view[rel : rel + size])
                    continue
                if sizes[k] != size:  # type: ignore[index]
                    raise _wrong_length(block_id)
                if rel != piece_end or piece_end == piece_start:
                    if piece_end > piece_start:
                        yield view[piece_start:piece_end]
                    piece_start = rel
                piece_end = rel + size
            if piece_end > piece_start:
                yield view[piece_start:piece_end]
            i = j

    def _get_at(self, block_id: BlockId, loc: Location) -> bytes:
        try:
            return self._read(block_id, loc)
        except (OSError, IntegrityError) as exc:
            return self._reread(block_id, loc, exc)

    # -- writing --------------------------------------------------------------------

    def transaction(self) -> WriteTxn:
        return WriteTxn(self)

    # -- statistics -----------------------------------------------------------------

    def stats(self) -> StoreStats:
        totals = self.index.tier_totals()
        stored = {tier: 0 for tier in Tier}
        for info in self.index.packs():
            stored[info.tier] += info.length
        return StoreStats(
            blocks=sum(count for count, _ in totals.values()),
            raw_bytes_by_tier={tier: raw for tier, (_, raw) in totals.items()},
            blocks_by_tier={tier: count for tier, (count, _) in totals.items()},
            stored_bytes_by_tier=stored,
        )


def _set_aside(index_path: Path) -> Path:
    """Rename a damaged index database (and its WAL files) out of the way."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    aside = index_path.with_name(f"{index_path.name}.corrupt-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        source = index_path.with_name(index_path.name + suffix)
        if source.exists():
            os.replace(source, aside.with_name(aside.name + suffix))
    return aside


def _raw_span(loc: Location) -> tuple[int, int]:
    """(pack offset, length) of a raw block's own bytes, inside a frame or alone."""
    if loc.frame_off >= 0:
        return loc.offset + loc.frame_off, loc.raw_len
    return loc.offset, loc.stored_len


def _run(ids: Sequence[BlockId], rows: dict[BlockId, BlockRow], i: int) -> tuple[int, int, int]:
    """Extent of the run of raw blocks beginning with ``ids[i]`` (a raw one) that one
    pread serves: ``(j, begin, end)``, blocks ``i..j-1`` all lie in ``[begin, end)`` of
    one pack. The next block joins while it starts at most COALESCE_GAP past the end
    (or inside the span: a repeated block) and the span stays within
    MAX_COALESCED_READ. A raw block's bytes are ``raw_len`` bytes at its data offset
    plus its frame offset; a single-block record whose ``stored_len`` disagrees is read
    as ``raw_len`` bytes and fails its hash check like any other damage."""
    _, _, pack, offset, _, _, frame_off, size = rows[ids[i]]
    begin = offset + frame_off if frame_off >= 0 else offset
    end = begin + size
    limit = begin + MAX_COALESCED_READ
    n = len(ids)
    j = i + 1
    while j < n:
        _, _, other, offset, _, codec, frame_off, size = rows[ids[j]]
        if codec != _RAW or other != pack:
            break
        start = offset + frame_off if frame_off >= 0 else offset
        stop = start + size
        if start < begin or stop > limit or start - end > COALESCE_GAP:
            break
        end = max(end, stop)
        j += 1
    return j, begin, end


def _missing(block_id: BlockId) -> IntegrityError:
    return IntegrityError(f"block {to_hex(block_id)} is missing from the store")


def _wrong_length(block_id: BlockId) -> IntegrityError:
    return IntegrityError(f"block {to_hex(block_id)} has the wrong length")


class _OpenPack:
    """The writer's view of one pack: a descriptor, its length and a write buffer."""

    def __init__(self, info: PackInfo, path: Path, fd: int, committed: int) -> None:
        self.info = info
        self.path = path
        self.fd = fd
        self.committed = committed  # length in the index before this transaction
        self.length = info.length  # logical length including buffered bytes
        self.buffer = bytearray()
        self.offsets: list[int] | None = None  # record offsets, loaded only to seal
        self.sealed = False

    def flush(self) -> None:
        if self.buffer:
            start = self.length - len(self.buffer)
            done = 0
            while done < len(self.buffer):  # pwrite may write less than asked
                with memoryview(self.buffer) as whole, whole[done:] as rest:
                    done += os.pwrite(self.fd, rest, start + done)
            self.buffer.clear()


class WriteTxn:
    """One writer transaction. Use as a context manager: commit on success, else roll back.

    The index transaction stays open for the whole lifetime so that a failure at
    any point (disk full, file changed under us, a killed daemon) leaves the store
    exactly as it was before.
    """

    def __init__(self, store: BlockStore) -> None:
        self._store = store
        self._index = store.index
        self._open: dict[Tier, _OpenPack] = {}
        self._touched: list[_OpenPack] = []
        self._created: list[Path] = []
        self._seen: set[BlockId] = set()  # ids written in this txn, bounded per call
        self._dropped: list[Path] = []  # pack files to delete once the index commits
        self.new_blocks = 0
        self.new_bytes = 0
        self._active = False

    def __enter__(self) -> WriteTxn:
        self._store._write_lock.acquire()
        try:
            self._index.begin()
        except BaseException:
            self._store._write_lock.release()
            raise
        self._active = True
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        try:
            if exc is None:
                try:
                    self.commit()  # rolls back itself if it fails
                except Exception as failure:
                    if _is_disk_full(failure):
                        raise self._storage_full() from failure
                    raise
            else:
                self.rollback()
                if _is_disk_full(exc):
                    raise self._storage_full() from exc
        finally:
            self._store._write_lock.release()

    def _storage_full(self) -> StorageFullError:
        return StorageFullError(
            f"disk full while writing to {self._store.cof_dir}: nothing was "
            "stored; free some space and retry"
        )

    # -- packs ----------------------------------------------------------------------

    def _pack_for(self, tier: Tier) -> _OpenPack:
        current = self._open.get(tier)
        if current is not None and current.length < PACK_TARGET_BYTES:
            return current
        if current is not None:
            self._seal(current)
        # A pack touched by this transaction is not reused: if it was sealed above,
        # the index still lists it as unsealed until commit.
        touched = {o.info.pack for o in self._touched}
        for info in self._index.packs():
            if (
                info.tier == tier
                and not info.sealed
                and info.length < PACK_TARGET_BYTES
                and info.pack not in touched
            ):
                path = pack_path(self._store.objects_dir, tier, info.pack)
                fd = os.open(path, os.O_RDWR)
                return self._track(tier, _OpenPack(info, path, fd, info.length))
        return self._new_pack(tier)

    def _new_pack(self, tier: Tier) -> _OpenPack:
        number = self._index.next_pack_number()
        path = pack_path(self._store.objects_dir, tier, number)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        self._created.append(path)
        info = PackInfo(number, tier, 0, False)
        opened = _OpenPack(info, path, fd, 0)
        opened.buffer += PACK_MAGIC
        opened.length = len(PACK_MAGIC)
        opened.offsets = []
        self._index.set_pack(PackInfo(number, tier, opened.length, False))
        return self._track(tier, opened)

    def _track(self, tier: Tier, opened: _OpenPack) -> _OpenPack:
        self._open[tier] = opened
        self._touched.append(opened)
        return opened

    def _seal(self, opened: _OpenPack) -> None:
        if opened.offsets is None:  # a pack begun by an earlier transaction
            opened.flush()
            opened.offsets = [
                r.offset for r in scan_records(opened.fd, opened.length, str(opened.path))
            ]
        opened.buffer += encode_footer(opened.offsets)
        opened.length += len(encode_footer(opened.offsets))
        opened.sealed = True
        if self._open.get(opened.info.tier) is opened:
            del self._open[opened.info.tier]

    # -- records --------------------------------------------------------------------

    def write_record(
        self,
        tier: Tier,
        codec: Codec,
        members: list[Member],
        stored: bytes | memoryview,
        frame: bool = False,
    ) -> list[tuple[BlockId, Location]]:
        """Append one record and return the index rows describing its blocks."""
        pack, data_offset = self._append_record(tier, codec, members, stored)
        rows: list[tuple[BlockId, Location]] = []
        frame_off = 0
        for m in members:
            rows.append(
                (
                    m.block_id,
                    Location(
                        tier,
                        pack,
                        data_offset,
                        len(stored),
                        codec,
                        frame_off if frame else -1,
                        m.raw_len,
                    ),
                )
            )
            frame_off += m.raw_len
        return rows

    def _append_record(
        self, tier: Tier, codec: Codec, members: list[Member], stored: bytes | memoryview
    ) -> tuple[int, int]:
        """Append one record to the tier's open pack; return (pack, data offset)."""
        opened = self._pack_for(tier)
        head = encode_record(codec, members, stored)
        offset = opened.length
        opened.buffer += head
        opened.buffer += stored
        opened.length += len(head) + len(stored)
        if opened.offsets is not None:
            opened.offsets.append(offset)
        if len(opened.buffer) >= WRITE_BUFFER_BYTES:
            opened.flush()
        return opened.info.pack, offset + len(head)

    def put_many(
        self,
        blocks: Sequence[bytes | memoryview],
        ids: Sequence[BlockId] | None = None,
        *,
        absent: bool = False,
    ) -> list[BlockId]:
        """Store each block unless already present; return the ids in order.

        ``ids``, when given, are the blocks' ids as the caller already computed them
        (they are trusted: callers hash with :func:`hash_block`). New blocks are
        appended as raw frames of up to ``MAX_FRAME_BLOCKS`` consecutive blocks: one
        record header and one index batch per frame instead of per block, and a
        file's blocks stay contiguous so reading it back is a few large preads.

        The ids written are known to be new (looked up in this very transaction, and
        deduplicated within it), so their index rows go in with a plain INSERT, built
        directly as plain-int tuples (:meth:`Index.insert_new_blocks`).

        ``absent`` skips the lookup: the caller found these ids missing from the index
        a moment ago and remembers (boundedly) which ones it already stored: a fetch.
        Should an id be mapped all the same (listed twice, so far apart that the
        fetch forgot it in between; or stored by a commit that took its turn at one of
        the fetch's checkpoints), its first copy stays mapped and the second one's
        bytes are unreferenced (counted by fsck, reclaimed by gc).
        """
        if ids is None:
            ids = [hash_block(b) for b in blocks]
        present = frozenset() if absent else self._index.existing(ids)
        seen = self._seen
        new_ids: list[BlockId] = []
        datas: list[bytes | memoryview] = []
        for block_id, data in zip(ids, blocks, strict=True):
            if block_id in present or block_id in seen:
                continue
            seen.add(block_id)
            new_ids.append(block_id)
            datas.append(data)
        sizes = [len(d) for d in datas]
        self.new_blocks += len(new_ids)
        self.new_bytes += sum(sizes)
        rows: list[BlockRow] = []
        records: list[tuple[int, int]] = []
        for start in range(0, len(new_ids), MAX_FRAME_BLOCKS):
            group = new_ids[start : start + MAX_FRAME_BLOCKS]
            lengths = sizes[start : start + MAX_FRAME_BLOCKS]
            members = list(map(Member, group, lengths))
            if len(group) == 1:
                stored = datas[start]
                pack, data_offset = self._append_record(Tier.HOT, Codec.RAW, members, stored)
                rows.append((group[0], _HOT, pack, data_offset, lengths[0], _RAW, -1, lengths[0]))
            else:
                stored = b"".join(datas[start : start + MAX_FRAME_BLOCKS])
                pack, data_offset = self._append_record(Tier.HOT, Codec.RAW, members, stored)
                whole = len(stored)
                rows += [
                    (block_id, _HOT, pack, data_offset, whole, _RAW, frame_off, size)
                    for block_id, frame_off, size in zip(
                        group,
                        itertools.accumulate(lengths, initial=0),  # one longer: the end
                        lengths,
                        strict=False,
                    )
                ]
            records.append((pack, data_offset))
        if rows:
            rows.sort()  # ascending ids (unique here): neighbouring B-tree pages
            self._index.insert_new_blocks(rows, records, keep_existing=absent)
        for opened in self._touched:
            opened.flush()  # readers on this thread may pread what we just wrote
        seen.clear()  # rows are in the index now; existing() will find them
        return list(ids)

    def put(self, data: bytes | memoryview) -> BlockId:
        return self.put_many([data])[0]

    def relocate(self, rows: list[tuple[BlockId, Location]]) -> None:
        """Switch existing blocks to records written by this transaction."""
        self._index.relocate(rows)

    def seal_pack(self, info: PackInfo) -> None:
        """Seal a pack no writer has open (compaction of an active pack begins so)."""
        if info.sealed:
            return
        path = pack_path(self._store.objects_dir, info.tier, info.pack)
        opened = _OpenPack(info, path, os.open(path, os.O_RDWR), info.length)
        self._touched.append(opened)
        self._seal(opened)

    def drop_pack(self, pack: int) -> None:
        """Forget a pack no row refers to any more; its file goes after the commit."""
        for info in self._index.packs():
            if info.pack == pack:
                self._dropped.append(pack_path(self._store.objects_dir, info.tier, pack))
                self._index.delete_pack(pack)
                return

    def assign_generation(self, generation: int, now: float | None = None) -> int:
        return self._index.assign_generation(generation, time.time() if now is None else now)

    # -- ending ---------------------------------------------------------------------

    def checkpoint(self) -> None:
        """Commit what this transaction wrote so far, durably, and go on in a new one.

        For long writers (a fetch of many GiB): a crash or a cancel then loses only
        what came after the last checkpoint. If other writers wait for the store
        (a commit during a fetch), they go first, in the order they came.
        """
        if not self._active:
            return
        self.commit()
        self._created.clear()  # committed files: a later rollback must keep them
        lock = self._store._write_lock
        if lock.waiting:
            lock.release()
            lock.acquire()  # behind those already waiting
        self._index.begin()
        self._active = True

    @property
    def others_waiting(self) -> bool:
        """Whether another writer waits for the store (a reason to checkpoint)."""
        return self._store._write_lock.waiting > 0

    def commit(self) -> None:
        if not self._active:
            return
        try:
            for opened in list(self._open.values()):
                if opened.length >= PACK_TARGET_BYTES:
                    self._seal(opened)  # full now: seal it rather than leave it open
            for opened in self._touched:
                opened.flush()
                os.fsync(opened.fd)
                self._index.set_pack(
                    PackInfo(opened.info.pack, opened.info.tier, opened.length, opened.sealed)
                )
            for directory in {p.parent for p in self._created}:
                fsync_dir(directory)
            self._index.commit()
        except BaseException:
            self.rollback()
            raise
        self._finish()
        for path in self._dropped:
            self._store.forget_pack(int(path.stem))
            path.unlink(missing_ok=True)
        for directory in {p.parent for p in self._dropped}:
            fsync_dir(directory)
        self._dropped.clear()

    def rollback(self) -> None:
        if not self._active:
            return
        try:
            self._index.rollback()
        finally:
            for opened in self._touched:
                opened.buffer.clear()
                if opened.path not in self._created:
                    try:
                        os.ftruncate(opened.fd, opened.committed)
                    except OSError:
                        log.exception("cannot truncate %s after rollback", opened.path)
            for path in self._created:
                path.unlink(missing_ok=True)
            self._dropped.clear()
            self._finish()

    def _finish(self) -> None:
        for opened in self._touched:
            os.close(opened.fd)
        self._touched.clear()
        self._open.clear()
        self._active = False
