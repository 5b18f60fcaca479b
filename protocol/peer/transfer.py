"""Reassembly of fragmented messages and the client's pipelined block fetcher."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import blake3

from protocol.errors import PeerError, PeerTimeoutError
from protocol.peer import limits
from protocol.peer.events import BlockFailed, Event
from protocol.peer.messages import BlockId, GetBlocks
from protocol.peer.wire import Fragment, WireError

MIN_FRAGMENT = 64  # a message fragment smaller than this (but the last) is abuse
MAX_FRAGMENTS = limits.MAX_BLOCK_BYTES // MIN_FRAGMENT  # fragments one block may have
MAX_DONE_IDS = 1024  # delivered-message ids remembered above the contiguous watermark


@dataclass(slots=True)
class _Partial:
    count: int
    parts: dict[int, bytes] = field(default_factory=dict)
    size: int = 0


class MessageAssembler:
    """Collects MSG fragments; returns each message once, whatever arrives twice."""

    def __init__(self) -> None:
        self._partial: dict[int, _Partial] = {}
        self._done_below = 0
        self._done: set[int] = set()

    def add(self, msg_id: int, index: int, count: int, data: bytes) -> bytes | None:
        """Return the whole message when this fragment completes it; WireError on abuse."""
        if msg_id < self._done_below or msg_id in self._done:
            return None
        if not 0 <= index < count or count * MIN_FRAGMENT > limits.MAX_MESSAGE_BYTES * 2:
            raise WireError("message fragment index out of range")
        partial = self._partial.get(msg_id)
        if partial is None:
            if len(self._partial) >= limits.MAX_PARTIAL_MESSAGES:
                raise WireError("too many messages in reassembly")
            partial = self._partial[msg_id] = _Partial(count)
        if partial.count != count:
            raise WireError("message fragment count changed")
        if index in partial.parts:
            return None
        partial.size += len(data)
        if partial.size > limits.MAX_MESSAGE_BYTES:
            raise WireError("message exceeds MAX_MESSAGE_BYTES")
        partial.parts[index] = data
        if len(partial.parts) < count:
            return None
        del self._partial[msg_id]
        self._mark_done(msg_id)
        return b"".join(partial.parts[i] for i in range(count))

    def _mark_done(self, msg_id: int) -> None:
        self._done.add(msg_id)
        while self._done_below in self._done:
            self._done.discard(self._done_below)
            self._done_below += 1
        if len(self._done) > MAX_DONE_IDS:  # a peer skipping ids: forget the oldest
            self._done_below = min(self._done)
            self._mark_done(self._done_below)


@dataclass(slots=True)
class _Slot:
    block_id: BlockId
    first_requested: float
    requested: float
    parts: dict[int, bytes] = field(default_factory=dict)
    end: int = -1  # index of the last fragment, once it arrived
    highest: int = -1  # highest index arrived
    in_order: bool = True  # parts were added in index order (join them as they are)
    size: int = 0


@dataclass(slots=True)
class _Wanted:
    block_id: BlockId
    first_requested: float | None = None
    corrupt: int = 0


class BlockFetcher:
    """Client side of block transfer: slots, reassembly, verification, retries.

    ``timeout`` without progress on the whole pipeline re-requests a block;
    ``budget`` (= timeout x (max_retries + 1)) without progress fails it. Verified
    blocks collect in ``received`` (the connection hands them on in batches).
    """

    def __init__(self, peer_name: str, timeout: float, max_retries: int, max_slots: int) -> None:
        self.peer_name = peer_name
        self.timeout = timeout
        self.max_retries = max_retries
        self.budget = timeout * (max_retries + 1)
        self.max_slots = max_slots
        self.corrupt_blocks = 0
        self.received: list[tuple[BlockId, bytes]] = []  # verified, not yet handed on
        self._queue: deque[_Wanted] = deque()
        self._known: dict[BlockId, _Wanted] = {}
        self._slots: dict[int, _Slot] = {}
        # (slot, state) in request order; entries whose slot has moved on are skipped
        self._order: deque[tuple[int, _Slot]] = deque()
        self._next_slot = 0
        self._last_progress = -1.0

    @property
    def outstanding(self) -> int:
        """Blocks asked for and not yet received or failed."""
        return len(self._known)

    def want(self, ids: list[BlockId]) -> None:
        for block_id in ids:
            if block_id not in self._known:
                wanted = self._known[block_id] = _Wanted(block_id)
                self._queue.append(wanted)

    def next_requests(self, now: float) -> list[GetBlocks]:
        """Allocate slots for queued ids, up to the in-flight limit."""
        out: list[GetBlocks] = []
        while self._queue and len(self._slots) < self.max_slots:
            first = self._next_slot
            ids: list[BlockId] = []
            room = min(limits.MAX_BLOCKS_PER_REQUEST, self.max_slots - len(self._slots))
            while self._queue and len(ids) < room and self._next_slot not in self._slots:
                wanted = self._queue.popleft()
                if wanted.first_requested is None:
                    wanted.first_requested = now
                state = _Slot(wanted.block_id, wanted.first_requested, now)
                self._slots[self._next_slot] = state
                self._order.append((self._next_slot, state))
                ids.append(wanted.block_id)
                self._next_slot = (self._next_slot + 1) % limits.SLOT_SPACE
            if not ids:
                self._next_slot = (self._next_slot + 1) % limits.SLOT_SPACE
                continue
            out.append(GetBlocks(first, tuple(ids)))
        return out

    def on_fragments(self, fragments: list[Fragment], now: float) -> list[Event]:
        """Take ``(last, slot, index, data)`` fragments, in arrival order. A block they
        complete and that hashes to its id goes to ``received``; BlockFailed for each
        block that fails for good. (One call per run of datagrams: this is the hot
        path of a transfer, hence the locals.)"""
        events: list[Event] = []
        slots, received, hash_block = self._slots, self.received, blake3.blake3
        for last, slot, index, data in fragments:
            state = slots.get(slot)
            if state is None:
                continue  # a late duplicate, or a slot we no longer wait for
            parts = state.parts
            if index in parts or index >= MAX_FRAGMENTS:
                continue
            if index < state.highest:
                state.in_order = False
            else:
                state.highest = index
            if last:
                if state.end >= 0 or state.highest > index:
                    self._corrupt(slot, state, events)
                    continue
                state.end = index
            state.size += len(data)
            if state.size > limits.MAX_BLOCK_BYTES or (0 <= state.end < index):
                self._corrupt(slot, state, events)
                continue
            parts[index] = data
            self._last_progress = now
            if len(parts) != state.end + 1:
                continue  # more to come (end is -1 until the last fragment is here)
            if state.in_order:
                block = b"".join(parts.values())
            else:
                block = b"".join([parts[i] for i in range(state.end + 1)])
            if hash_block(block).digest() != state.block_id:
                self._corrupt(slot, state, events)
                continue
            del slots[slot]
            del self._known[state.block_id]
            received.append((state.block_id, block))
        return events

    def _corrupt(self, slot: int, state: _Slot, events: list[Event]) -> None:
        """Drop a block that does not hash to its id and ask again (or give up)."""
        self.corrupt_blocks += 1
        del self._slots[slot]
        wanted = self._known[state.block_id]
        wanted.corrupt += 1
        if wanted.corrupt > self.max_retries:
            del self._known[state.block_id]
            msg = f"peer {self.peer_name} sent corrupt data for block {state.block_id.hex()}"
            events.append(BlockFailed(state.block_id, PeerError(msg)))
        else:
            self._queue.appendleft(wanted)

    def on_missing(self, slots: tuple[int, ...]) -> list[Event]:
        events: list[Event] = []
        for slot in slots:
            state = self._slots.pop(slot, None)
            if state is not None and self._known.pop(state.block_id, None) is not None:
                msg = f"peer {self.peer_name} does not have block {state.block_id.hex()}"
                events.append(BlockFailed(state.block_id, PeerError(msg)))
        return events

    def _oldest(self) -> tuple[int, _Slot] | None:
        order, slots = self._order, self._slots
        while order and slots.get(order[0][0]) is not order[0][1]:
            order.popleft()
        return order[0] if order else None

    def timer(self) -> float | None:
        oldest = self._oldest()
        if oldest is None:
            return None
        return max(oldest[1].requested, self._last_progress) + self.timeout

    def on_timer(self, now: float) -> list[Event]:
        """Re-request stalled blocks; fail those stalled for the whole budget."""
        events: list[Event] = []
        while (oldest := self._oldest()) is not None:
            slot, state = oldest
            if max(state.requested, self._last_progress) + self.timeout > now:
                break  # slots are in request order: the rest are younger
            self._order.popleft()
            del self._slots[slot]
            if max(state.first_requested, self._last_progress) + self.budget <= now + 1e-9:
                del self._known[state.block_id]
                events.append(BlockFailed(state.block_id, self._timeout_error(state.block_id)))
            else:
                self._queue.appendleft(self._known[state.block_id])
        return events

    def fail_all(self, error: PeerError) -> list[Event]:
        """Fail every block still wanted (``received`` keeps what completed)."""
        events: list[Event] = [BlockFailed(b, error) for b in self._known]
        self._known.clear()
        self._slots.clear()
        self._order.clear()
        self._queue.clear()
        return events

    def _timeout_error(self, block_id: BlockId) -> PeerTimeoutError:
        return PeerTimeoutError(
            f"peer {self.peer_name} sent no data for block {block_id.hex()[:16]} in "
            f"{self.budget:g} s ({self.max_retries} retries)"
        )
