"""Store checks (``cof fsck``) and rebuilding the index from the packs.

:func:`check_packs` compares the index with the packs: every listed pack exists,
is at least as long as the index says, has a valid header (and footer when sealed);
every index row points at a record whose header names that block with the same
codec, lengths and frame position. Bytes of records no row points into are counted
as unreferenced (gc reclaims them; they are not a problem). With ``full`` every
record is decompressed and every block in it re-hashed.

:func:`rebuild_index` recreates ``block_map`` and ``packs`` from the self-describing
packs alone (``cof fsck --repair-index``).
"""

from __future__ import annotations

import logging
import os
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
    Record,
    Tier,
    pack_path,
    parse_record_header,
    read_footer,
    scan_records,
)
from protocol.errors import IntegrityError

log = logging.getLogger(__name__)


@dataclass(slots=True)
class PackReport:
    problems: list[str] = field(default_factory=list)
    corrupt: set[BlockId] = field(default_factory=set)  # referenced blocks that fail
    packs: int = 0
    records: int = 0
    blocks_checked: int = 0  # blocks re-hashed (full only)
    unreferenced_bytes: int = 0
    orphan_files: list[str] = field(default_factory=list)


def _decode(record: Record, stored: bytes) -> bytes:
    if record.codec == Codec.RAW:
        return stored
    return bytes(
        zstandard.ZstdDecompressor().decompress(stored, max_output_size=MAX_FRAME_BLOCKS * 65536)
    )


def _scan(fd: int, info: PackInfo, size: int, where: str, report: PackReport) -> list[Record]:
    footer = None
    if info.sealed:
        try:
            footer = read_footer(fd, size, where)
        except IntegrityError as exc:
            report.problems.append(str(exc))
        if footer is None:
            report.problems.append(f"{where}: sealed in the index but has no valid footer")
    end = footer[0] if footer is not None else info.length
    records: list[Record] = []
    try:
        records.extend(scan_records(fd, end, where))
    except IntegrityError as exc:
        report.problems.append(str(exc))
    if footer is not None and [r.offset for r in records] != footer[1]:
        report.problems.append(f"{where}: footer does not list the records the pack holds")
    return records


def _check_rows(
    info: PackInfo,
    where: str,
    rows: list[tuple[BlockId, Location]],
    records: dict[int, Record],
    report: PackReport,
) -> set[int]:
    """Problems with the index rows of one pack; returns referenced record offsets."""
    used: set[int] = set()
    for bid, loc in rows:
        record = records.get(loc.offset)
        name = f"block {to_hex(bid)} ({where} at {loc.offset})"
        if record is None:
            report.problems.append(f"{name}: the index points at no record")
            report.corrupt.add(bid)
            continue
        used.add(loc.offset)
        position, frame_off = None, 0
        for member in record.members:
            if member.block_id == bid:
                position = frame_off
                break
            frame_off += member.raw_len
        expected_off = position if loc.frame_off >= 0 else -1
        if (
            position is None
            or loc.tier != info.tier
            or loc.codec != record.codec
            or loc.stored_len != record.stored_len
            or loc.frame_off != expected_off
            or (loc.frame_off < 0 and len(record.members) != 1)
        ):
            report.problems.append(f"{name}: the index row does not match the record header")
            report.corrupt.add(bid)
    return used


def _verify_records(
    fd: int,
    where: str,
    records: list[Record],
    referenced: dict[BlockId, Location],
    report: PackReport,
) -> None:
    """Decode every record and re-hash its blocks (``--full``)."""
    for record in records:
        stored = os.pread(fd, record.stored_len, record.data_offset)
        try:
            decoded = _decode(record, stored)
        except zstandard.ZstdError as exc:
            decoded, error = b"", f"cannot decompress: {exc}"
        else:
            error = "its content does not match its id"
        start = 0
        for member in record.members:
            raw = decoded[start : start + member.raw_len]
            start += member.raw_len
            report.blocks_checked += 1
            if len(raw) == member.raw_len and hash_block(raw) == member.block_id:
                continue
            loc = referenced.get(member.block_id)
            if loc is not None and loc.offset == record.data_offset:
                report.corrupt.add(member.block_id)
                report.problems.append(
                    f"block {to_hex(member.block_id)} ({where} at {record.data_offset}) "
                    f"is corrupt: {error}"
                )


