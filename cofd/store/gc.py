"""Garbage collection, the store's half: a live set and the sweep.

The mark phase walks objects (``cofd.ops.maintenance``) and records every reachable
block id in a :class:`LiveSet`, a temporary SQLite table, so millions of ids never
sit in a Python set. The sweep deletes in one index transaction every block that is
neither live, nor staged-but-uncommitted (``pending_records``), nor younger than the cutoff;
the space is reclaimed afterwards by compaction (``rewrite.compact``), which may be
interrupted at any point without losing a live block.

The age of a block is the time its generation was assigned (``generation_time``):
when the first commit that stored it was made.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cofd.store.blockstore import BlockStore
from cofd.store.ids import BlockId

_BATCH = 500


class LiveSet:
    """Reachable block ids, in a temporary table of this thread's index connection."""

    def __init__(self, store: BlockStore, name: str = "gc_live") -> None:
        """``name``: the temporary table's (a constant: it is spliced into SQL), so
        several sets can live at once (``dedup-stats`` keeps two)."""
        self._conn = store.index.conn
        self.table = f"temp.{name}"
        self._conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {name} (id BLOB PRIMARY KEY)")
        self._conn.execute(f"DELETE FROM {self.table}")

    def add_many(self, ids: Iterable[BlockId]) -> None:
        self._conn.executemany(
            f"INSERT OR IGNORE INTO {self.table} (id) VALUES (?)", ((i,) for i in ids)
        )

    def add(self, block_id: BlockId) -> bool:
        """Add one id; False if it was already there (its subtree is marked)."""
        cursor = self._conn.execute(
            f"INSERT OR IGNORE INTO {self.table} (id) VALUES (?)", (block_id,)
        )
        return cursor.rowcount == 1

    def __contains__(self, block_id: object) -> bool:
        row = self._conn.execute(f"SELECT 1 FROM {self.table} WHERE id = ?", (block_id,)).fetchone()
        return row is not None

    def last_rowid(self) -> int:
        """Rows are numbered in insertion order: ids added later have larger rowids."""
        row = self._conn.execute(f"SELECT COALESCE(MAX(rowid), 0) FROM {self.table}").fetchone()
        return int(row[0])

    def __len__(self) -> int:
        return int(self._conn.execute(f"SELECT COUNT(*) FROM {self.table}").fetchone()[0])

    def close(self) -> None:
        self._conn.execute(f"DROP TABLE IF EXISTS {self.table}")


@dataclass(frozen=True, slots=True)
class SweepResult:
    deleted_blocks: int
    deleted_raw_bytes: int
    kept_young_blocks: int  # unreachable but younger than the cutoff


def sweep(store: BlockStore, live: LiveSet, cutoff: float | None) -> SweepResult:
    """Delete the index rows of unreachable blocks older than ``cutoff``.

    ``cutoff`` is a wall-clock time; None prunes every unreachable block, staged
    ones included (the caller holds the repository's writer lock, and the staging
    area is part of the live set).
    """
    conn = store.index.conn
    with store.transaction():
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS gc_dead (id BLOB PRIMARY KEY)")
        conn.execute("DELETE FROM temp.gc_dead")
        unreachable = (
            "SELECT b.id FROM block_map b WHERE NOT EXISTS "
            "(SELECT 1 FROM temp.gc_live l WHERE l.id = b.id)"
        )
        if cutoff is None:
            conn.execute(f"INSERT INTO temp.gc_dead (id) {unreachable}")
            young = 0
        else:
            age = (
                "COALESCE((SELECT g.time FROM commit_age c JOIN generation_time g "
                "ON g.generation = c.generation WHERE c.id = b.id), 0)"
            )
            conn.execute(
                f"INSERT INTO temp.gc_dead (id) {unreachable} AND {age} < ? AND NOT EXISTS "
                "(SELECT 1 FROM pending_records p WHERE p.pack = b.pack AND p.offset = b.offset)",
                (cutoff,),
            )
            total = conn.execute(f"SELECT COUNT(*) FROM ({unreachable})").fetchone()[0]
            dead_count = conn.execute("SELECT COUNT(*) FROM temp.gc_dead").fetchone()[0]
            young = int(total) - int(dead_count)
        count, raw = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(b.raw_len), 0) FROM block_map b "
            "JOIN temp.gc_dead d ON d.id = b.id"
        ).fetchone()
        for table in ("block_map", "commit_age"):
            conn.execute(f"DELETE FROM {table} WHERE id IN (SELECT id FROM temp.gc_dead)")
        store.index.drop_orphan_pending()
        conn.execute("DROP TABLE temp.gc_dead")
    return SweepResult(int(count), int(raw), young)
