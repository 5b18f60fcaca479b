"""The block index: SQLite in WAL mode under ``.cof/index/``.

Tables:
    block_map   id -> tier, pack, data offset, stored length, codec, offset of the
                block inside its decompressed frame (-1 for a single-block record),
                raw length.
    commit_age  id -> generation of the first commit that referenced the block.
    pending_records  records (pack, offset) written since the last commit: their
                blocks wait for the generation of the next commit. One row per
                record, not per block: a hot frame holds up to 256 blocks, and a
                per-block row doubled the index work of every add.
    packs       pack number -> tier, committed length, sealed flag.
    generation_time  generation -> wall-clock time it was last assigned (gc's age).
    meta        schema version; ``next_pack``, the next pack number (never reused,
                so a cached descriptor or decoded frame can never name another pack);
                ``block_size``, what the blocks were cut with (a config edited later
                is refused rather than misread).

One connection per thread (SQLite connections are not shared across threads); the
single writer holds an explicit transaction that spans a whole ``add`` so that a
failure rolls back every row it wrote.
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, cast

from cofd.store.ids import ID_LEN, BlockId
from cofd.store.pack import Codec, Tier

SCHEMA_VERSION = 1
# SQLite's default limit on host parameters is 32766; stay well below it.
LOOKUP_BATCH = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS block_map (
    id BLOB PRIMARY KEY, tier INTEGER NOT NULL, pack INTEGER NOT NULL,
    offset INTEGER NOT NULL, stored_len INTEGER NOT NULL, codec INTEGER NOT NULL,
    frame_off INTEGER NOT NULL, raw_len INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS block_map_pack ON block_map (pack, offset);
CREATE TABLE IF NOT EXISTS commit_age (
    id BLOB PRIMARY KEY, generation INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pending_records (
    pack INTEGER NOT NULL, offset INTEGER NOT NULL, PRIMARY KEY (pack, offset)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS packs (
    pack INTEGER PRIMARY KEY, tier INTEGER NOT NULL, length INTEGER NOT NULL,
    sealed INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS generation_time (
    generation INTEGER PRIMARY KEY, time REAL NOT NULL
);
"""


class Location(NamedTuple):
    """Where a block's record lives. A NamedTuple, not a dataclass: a restore or an
    add builds one per 4 KiB block, and tuple construction is several times cheaper;
    it also goes into SQLite parameters as is."""

    tier: Tier
    pack: int
    offset: int
    stored_len: int
    codec: Codec
    frame_off: int
    raw_len: int


@dataclass(frozen=True, slots=True)
class PackInfo:
    pack: int
    tier: Tier
    length: int
    sealed: bool


# Indexing a tuple is several times cheaper than calling the Enum constructor, which
# matters when a restore turns 100,000s of rows into locations.
_TIERS = tuple(Tier)
_CODECS = tuple(Codec)


def _location(row: Sequence[int]) -> Location:
    tier, pack, offset, stored_len, codec, frame_off, raw_len = row
    return Location(_TIERS[tier], pack, offset, stored_len, _CODECS[codec], frame_off, raw_len)


# A block_map row as SQLite returns it: (id, tier, pack, offset, stored_len, codec,
# frame_off, raw_len), plain ints. The read path of a restore works on these directly:
# turning 100,000s of them into Locations (two enum lookups and a NamedTuple each)
# cost as much as the SQLite lookup itself.
BlockRow = tuple[BlockId, int, int, int, int, int, int, int]


def row_location(row: BlockRow) -> Location:
    """The Location a :data:`BlockRow` describes."""
    return _location(row[1:])


def _plain(rows: Iterable[tuple[BlockId, Location]]) -> list[BlockRow]:
    """Rows as SQLite parameters of plain ints: an IntEnum parameter makes sqlite3
    look for an adapter (two failing attribute lookups) on every bind."""
    return [
        (bid, int(tier), pack, offset, stored_len, int(codec), frame_off, raw_len)
        for bid, (tier, pack, offset, stored_len, codec, frame_off, raw_len) in rows
    ]


