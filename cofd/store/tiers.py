"""Tier policy and migration planning: pure functions of the index rows and the head.

A block's age is ``head_generation - generation`` where ``generation`` is the
``commit_age`` of the block (the generation of the first commit that stored it) and
``head_generation`` is the highest generation among the branch heads (see
docs/tiers.md). Hot: age <= warm_threshold; warm: age <= cold_threshold; cold:
older. Blocks only ever move to colder tiers.

Planning is separate from execution so that it can be tested without I/O: given the
candidate rows in pack order, :func:`plan_moves` returns batches; a warm batch is a
list of single-block records, a cold batch a list of frames of consecutive blocks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cofd.store.ids import BlockId
from cofd.store.index import Location
from cofd.store.pack import MAX_FRAME_BLOCKS, Tier

# Raw bytes per cold frame (the most a frame may hold, MAX_FRAME_BLOCKS x 4 KiB):
# 1 MiB frames compress 1.6-2.5 % better than 512 KiB ones on the benchmark corpora
# (7 % better than 128 KiB ones), and decompressing one to read a cold block on a
# cache miss still takes under 1 ms (docs/tiers.md).
COLD_FRAME_BYTES = 1024 * 1024
# Raw bytes handled per batch (one index transaction): bounds memory and the time
# the store's write lock is held, and is the unit after which the loop yields.
BATCH_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class TierPolicy:
    warm_threshold: int = 10
    cold_threshold: int = 100
    warm_level: int = 3
    cold_level: int = 19


@dataclass(frozen=True, slots=True)
class Candidate:
    block_id: BlockId
    location: Location
    generation: int


@dataclass(frozen=True, slots=True)
class Move:
    block_id: BlockId
    source: Location


@dataclass(frozen=True, slots=True)
class Batch:
    """Moves to one tier; each inner tuple becomes one record (a frame when cold)."""

    target: Tier
    records: tuple[tuple[Move, ...], ...]

    @property
    def raw_bytes(self) -> int:
        return sum(m.source.raw_len for record in self.records for m in record)

    @property
    def blocks(self) -> int:
        return sum(len(record) for record in self.records)


def target_tier(age: int, policy: TierPolicy) -> Tier:
    """The tier a block of this age belongs in."""
    if age <= policy.warm_threshold:
        return Tier.HOT
    if age <= policy.cold_threshold:
        return Tier.WARM
    return Tier.COLD


def plan_moves(
    candidates: Iterable[Candidate],
    head_generation: int,
    policy: TierPolicy,
    frame_bytes: int = COLD_FRAME_BYTES,
    batch_bytes: int = BATCH_BYTES,
) -> list[Batch]:
    """Group the blocks that must move into batches of records.

    Candidates are taken in their current order in the packs (the order in which
    files' blocks were written, i.e. file order), so a cold frame holds
    neighbouring blocks of the same files. Blocks already at or past their target
    tier are left alone (blocks never move back to a warmer tier).
    """
    ordered = sorted(
        candidates,
        key=lambda c: (c.location.pack, c.location.offset, c.location.frame_off, c.block_id),
    )
    warm: list[Move] = []
    cold: list[Move] = []
    for c in ordered:
        target = target_tier(head_generation - c.generation, policy)
        if target <= c.location.tier:
            continue
        (cold if target == Tier.COLD else warm).append(Move(c.block_id, c.location))
    batches = _batch([(m,) for m in warm], Tier.WARM, batch_bytes)
    batches += _batch(_frames(cold, frame_bytes), Tier.COLD, batch_bytes)
    return batches


def _frames(moves: list[Move], frame_bytes: int) -> list[tuple[Move, ...]]:
    frames: list[tuple[Move, ...]] = []
    current: list[Move] = []
    size = 0
    for move in moves:
        if current and (
            size + move.source.raw_len > frame_bytes or len(current) >= MAX_FRAME_BLOCKS
        ):
            frames.append(tuple(current))
            current, size = [], 0
        current.append(move)
        size += move.source.raw_len
    if current:
        frames.append(tuple(current))
    return frames


def _batch(records: list[tuple[Move, ...]], target: Tier, batch_bytes: int) -> list[Batch]:
    batches: list[Batch] = []
    current: list[tuple[Move, ...]] = []
    size = 0
    for record in records:
        record_bytes = sum(m.source.raw_len for m in record)
        if current and size + record_bytes > batch_bytes:
            batches.append(Batch(target, tuple(current)))
            current, size = [], 0
        current.append(record)
        size += record_bytes
    if current:
        batches.append(Batch(target, tuple(current)))
    return batches
