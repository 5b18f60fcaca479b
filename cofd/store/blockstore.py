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
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import zstandard

from cofd.store.cache import ByteLRU
from cofd.store.ids import BlockId, hash_block, to_hex
from cofd.store.index import Index, Location, PackInfo
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
    record_header_len,
    scan_records,
)
from protocol.errors import IntegrityError, StorageFullError

log = logging.getLogger(__name__)

# Reads of hot blocks that lie within this distance of each other in a pack are
# served by one pread: a file's blocks are written consecutively, so a restore
# becomes a few large sequential reads instead of one syscall per block.
COALESCE_GAP = 64 * 1024
MAX_COALESCED_READ = 8 * 1024 * 1024
# Writes are buffered in memory up to this size before one os.write.
WRITE_BUFFER_BYTES = 4 * 1024 * 1024


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
        self._write_lock = threading.Lock()
        # Background work (migration, compaction, gc) of this store: one at a time.
        self.maintenance = MaintenanceState()
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

    def _fd(self, pack: int, tier: Tier) -> int:
        with self._fd_lock:
            fd = self._read_fds.get(pack)
            if fd is None:
                fd = os.open(pack_path(self.objects_dir, tier, pack), os.O_RDONLY)
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
            raise IntegrityError(f"block {to_hex(block_id)} is missing from the store")
        return loc

    def get(self, block_id: BlockId) -> bytes:
        loc = self.location(block_id)
        try:
            return self._read(block_id, loc)
        except (OSError, IntegrityError) as exc:
            return self._reread(block_id, loc, exc)

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
            raise IntegrityError(
                f"block {to_hex(block_id)} in pack {loc.pack:08d} ({loc.tier.dirname}) "
                f"at offset {loc.offset} is corrupt: its content does not match its id"
            )
        return raw

    def get_many(self, ids: Sequence[BlockId]) -> Iterator[bytes]:
        """Yield the blocks in order, reading runs of adjacent hot blocks in one pread."""
        locations = self.index.lookup_many(ids)
        for block_id in ids:
            if block_id not in locations:
                raise IntegrityError(f"block {to_hex(block_id)} is missing from the store")
        yield from self._coalesced(ids, locations)

    def _coalesced(self, ids: Sequence[BlockId], locs: dict[BlockId, Location]) -> Iterator[bytes]:
        i = 0
        while i < len(ids):
            first = locs[ids[i]]
            if first.codec != Codec.RAW:
                try:
                    data = self._read(ids[i], first)
                except (OSError, IntegrityError) as exc:
                    data = self._reread(ids[i], first, exc)
                yield data
                i += 1
                continue
            # Extend the run while the next block follows closely in the same pack.
            begin, length = _raw_span(first)
            j, end = i + 1, begin + length
            while j < len(ids):
                nxt = locs[ids[j]]
                if nxt.codec != Codec.RAW or nxt.pack != first.pack:
                    break
                nxt_start, nxt_len = _raw_span(nxt)
                if not 0 <= nxt_start - end <= COALESCE_GAP or (
                    nxt_start + nxt_len - begin > MAX_COALESCED_READ
                ):
                    break
                end = nxt_start + nxt_len
                j += 1
            failure: OSError | None = None
            try:
                span = os.pread(self._fd(first.pack, first.tier), end - begin, begin)
            except OSError as exc:
                span, failure = b"", exc  # the pack went away: each block is re-read
            view = memoryview(span)
            for k in range(i, j):
                loc = locs[ids[k]]
                rel, size = _raw_span(loc)
                rel -= begin
                try:
                    data = self._read(ids[k], loc, bytes(view[rel : rel + size]))
                except IntegrityError as exc:
                    data = self._reread(ids[k], loc, failure or exc)
                yield data
            i = j

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
        opened = self._pack_for(tier)
        head = encode_record(codec, members, stored)
        offset = opened.length
        opened.buffer += head
        opened.buffer += stored
        opened.length += len(head) + len(stored)
        if opened.offsets is not None:
            opened.offsets.append(offset)
        data_offset = offset + record_header_len(len(members))
        rows: list[tuple[BlockId, Location]] = []
        frame_off = 0
        for m in members:
            rows.append(
                (
                    m.block_id,
                    Location(
                        tier,
                        opened.info.pack,
                        data_offset,
                        len(stored),
                        codec,
                        frame_off if frame else -1,
                        m.raw_len,
                    ),
                )
            )
            frame_off += m.raw_len
        if len(opened.buffer) >= WRITE_BUFFER_BYTES:
            opened.flush()
        return rows

    def put_many(
        self, blocks: Sequence[bytes | memoryview], ids: Sequence[BlockId] | None = None
    ) -> list[BlockId]:
        """Store each block unless already present; return the ids in order.

        ``ids``, when given, are the blocks' ids as the caller already computed them
        (they are trusted: callers hash with :func:`hash_block`). New blocks are
        appended as raw frames of up to ``MAX_FRAME_BLOCKS`` consecutive blocks: one
        record header and one index batch per frame instead of per block, and a
        file's blocks stay contiguous so reading it back is a few large preads.
        """
        if ids is None:
            ids = [hash_block(b) for b in blocks]
        present = self._index.existing(ids)
        members: list[Member] = []
        datas: list[bytes | memoryview] = []
        for block_id, data in zip(ids, blocks, strict=True):
            if block_id in present or block_id in self._seen:
                continue
            self._seen.add(block_id)
            members.append(Member(block_id, len(data)))
            datas.append(data)
            self.new_bytes += len(data)
        self.new_blocks += len(members)
        rows: list[tuple[BlockId, Location]] = []
        for start in range(0, len(members), MAX_FRAME_BLOCKS):
            group = members[start : start + MAX_FRAME_BLOCKS]
            chunk = datas[start : start + MAX_FRAME_BLOCKS]
            if len(group) == 1:
                rows += self.write_record(Tier.HOT, Codec.RAW, group, chunk[0])
            else:
                rows += self.write_record(Tier.HOT, Codec.RAW, group, b"".join(chunk), frame=True)
        if rows:
            rows.sort(key=lambda row: row[0])  # ascending keys: neighbouring B-tree pages
            self._index.insert_blocks(rows)
        for opened in self._touched:
            opened.flush()  # readers on this thread may pread what we just wrote
        self._seen.clear()  # rows are in the index now; existing() will find them
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
