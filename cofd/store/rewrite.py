"""Rewriting blocks: tier migration and pack compaction.

Both follow the same crash-safe order (ARCHITECTURE.md §3): read and verify the
blocks, encode the new records (outside the store's write lock, on a small thread
pool: zstandard releases the GIL), then in one store transaction append the records
to a pack of the target tier, fsync it and switch the index rows; a pack emptied
that way is deleted only after that transaction has committed. A crash at any point
leaves every block readable from either its old or its new record; the leftovers
(uncommitted pack bytes, an emptied pack not yet deleted) are removed when the
store is next opened.

Every encoded record is decoded again and compared with the raw blocks before it
is written, so a compressor bug can never replace good data with bad.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import zstandard

from cofd.store.blockstore import BlockStore
from cofd.store.ids import BlockId, hash_block, to_hex
from cofd.store.index import Location, PackInfo
from cofd.store.pack import (
    MAX_FRAME_BLOCKS,
    PACK_MAGIC,
    Codec,
    Member,
    Record,
    Tier,
    pack_path,
    read_footer,
    scan_records,
)
from cofd.store.tiers import Batch, Candidate, Move, TierPolicy, plan_moves
from protocol.errors import IntegrityError

log = logging.getLogger(__name__)

# Candidate rows fetched from the index per planning round (16 MiB of 4 KiB blocks).
PAGE_ROWS = 4096
# A pack is compacted when at least this share of its bytes is dead ...
COMPACT_DEAD_FRACTION = 0.5
# ... and the dead part is at least this large (tiny packs are not worth a rewrite).
COMPACT_MIN_DEAD_BYTES = 64 * 1024
# Raw bytes of live records copied per compaction transaction.
COMPACT_BATCH_BYTES = 8 * 1024 * 1024

YieldFn = Callable[[], None]


def lower_thread_priority(nice: int) -> None:
    """Make the calling thread yield the CPU to others (Linux: per-thread niceness).

    Background migration runs its threads at a positive niceness so that commands,
    which run at the normal priority, keep their speed on a machine with few cores.
    """
    if nice <= 0:
        return
    try:
        current = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), max(current, nice))
    except (OSError, AttributeError):
        log.debug("cannot lower the priority of migration threads")


@dataclass(slots=True)
class RewriteResult:
    moved_blocks: int = 0
    moved_raw_bytes: int = 0
    moved_stored_bytes: int = 0
    skipped: list[str] = field(default_factory=list)  # why blocks were left in place
    compacted_packs: int = 0
    deleted_packs: int = 0
    reclaimed_bytes: int = 0


def encode_record(raws: list[bytes], target: Tier, level: int) -> tuple[Codec, bytes]:
    """Encode blocks as one record of ``target`` and prove that it decodes back."""
    joined = b"".join(raws)
    stored = zstandard.ZstdCompressor(level=level).compress(joined)
    if target == Tier.WARM and len(stored) >= len(joined):
        return Codec.RAW, joined  # incompressible: keep random access without zstd
    decoded = zstandard.ZstdDecompressor().decompress(stored, max_output_size=len(joined))
    if decoded != joined:
        raise IntegrityError("zstd round trip failed while migrating blocks")
    return Codec.ZSTD, stored


class Migrator:
    """Moves blocks to the tier their age calls for, batch by batch.

    ``pause`` is called before each unit of work; the daemon passes one that waits
    while foreground commands run and raises ``StoppedError`` on shutdown.
    """

    def __init__(
        self,
        store: BlockStore,
        policy: TierPolicy,
        threads: int = 2,
        pause: YieldFn | None = None,
        lock: threading.Lock | None = None,
        nice: int = 0,
    ) -> None:
        self.store = store
        self.policy = policy
        self.threads = threads
        self.nice = nice
        self.pause: YieldFn = pause or (lambda: None)
        # Held while switching rows, so that gc and compaction never interleave.
        self.lock = lock or threading.Lock()

    def candidates(self, head_generation: int) -> Iterator[list[Candidate]]:
        """Pages of rows that may need to move, in pack order (a keyset scan)."""
        cursor: tuple[int, int, int, bytes] = (-1, -1, -2, b"")
        while True:
            rows = self.store.index.migration_candidates(
                head_generation,
                self.policy.warm_threshold,
                self.policy.cold_threshold,
                cursor,
                PAGE_ROWS,
            )
            if not rows:
                return
            yield [Candidate(bid, loc, gen) for bid, loc, gen in rows]
            bid, loc, _ = rows[-1]
            cursor = (loc.pack, loc.offset, loc.frame_off, bid)

    def run(
        self, head_generation: int, result: RewriteResult | None = None, full: bool = False
    ) -> RewriteResult:
        """Move everything that is due; returns what was moved.

        The index is scanned only when a generation with blocks has crossed a tier
        threshold since the last complete pass (the floors, see ``Index``), or when
        ``full``: a pass after a write that aged nothing costs two lookups, not a walk
        over every block of the repository."""
        result = result or RewriteResult()
        warm_line = head_generation - self.policy.warm_threshold
        cold_line = head_generation - self.policy.cold_threshold
        index = self.store.index
        floors, token = index.take_migration_floors()
        if full or floors is None or self._crossed(floors, warm_line, cold_line):
            self._move_due(head_generation, result)
        if not result.skipped:  # everything due moved: nothing below the lines waits
            if floors is not None:
                warm_line, cold_line = max(floors[0], warm_line), max(floors[1], cold_line)
            index.settle_migration_floors(warm_line, cold_line, token)
        return result

    def _crossed(self, floors: tuple[int, int], warm_line: int, cold_line: int) -> bool:
        index = self.store.index
        return index.has_generations(floors[0], warm_line) or index.has_generations(
            floors[1], cold_line
        )

    def _move_due(self, head_generation: int, result: RewriteResult) -> None:
        with ThreadPoolExecutor(
            self.threads,
            thread_name_prefix="cof-migrate",
            initializer=lower_thread_priority,
            initargs=(self.nice,),
        ) as pool:
            for page in self.candidates(head_generation):
                for batch in plan_moves(page, head_generation, self.policy):
                    self.pause()
                    self.execute(batch, pool, result)

    def execute(self, batch: Batch, pool: Executor, result: RewriteResult) -> None:
        """Encode one batch in ``pool`` and switch its blocks in one transaction."""
        records = [r for r in (self._read(record, result) for record in batch.records) if r]
        level = self.policy.cold_level if batch.target == Tier.COLD else self.policy.warm_level

        def encode(item: tuple[tuple[Move, ...], list[bytes]]) -> tuple[Codec, bytes]:
            self.pause()
            return encode_record(item[1], batch.target, level)

        encoded = list(pool.map(encode, records))
        self.pause()  # the switch fsyncs: not while a command runs either
        with self.lock, self.store.transaction() as txn:
            ids = [m.block_id for record, _ in records for m in record]
            now = self.store.index.lookup_many(ids)
            for (record, raws), (codec, stored) in zip(records, encoded, strict=True):
                if any(now.get(m.block_id) != m.source for m in record):
                    continue  # moved or deleted meanwhile: leave it to the next pass
                members = [
                    Member(m.block_id, len(raw)) for m, raw in zip(record, raws, strict=True)
                ]
                rows = txn.write_record(
                    batch.target, codec, members, stored, frame=batch.target == Tier.COLD
                )
                txn.relocate(rows)
                result.moved_blocks += len(members)
                result.moved_raw_bytes += sum(len(r) for r in raws)
                result.moved_stored_bytes += len(stored)

    def _read(
        self, record: tuple[Move, ...], result: RewriteResult
    ) -> tuple[tuple[Move, ...], list[bytes]] | None:
        """The raw blocks of a planned record, without those that cannot be read."""
        try:
            return record, list(self.store.get_many([m.block_id for m in record]))
        except IntegrityError:
            pass
        kept: list[Move] = []
        raws: list[bytes] = []
        for move in record:
            try:
                raws.append(self.store.get(move.block_id))
                kept.append(move)
            except IntegrityError as exc:
                log.error("migration leaves block %s in place: %s", to_hex(move.block_id), exc)
                result.skipped.append(str(exc))
        return (tuple(kept), raws) if kept else None


# -- compaction ---------------------------------------------------------------------


def dead_packs(
    store: BlockStore, dead_fraction: float, min_dead_bytes: int
) -> list[tuple[PackInfo, int]]:
    """Packs worth rewriting, with their live record bytes (0: delete outright)."""
    live = store.index.live_record_bytes()
    chosen = []
    for info in store.index.packs():
        data = max(info.length - len(PACK_MAGIC), 0)
        alive = live.get(info.pack, 0)
        dead = data - alive
        if alive == 0 and data > 0:
            chosen.append((info, 0))
        elif dead >= min_dead_bytes and dead >= dead_fraction * data:
            chosen.append((info, alive))
    return chosen


def compact(
    store: BlockStore,
    cold_level: int,
    dead_fraction: float = COMPACT_DEAD_FRACTION,
    min_dead_bytes: int = COMPACT_MIN_DEAD_BYTES,
    pause: YieldFn | None = None,
    result: RewriteResult | None = None,
    lock: threading.Lock | None = None,
) -> RewriteResult:
    """Rewrite packs that are mostly dead and delete packs that are entirely dead.

    ``lock`` (the store's maintenance lock) is held for each pack, never while
    ``pause`` waits: a foreground gc waiting for the lock must not wait for itself.
    """
    result = result or RewriteResult()
    lock = lock or threading.Lock()
    for info, alive in dead_packs(store, dead_fraction, min_dead_bytes):
        if pause is not None:
            pause()
        with lock:
            current = {p.pack: p for p in store.index.packs()}.get(info.pack)
            if current is None:
                continue  # gone meanwhile
            if alive == 0:
                with store.transaction() as txn:
                    if not store.index.pack_rows(info.pack):
                        txn.drop_pack(info.pack)
                        result.deleted_packs += 1
                        result.reclaimed_bytes += info.length
                continue
            compact_pack(store, current, cold_level, result)
    return result


def compact_pack(store: BlockStore, info: PackInfo, cold_level: int, result: RewriteResult) -> None:
    """Copy the live records of one pack into fresh packs of its tier, then delete it."""
    if not info.sealed:
        # Seal it first so that no writer appends to it while we copy from it.
        with store.transaction() as txn:
            current = next((p for p in store.index.packs() if p.pack == info.pack), None)
            if current is None:
                return
            txn.seal_pack(current)
    path = pack_path(store.objects_dir, info.tier, info.pack)
    records = _records_by_data_offset(path)
    groups: dict[int, list[tuple[BlockId, Location]]] = {}
    for bid, loc in store.index.pack_rows(info.pack):
        groups.setdefault(loc.offset, []).append((bid, loc))
    pending: list[tuple[Record, list[tuple[BlockId, Location]]]] = []
    size = 0
    for offset, rows in groups.items():
        record = records.get(offset)
        if record is None:
            raise IntegrityError(
                f"pack {info.pack:08d}: index rows point at offset {offset}, not a record"
            )
        pending.append((record, rows))
        size += record.stored_len
        if size >= COMPACT_BATCH_BYTES:
            _copy_records(store, path, info, pending, cold_level)
            pending, size = [], 0
    if pending:
        _copy_records(store, path, info, pending, cold_level)
    with store.transaction() as txn:
        if not store.index.pack_rows(info.pack):
            txn.drop_pack(info.pack)
            result.compacted_packs += 1
            result.reclaimed_bytes += info.length


def _records_by_data_offset(path: Path) -> dict[int, Record]:
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        footer = read_footer(fd, size, str(path))
        end = footer[0] if footer is not None else size
        return {r.data_offset: r for r in scan_records(fd, end, str(path))}
    finally:
        os.close(fd)


def _copy_records(
    store: BlockStore,
    path: Path,
    info: PackInfo,
    pending: list[tuple[Record, list[tuple[BlockId, Location]]]],
    cold_level: int,
) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        prepared = [_prepare(fd, info, record, rows, cold_level) for record, rows in pending]
    finally:
        os.close(fd)
    with store.transaction() as txn:
        ids = [bid for _, rows in pending for bid, _ in rows]
        now = store.index.lookup_many(ids)
        for (_, rows), (codec, members, stored, frame) in zip(pending, prepared, strict=True):
            if any(now.get(bid) != loc for bid, loc in rows):
                continue
            live = {bid for bid, _ in rows}
            new_rows = txn.write_record(info.tier, codec, members, stored, frame=frame)
            txn.relocate([(bid, loc) for bid, loc in new_rows if bid in live])


def _prepare(
    fd: int,
    info: PackInfo,
    record: Record,
    rows: list[tuple[BlockId, Location]],
    cold_level: int,
) -> tuple[Codec, list[Member], bytes, bool]:
    """Verify a record's live blocks and return the record to write in its place.

    A frame whose live blocks are less than half of it is re-encoded from its live
    blocks alone (so gc really frees the space); anything else is copied verbatim.
    """
    stored = os.pread(fd, record.stored_len, record.data_offset)
    frame = rows[0][1].frame_off >= 0
    if record.codec == Codec.RAW:
        decoded = stored
    else:
        limit = MAX_FRAME_BLOCKS * 65536
        try:
            decoded = zstandard.ZstdDecompressor().decompress(stored, max_output_size=limit)
        except zstandard.ZstdError as exc:
            raise IntegrityError(
                f"pack {info.pack:08d}: record at {record.offset} cannot be decompressed: {exc}"
            ) from exc
    raws: dict[BlockId, bytes] = {}
    start = 0
    for member in record.members:
        raws[member.block_id] = decoded[start : start + member.raw_len]
        start += member.raw_len
    for bid, _ in rows:
        raw = raws.get(bid)
        if raw is None or hash_block(raw) != bid:
            raise IntegrityError(
                f"block {to_hex(bid)} in pack {info.pack:08d} ({info.tier.dirname}) at offset "
                f"{record.data_offset} is corrupt: its content does not match its id"
            )
    live_bytes = sum(len(raws[bid]) for bid, _ in rows)
    if frame and live_bytes * 2 < len(decoded):
        kept = [raws[bid] for bid, _ in rows]
        members = [Member(bid, len(raws[bid])) for bid, _ in rows]
        if record.codec == Codec.RAW:  # a hot frame stays raw
            return Codec.RAW, members, b"".join(kept), True
        codec, new_stored = encode_record(kept, Tier.COLD, cold_level)
        return codec, members, new_stored, True
    return record.codec, list(record.members), stored, frame