def check_packs(store: BlockStore, full: bool) -> PackReport:
    report = PackReport()
    listed = store.index.packs()
    listed_numbers = {info.pack for info in listed}
    for info in listed:
        report.packs += 1
        path = pack_path(store.objects_dir, info.tier, info.pack)
        where = f"pack {info.pack:08d} ({info.tier.dirname})"
        rows = store.index.pack_rows(info.pack)
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            report.problems.append(f"{where}: missing ({path}); {len(rows)} blocks lost")
            report.corrupt.update(bid for bid, _ in rows)
            continue
        try:
            size = os.fstat(fd).st_size
            if size < info.length:
                report.problems.append(
                    f"{where}: {size} bytes on disk, the index says {info.length}"
                )
            records = _scan(fd, info, size, where, report)
            report.records += len(records)
            by_offset = {r.data_offset: r for r in records}
            used = _check_rows(info, where, rows, by_offset, report)
            report.unreferenced_bytes += sum(
                r.end - r.offset for r in records if r.data_offset not in used
            )
            if full:
                _verify_records(fd, where, records, dict(rows), report)
        finally:
            os.close(fd)
    missing = store.index.conn.execute(
        "SELECT COUNT(*), MIN(pack) FROM block_map WHERE pack NOT IN (SELECT pack FROM packs)"
    ).fetchone()
    if missing[0]:
        report.problems.append(
            f"{missing[0]} index rows point at packs the index does not list (e.g. {missing[1]})"
        )
    for tier in Tier:
        for path in sorted((store.objects_dir / tier.dirname).glob("*.pack")):
            if not path.stem.isdigit() or int(path.stem) not in listed_numbers:
                report.orphan_files.append(str(path))
                report.unreferenced_bytes += path.stat().st_size
    return report


# -- rebuilding the index -----------------------------------------------------------


@dataclass(slots=True)
class RebuildResult:
    packs: int = 0
    blocks: int = 0
    corrupt_blocks: int = 0
    truncated_packs: list[str] = field(default_factory=list)


def _pack_files(objects_dir: Path) -> list[tuple[Tier, int, Path]]:
    found = []
    for tier in Tier:
        for path in (objects_dir / tier.dirname).glob("*.pack"):
            if path.stem.isdigit():
                found.append((tier, int(path.stem), path))
    # Colder, newer copies first: a block present twice (an interrupted rewrite
    # whose index was lost) keeps its migrated copy.
    found.sort(key=lambda t: (-t[0], -t[1]))
    return found


def _good_records(fd: int, size: int, where: str) -> tuple[list[Record], int, bool]:
    """Records up to the first damaged one; (records, end of good data, sealed)."""
    try:
        footer = read_footer(fd, size, where)
    except IntegrityError:
        footer = None
    end = footer[0] if footer is not None else size
    if os.pread(fd, len(PACK_MAGIC), 0) != PACK_MAGIC:
        return [], 0, False
    records: list[Record] = []
    offset = len(PACK_MAGIC)
    while offset < end:
        try:
            record = parse_record_header(fd, offset, end, where)
        except IntegrityError:
            return records, offset, False
        records.append(record)
        offset = record.end
    return records, offset, footer is not None


def rebuild_index(store: BlockStore) -> RebuildResult:
    """Recreate ``block_map`` and ``packs`` from the pack files; verifies every block."""
    result = RebuildResult()
    index = store.index
    conn = index.conn
    with store.transaction():
        conn.execute("DELETE FROM block_map")
        conn.execute("DELETE FROM packs")
        index.forget_migration_floors()  # tiers come back from the packs as they are
        highest = 0
        for tier, number, path in _pack_files(store.objects_dir):
            highest = max(highest, number)
            where = f"pack {number:08d} ({tier.dirname})"
            fd = os.open(path, os.O_RDONLY)
            try:
                size = os.fstat(fd).st_size
                records, end, sealed = _good_records(fd, size, where)
                if not sealed and end < size:
                    result.truncated_packs.append(where)
                length = size if sealed else end
                if length == 0:
                    continue
                index.set_pack(PackInfo(number, tier, length, sealed))
                result.packs += 1
                rows = _verified_rows(fd, tier, number, records, result)
            finally:
                os.close(fd)
            # The first copy found (the preferred one) wins; pending marks that still
            # name a record survive below, no new ones are made.
            index.insert_blocks(rows, keep_existing=True, mark_pending=False)
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('next_pack', ?)",
            (max(highest + 1, index.allocated_packs() + 1),),
        )
        index.drop_orphan_pending()
        index.clear_needs_repair()
        result.blocks = int(conn.execute("SELECT COUNT(*) FROM block_map").fetchone()[0])
    store.cache.discard_where(lambda key: True)
    return result


def _verified_rows(
    fd: int,
    tier: Tier,
    number: int,
    records: list[Record],
    result: RebuildResult,
) -> list[tuple[BlockId, Location]]:
    rows: list[tuple[BlockId, Location]] = []
    for record in records:
        stored = os.pread(fd, record.stored_len, record.data_offset)
        try:
            decoded = _decode(record, stored)
        except zstandard.ZstdError:
            decoded = b""
        # Cold records are frames even of one block; warm and hot records never are.
        frame = tier == Tier.COLD or len(record.members) > 1
        start = 0
        for member in record.members:
            raw = decoded[start : start + member.raw_len]
            loc = Location(
                tier,
                number,
                record.data_offset,
                record.stored_len,
                record.codec,
                start if frame else -1,
                member.raw_len,
            )
            start += member.raw_len
            if len(raw) != member.raw_len or hash_block(raw) != member.block_id:
                result.corrupt_blocks += 1
                continue
            rows.append((member.block_id, loc))
    return rows
