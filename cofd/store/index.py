"""The block index: SQLite in WAL mode under ``.cof/index/``.

Tables:
    block_map   id -> tier, pack, data offset, stored length, codec, offset of the
                block inside its decompressed frame (-1 for a single-block record),
                raw length.
    commit_age  id -> generation of the first commit that referenced the block.
    pending     ids written since the last commit, waiting for their generation.
    packs       pack number -> tier, committed length, sealed flag.

One connection per thread (SQLite connections are not shared across threads); the
single writer holds an explicit transaction that spans a whole ``add`` so that a
failure rolls back every row it wrote.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from cofd.store.ids import BlockId
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
CREATE TABLE IF NOT EXISTS pending (id BLOB PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS packs (
    pack INTEGER PRIMARY KEY, tier INTEGER NOT NULL, length INTEGER NOT NULL,
    sealed INTEGER NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class Location:
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


def _location(row: Sequence[int]) -> Location:
    tier, pack, offset, stored_len, codec, frame_off, raw_len = row
    return Location(Tier(tier), pack, offset, stored_len, Codec(codec), frame_off, raw_len)


class Index:
    """Thread-safe access to the index database (one connection per thread)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        conn = self.conn
        conn.executescript(_SCHEMA)
        conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?)", (SCHEMA_VERSION,)
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

    def lookup_many(self, ids: Sequence[BlockId]) -> dict[BlockId, Location]:
        found: dict[BlockId, Location] = {}
        for start in range(0, len(ids), LOOKUP_BATCH):
            batch = ids[start : start + LOOKUP_BATCH]
            marks = ",".join("?" * len(batch))
            for row in self.conn.execute(
                "SELECT id, tier, pack, offset, stored_len, codec, frame_off, raw_len "
                f"FROM block_map WHERE id IN ({marks})",
                batch,
            ):
                found[BlockId(row[0])] = _location(row[1:])
        return found

    def existing(self, ids: Sequence[BlockId]) -> set[BlockId]:
        present: set[BlockId] = set()
        for start in range(0, len(ids), LOOKUP_BATCH):
            batch = ids[start : start + LOOKUP_BATCH]
            marks = ",".join("?" * len(batch))
            present.update(
                BlockId(row[0])
                for row in self.conn.execute(
                    f"SELECT id FROM block_map WHERE id IN ({marks})", batch
                )
            )
        return present

    def insert_blocks(self, rows: Iterable[tuple[BlockId, Location]]) -> None:
        params = [
            (
                bid,
                loc.tier,
                loc.pack,
                loc.offset,
                loc.stored_len,
                loc.codec,
                loc.frame_off,
                loc.raw_len,
            )
            for bid, loc in rows
        ]
        self.conn.executemany(
            "INSERT OR REPLACE INTO block_map "
            "(id, tier, pack, offset, stored_len, codec, frame_off, raw_len) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            params,
        )
        self.conn.executemany(
            "INSERT OR IGNORE INTO pending (id) VALUES (?)", [(p[0],) for p in params]
        )

    def iter_blocks(self) -> Iterator[tuple[BlockId, Location]]:
        for row in self.conn.execute(
            "SELECT id, tier, pack, offset, stored_len, codec, frame_off, raw_len "
            "FROM block_map ORDER BY pack, offset"
        ):
            yield BlockId(row[0]), _location(row[1:])

    # -- commit_age -----------------------------------------------------------------

    def assign_generation(self, generation: int) -> int:
        """Give every pending block the generation of the commit being made."""
        conn = self.conn
        conn.execute(
            "INSERT OR IGNORE INTO commit_age (id, generation) SELECT id, ? FROM pending",
            (generation,),
        )
        cursor = conn.execute("DELETE FROM pending")
        return cursor.rowcount

    def generation_of(self, block_id: BlockId) -> int | None:
        row = self.conn.execute(
            "SELECT generation FROM commit_age WHERE id = ?", (block_id,)
        ).fetchone()
        return int(row[0]) if row else None

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
        row = self.conn.execute("SELECT COALESCE(MAX(pack), 0) FROM packs").fetchone()
        return int(row[0]) + 1

    # -- statistics -----------------------------------------------------------------

    def tier_totals(self) -> dict[Tier, tuple[int, int]]:
        """Per tier: (number of blocks, raw bytes)."""
        totals = {tier: (0, 0) for tier in Tier}
        for tier, count, raw in self.conn.execute(
            "SELECT tier, COUNT(*), COALESCE(SUM(raw_len), 0) FROM block_map GROUP BY tier"
        ):
            totals[Tier(tier)] = (int(count), int(raw))
        return totals