@functools.lru_cache(maxsize=64)
def _lookup_sql(count: int) -> str:
    marks = ",".join("?" * count)
    return (
        "SELECT id, tier, pack, offset, stored_len, codec, frame_off, raw_len "
        f"FROM block_map WHERE id IN ({marks})"
    )


def _existing(conn: sqlite3.Connection, ids: Sequence[BlockId]) -> set[BlockId]:
    present: set[BlockId] = set()
    for start in range(0, len(ids), LOOKUP_BATCH):
        batch = ids[start : start + LOOKUP_BATCH]
        marks = ",".join("?" * len(batch))
        present.update(
            BlockId(row[0])
            for row in conn.execute(f"SELECT id FROM block_map WHERE id IN ({marks})", batch)
        )
    return present


@dataclass(frozen=True, slots=True)
class CommittedReader:
    """Existence queries on a connection of their own (see :meth:`Index.reader`)."""

    conn: sqlite3.Connection

    def existing(self, ids: Sequence[BlockId]) -> set[BlockId]:
        return _existing(self.conn, ids)


class Index:
    """Thread-safe access to the index database (one connection per thread)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._floor_lock = threading.Lock()
        self._floors: tuple[int, int] | None = None  # see "migration floors"
        self._aged_min: int | None = None
        self._aged_count = 0
        conn = self.conn
        conn.executescript(_SCHEMA)
        conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?)", (SCHEMA_VERSION,)
        )
        # Auto gc's measure of growth (see cofd.ops.maintenance.auto_gc_due): a counter,
        # so that deciding costs no count of the whole index after every write. A new
        # store starts at zero blocks; an older one is counted at its first check.
        conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('blocks_added', 0)")
        conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) SELECT 'blocks_at_last_gc', 0 "
            "WHERE NOT EXISTS (SELECT 1 FROM block_map)"
        )

    @property
    def conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            # FULL: a committed transaction survives power loss, which is the
            # promise `cof commit` makes once it prints the commit id.
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=30000")
            # 64 MiB of page cache per connection: the index of a 10 GiB repository is
            # ~300 MiB, and adds touch random pages of it (ids are hashes).
            conn.execute("PRAGMA cache_size=-65536")
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    def close(self) -> None:
        with self._all_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()

    # -- transactions (writer only) ------------------------------------------------

    def begin(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.conn.execute("COMMIT")

    def rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    # -- block_map ------------------------------------------------------------------

    def lookup(self, block_id: BlockId) -> Location | None:
        row = self.conn.execute(
            "SELECT tier, pack, offset, stored_len, codec, frame_off, raw_len "
            "FROM block_map WHERE id = ?",
            (block_id,),
        ).fetchone()
        return _location(row) if row else None

    def lookup_row(self, block_id: BlockId) -> BlockRow | None:
        row: BlockRow | None = self.conn.execute(
            "SELECT id, tier, pack, offset, stored_len, codec, frame_off, raw_len "
            "FROM block_map WHERE id = ?",
            (block_id,),
        ).fetchone()
        return row

    def record_ids(self, pack: int, offset: int) -> set[BlockId]:
        """Ids mapped to the record whose data starts at ``offset`` in ``pack``: a scan
        of the covering index ``block_map_pack`` (under 0.2 us an id, where an IN
        lookup by id costs 1.5 to 2 us: the read path's record-wise lookups).

        The ids come back concatenated in one value (``group_concat`` appends a blob's
        bytes as they are, NULs included, in a UTF-8 database; the CAST returns them
        as a blob): one sqlite3_step, so one release of the GIL, per record instead of
        one per id. With two threads restoring files, each of those releases was a GIL
        hand-over to the other thread (-12% restore time without them)."""
        conn = self.conn
        (joined,) = conn.execute(
            "SELECT CAST(group_concat(id, '') AS BLOB) FROM block_map "
            "WHERE pack = ? AND offset = ?",
            (pack, offset),
        ).fetchone()
        if joined is None:
            return set()
        if len(joined) % ID_LEN:  # an id of another length (damage): row by row
            return {
                row[0]
                for row in conn.execute(
                    "SELECT id FROM block_map WHERE pack = ? AND offset = ?", (pack, offset)
                )
            }
        return cast(
            set[BlockId], {joined[at : at + ID_LEN] for at in range(0, len(joined), ID_LEN)}
        )

    def record_rows(self, pack: int, offset: int) -> list[BlockRow]:
        """The full rows of the blocks mapped to one record."""
        return self.conn.execute(
            "SELECT id, tier, pack, offset, stored_len, codec, frame_off, raw_len "
            "FROM block_map WHERE pack = ? AND offset = ?",
            (pack, offset),
        ).fetchall()

    def lookup_many(self, ids: Sequence[BlockId]) -> dict[BlockId, Location]:
        return {bid: row_location(row) for bid, row in self.lookup_rows(ids).items()}

    def lookup_rows(self, ids: Sequence[BlockId]) -> dict[BlockId, BlockRow]:
        """The rows of the ids that are mapped, by id (the read path's lookup).

        Batches of LOOKUP_BATCH ids per IN query: measured against batches of 2,000
        to 32,000 (and against plain tuples vs Locations), 500 was the cheapest per id;
        a larger IN list costs more per id (SQLite sorts it into a temporary b-tree).
        """
        conn = self.conn
        found: dict[BlockId, BlockRow] = {}
        for start in range(0, len(ids), LOOKUP_BATCH):
            batch = ids[start : start + LOOKUP_BATCH]
            for row in conn.execute(_lookup_sql(len(batch)), batch):
                found[row[0]] = row
        return found

    def is_empty(self) -> bool:
        """Whether no block is mapped at all (a new repository, e.g. before a clone)."""
        return self.conn.execute("SELECT 1 FROM block_map LIMIT 1").fetchone() is None

    def existing(self, ids: Sequence[BlockId]) -> set[BlockId]:
        return _existing(self.conn, ids)

    @contextlib.contextmanager
    def reader(self) -> Iterator[CommittedReader]:
        """A connection of its own for another thread, closed on exit.

        It sees only committed rows: a thread working beside a write transaction
        (a fetch's network thread) asks what the store held before the transaction.
        The per-thread connections of :attr:`conn` live as long as the index; this one
        does not outlive its use, so short-lived threads do not pile connections up.
        """
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout=30000")
            yield CommittedReader(conn)
        finally:
            conn.close()

    def insert_blocks(
        self,
        rows: Iterable[tuple[BlockId, Location]],
        *,
        keep_existing: bool = False,
        mark_pending: bool = True,
    ) -> None:
        """Map each block to its location. A block already mapped moves to the new
        location, or with ``keep_existing`` keeps its old one (the first copy wins).
        ``mark_pending`` marks the records pending (not yet given a commit age)."""
        params = _plain(rows)
        verb = "INSERT OR IGNORE" if keep_existing else "INSERT OR REPLACE"
        self.conn.executemany(
            f"{verb} INTO block_map "
            "(id, tier, pack, offset, stored_len, codec, frame_off, raw_len) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            params,
        )
        if mark_pending:
            self.mark_pending(sorted({(p[2], p[3]) for p in params}))

    def insert_new_blocks(
        self, rows: list[BlockRow], records: list[tuple[int, int]], *, keep_existing: bool = False
    ) -> None:
        """Map blocks that are not mapped yet and mark their records pending.

        The writer's fast path (``WriteTxn.put_many``): the caller looked the ids up
        with :meth:`existing` inside the same write transaction, so a plain INSERT
        (no conflict resolution) is enough, and a duplicate would be a bug that
        aborts the transaction rather than silently moving a block. With
        ``keep_existing`` (a fetch, which skips the lookup) a mapped id keeps its
        mapping instead. ``rows`` are plain-int :data:`BlockRow` tuples, best sorted by
        id (neighbouring b-tree pages); ``records`` the (pack, data offset) of the
        records they live in.
        """
        conn = self.conn
        added = conn.executemany(
            ("INSERT OR IGNORE INTO block_map " if keep_existing else "INSERT INTO block_map ")
            + "(id, tier, pack, offset, stored_len, codec, frame_off, raw_len) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        ).rowcount
        conn.execute("UPDATE meta SET value = value + ? WHERE key = 'blocks_added'", (added,))
        self.mark_pending(records)

    def blocks_added(self) -> int:
        """Blocks mapped since :meth:`reset_blocks_added` (or since this store began)."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'blocks_added'").fetchone()
        return int(row[0]) if row else 0

    def reset_blocks_added(self, total: int) -> None:
        """A gc ended with ``total`` blocks: growth counts from here."""
        self.conn.executemany(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            [("blocks_at_last_gc", total), ("blocks_added", 0)],
        )

    def mark_pending(self, records: Iterable[tuple[int, int]]) -> None:
        """Mark records (pack, data offset) as waiting for the next commit's generation."""
        self.conn.executemany(
            "INSERT OR IGNORE INTO pending_records (pack, offset) VALUES (?, ?)", records
        )

    def iter_blocks(self) -> Iterator[tuple[BlockId, Location]]:
        for row in self.conn.execute(
            "SELECT id, tier, pack, offset, stored_len, codec, frame_off, raw_len "
            "FROM block_map ORDER BY pack, offset"
        ):
            yield BlockId(row[0]), _location(row[1:])

    # -- commit_age -----------------------------------------------------------------

    def assign_generation(self, generation: int, now: float) -> int:
        """Give every pending block the generation of the commit being made.

        ``now`` is remembered per generation: gc keeps unreachable blocks whose
        generation was assigned less than ``gc.unreachable_days`` ago.
        """
        conn = self.conn
        aged = conn.execute(
            "INSERT OR IGNORE INTO commit_age (id, generation) SELECT b.id, ? "
            "FROM pending_records p JOIN block_map b ON b.pack = p.pack AND b.offset = p.offset",
            (generation,),
        ).rowcount
        conn.execute(
            "INSERT INTO generation_time (generation, time) VALUES (?, ?) "
            "ON CONFLICT (generation) DO UPDATE SET time = MAX(time, excluded.time)",
            (generation, now),
        )
        if aged:  # noted before the commit: a rollback leaves the floors only lower
            self._note_aged(generation)
        cursor = conn.execute("DELETE FROM pending_records")
        return cursor.rowcount

    def generation_of(self, block_id: BlockId) -> int | None:
        row = self.conn.execute(
            "SELECT generation FROM commit_age WHERE id = ?", (block_id,)
        ).fetchone()
        return int(row[0]) if row else None

    # -- migration floors -------------------------------------------------------------
    #
    # Floors (warm W, cold C) promise that every block whose generation is below W is
    # warm or colder, and every one below C is cold; a migration pass then looks for
    # work only if a generation with blocks lies between a floor and the line the head
    # now sets (``has_generations``), instead of scanning the whole index after every
    # write. They live in memory (one daemon owns a store): the first pass after the
    # store is opened scans everything and sets them, and a pass that moves nothing
    # writes nothing. ``assign_generation`` lowers them through ``_aged_min`` (old
    # history arriving by a fetch may be due at once), also while a pass runs.

    def take_migration_floors(self) -> tuple[tuple[int, int] | None, int]:
        """The floors lowered to what was aged since (None: unknown, scan all), and a
        token for :meth:`settle_migration_floors`."""
        with self._floor_lock:
            floors, aged = self._floors, self._aged_min
            if floors is not None and aged is not None:
                floors = (min(floors[0], aged), min(floors[1], aged))
            return floors, self._aged_count

    def settle_migration_floors(self, warm: int, cold: int, token: int) -> None:
        """A pass found nothing left to move below ``warm``/``cold``; blocks aged
        since it took ``token`` may not have been seen: the floors stay below them."""
        with self._floor_lock:
            if self._aged_count == token:
                self._aged_min = None
            elif self._aged_min is not None:
                warm, cold = min(warm, self._aged_min), min(cold, self._aged_min)
            self._floors = (warm, cold)

    def forget_migration_floors(self) -> None:
        """Ages were written another way (fsck): the next pass scans everything."""
        with self._floor_lock:
            self._floors = None

    def has_generations(self, low: int, high: int) -> bool:
        """Whether any generation in [low, high) was ever given to blocks."""
        return (
            low < high
            and self.conn.execute(
                "SELECT 1 FROM generation_time WHERE generation >= ? AND generation < ? LIMIT 1",
                (low, high),
            ).fetchone()
            is not None
        )

    def _note_aged(self, generation: int) -> None:
        with self._floor_lock:
            if self._aged_min is None or generation < self._aged_min:
                self._aged_min = generation
            self._aged_count += 1

    # -- packs ----------------------------------------------------------------------

    def packs(self) -> list[PackInfo]:
        return [
            PackInfo(p, Tier(t), length, bool(sealed))
            for p, t, length, sealed in self.conn.execute(
                "SELECT pack, tier, length, sealed FROM packs ORDER BY pack"
            )
        ]

    def set_pack(self, info: PackInfo) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO packs (pack, tier, length, sealed) VALUES (?, ?, ?, ?)",
            (info.pack, info.tier, info.length, int(info.sealed)),
        )

    def next_pack_number(self) -> int:
        """Allocate a pack number (inside the writer's transaction); never reused."""
        conn = self.conn
        row = conn.execute("SELECT COALESCE(MAX(pack), 0) FROM packs").fetchone()
        number = max(int(row[0]) + 1, self.allocated_packs() + 1)
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('next_pack', ?)", (number + 1,)
        )
        return number

    def allocated_packs(self) -> int:
        """The highest pack number ever allocated by a committed transaction."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'next_pack'").fetchone()
        if row is None:
            row = self.conn.execute("SELECT COALESCE(MAX(pack), 0) + 1 FROM packs").fetchone()
        return int(row[0]) - 1

    def mark_needs_repair(self, highest_pack_file: int) -> None:
        """The index was lost while packs exist: keep every pack until it is rebuilt."""
        conn = self.conn
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('needs_repair', 1)")
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('next_pack', ?)",
            (max(highest_pack_file, self.allocated_packs()) + 1,),
        )

    def recorded_block_size(self, configured: int) -> int:
        """The block size this store's blocks were cut with; an index without one
        (new, or older than the record) records ``configured`` and returns it."""
        conn = self.conn
        row = conn.execute("SELECT value FROM meta WHERE key = 'block_size'").fetchone()
        if row is not None:
            return int(row[0])
        conn.execute("INSERT INTO meta (key, value) VALUES ('block_size', ?)", (configured,))
        return configured

    def needs_repair(self) -> bool:
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'needs_repair'").fetchone()
        return row is not None

    def clear_needs_repair(self) -> None:
        self.conn.execute("DELETE FROM meta WHERE key = 'needs_repair'")

    def delete_pack(self, pack: int) -> None:
        self.conn.execute("DELETE FROM packs WHERE pack = ?", (pack,))

    def pack_rows(self, pack: int) -> list[tuple[BlockId, Location]]:
        """Index rows of the blocks stored in ``pack``, in record order."""
        return [
            (BlockId(row[0]), _location(row[1:]))
            for row in self.conn.execute(
                "SELECT id, tier, pack, offset, stored_len, codec, frame_off, raw_len "
                "FROM block_map WHERE pack = ? ORDER BY offset, frame_off",
                (pack,),
            )
        ]

    def live_record_bytes(self) -> dict[int, int]:
        """Per pack: stored bytes of live data (what compaction would keep).

        A single-block record is live as a whole; a raw frame counts the raw bytes
        of its live members; a compressed frame its stored size scaled by the live
        share of the (known part of the) frame.
        """
        return {
            int(pack): int(total)
            for pack, total in self.conn.execute(
                "SELECT pack, SUM(live) FROM (SELECT pack, offset, CASE "
                "WHEN MAX(frame_off) < 0 THEN MAX(stored_len) "
                "WHEN MAX(codec) = 0 THEN SUM(raw_len) "
                "ELSE MIN(MAX(stored_len), "
                "MAX(stored_len) * SUM(raw_len) / MAX(frame_off + raw_len)) END AS live "
                "FROM block_map GROUP BY pack, offset) GROUP BY pack"
            )
        }

    # -- moving blocks --------------------------------------------------------------

    def relocate(self, rows: Iterable[tuple[BlockId, Location]]) -> None:
        """Point existing blocks at their new records (migration, compaction).

        A block still waiting for its commit generation keeps waiting: its record's
        pending mark is carried to the record it moves to.
        """
        rows = list(rows)
        self.conn.executemany(
            "INSERT OR IGNORE INTO pending_records (pack, offset) SELECT ?, ? "
            "FROM block_map b JOIN pending_records p ON p.pack = b.pack AND p.offset = b.offset "
            "WHERE b.id = ?",
            [(loc.pack, loc.offset, bid) for bid, loc in rows],
        )
        self.conn.executemany(
            "UPDATE block_map SET tier = ?, pack = ?, offset = ?, stored_len = ?, codec = ?, "
            "frame_off = ?, raw_len = ? WHERE id = ?",
            [(*loc, bid) for bid, loc in rows],
        )
        self.drop_orphan_pending()

    def drop_orphan_pending(self) -> None:
        """Forget pending marks of records no block lives in any more."""
        self.conn.execute(
            "DELETE FROM pending_records WHERE NOT EXISTS (SELECT 1 FROM block_map b "
            "WHERE b.pack = pending_records.pack AND b.offset = pending_records.offset)"
        )

    def migration_candidates(
        self,
        head_generation: int,
        warm_threshold: int,
        cold_threshold: int,
        after: tuple[int, int, int, bytes],
        limit: int,
    ) -> list[tuple[BlockId, Location, int]]:
        """Blocks older than a threshold of a tier colder than their own, in pack order.

        A prefilter for :func:`cofd.store.tiers.plan_moves` (which decides); ``after``
        is the keyset cursor ``(pack, offset, frame_off, id)`` of the previous page.
        """
        rows = self.conn.execute(
            "SELECT b.id, b.tier, b.pack, b.offset, b.stored_len, b.codec, b.frame_off, "
            "b.raw_len, c.generation FROM block_map b JOIN commit_age c ON c.id = b.id "
            "WHERE ((b.tier = 0 AND c.generation < ?) OR (b.tier < 2 AND c.generation < ?)) "
            "AND (b.pack, b.offset, b.frame_off, b.id) > (?, ?, ?, ?) "
            "ORDER BY b.pack, b.offset, b.frame_off, b.id LIMIT ?",
            (
                head_generation - warm_threshold,
                head_generation - cold_threshold,
                *after,
                limit,
            ),
        )
        return [(BlockId(r[0]), _location(r[1:8]), int(r[8])) for r in rows]

    def count_movable(
        self, head_generation: int, warm_threshold: int, cold_threshold: int
    ) -> dict[tuple[Tier, Tier], tuple[int, int, int]]:
        """(from tier, to tier) -> (blocks, raw bytes, stored bytes) still to migrate."""
        out: dict[tuple[Tier, Tier], tuple[int, int, int]] = {}
        for tier, cold, count, raw, stored in self.conn.execute(
            "SELECT b.tier, c.generation < ?, COUNT(*), SUM(b.raw_len), "
            "SUM(CASE WHEN b.frame_off < 0 THEN b.stored_len ELSE b.raw_len END) "
            "FROM block_map b JOIN commit_age c ON c.id = b.id "
            "WHERE (b.tier = 0 AND c.generation < ?) OR (b.tier < 2 AND c.generation < ?) "
            "GROUP BY b.tier, c.generation < ?",
            (
                head_generation - cold_threshold,
                head_generation - warm_threshold,
                head_generation - cold_threshold,
                head_generation - cold_threshold,
            ),
        ):
            target = Tier.COLD if cold else Tier.WARM
            out[(Tier(tier), target)] = (int(count), int(raw), int(stored))
        return out

    # -- statistics -----------------------------------------------------------------

    def tier_totals(self) -> dict[Tier, tuple[int, int]]:
        """Per tier: (number of blocks, raw bytes)."""
        totals = {tier: (0, 0) for tier in Tier}
        for tier, count, raw in self.conn.execute(
            "SELECT tier, COUNT(*), COALESCE(SUM(raw_len), 0) FROM block_map GROUP BY tier"
        ):
            totals[Tier(tier)] = (int(count), int(raw))
        return totals
