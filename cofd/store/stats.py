"""Totals of sets of blocks, for ``dedup-stats``: how many, their raw bytes, and the
bytes their records take on disk.

A block alone in its record counts the record's stored length; a block in a raw frame
its raw length; a block in a compressed frame its share of the frame's stored length,
in proportion to its raw length (as :meth:`Index.live_record_bytes` counts live bytes).
What the packs hold beyond the records of indexed blocks (pack headers, records of
deleted blocks that compaction has not dropped yet) belongs to no block.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cofd.store.blockstore import BlockStore
from cofd.store.gc import LiveSet

_FRAMES = (
    "(SELECT pack, offset, MAX(frame_off + raw_len) AS frame_raw FROM block_map "
    "WHERE frame_off >= 0 GROUP BY pack, offset)"
)
_STORED_SHARE = (
    "CASE WHEN b.frame_off < 0 THEN b.stored_len WHEN b.codec = 0 THEN b.raw_len "
    "ELSE MIN(b.stored_len, b.stored_len * b.raw_len / f.frame_raw) END"
)
_TOTALS = f"COUNT(*), COALESCE(SUM(b.raw_len), 0), COALESCE(SUM({_STORED_SHARE}), 0)"


@dataclass(frozen=True, slots=True)
class Totals:
    blocks: int = 0
    raw_bytes: int = 0
    stored_bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "blocks": self.blocks,
            "raw_bytes": self.raw_bytes,
            "stored_bytes": self.stored_bytes,
        }


def _totals(row: Sequence[Any]) -> Totals:
    return Totals(int(row[0]), int(row[1]), int(row[2]))


def live_totals(
    store: BlockStore, live: LiveSet, bounds: Sequence[int]
) -> tuple[list[Totals], Totals]:
    """The indexed blocks of ``live`` split at rowid ``bounds`` (ascending; its rowids
    number the ids in the order added): group ``k`` holds the ids added after
    ``bounds[k-1]`` up to ``bounds[k]``. Also the indexed blocks that are in no group."""
    groups = " ".join(f"WHEN l.rowid <= {int(b)} THEN {k}" for k, b in enumerate(bounds))
    rows = store.index.conn.execute(
        f"SELECT CASE WHEN l.rowid IS NULL THEN -1 {groups} ELSE -1 END AS grp, {_TOTALS} "
        f"FROM block_map b LEFT JOIN {live.table} l ON l.id = b.id "
        f"LEFT JOIN {_FRAMES} f ON f.pack = b.pack AND f.offset = b.offset GROUP BY grp"
    ).fetchall()
    found = {int(row[0]): _totals(row[1:]) for row in rows}
    return [found.get(k, Totals()) for k in range(len(bounds))], found.get(-1, Totals())


def set_totals(store: BlockStore, blocks: LiveSet) -> Totals:
    """Of the blocks of ``blocks`` that are indexed."""
    row = store.index.conn.execute(
        f"SELECT {_TOTALS} FROM {blocks.table} s JOIN block_map b ON b.id = s.id "
        f"LEFT JOIN {_FRAMES} f ON f.pack = b.pack AND f.offset = b.offset"
    ).fetchone()
    return _totals(row)
