"""Events a :class:`~protocol.peer.connection.Connection` hands to its user.

The user (the sync engine) polls ``next_event()`` after feeding datagrams or timers.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocol.errors import CofError
from protocol.peer.messages import BlockId, Message


@dataclass(frozen=True, slots=True)
class HandshakeCompleted:
    """Keys are agreed; ``peer_key`` is the peer's authenticated static public key."""

    peer_key: bytes


@dataclass(frozen=True, slots=True)
class RequestReceived:
    """The peer asks (ListRefs, Want or PushOffer); answer with ``send_response``."""

    request_id: int
    message: Message


@dataclass(frozen=True, slots=True)
class ResponseReceived:
    """The answer (Refs, Lacking or PushResult) to our request ``request_id``."""

    request_id: int
    message: Message


@dataclass(frozen=True, slots=True)
class RequestFailed:
    """Our request failed: an ErrorReply from the peer, or no progress within budget."""

    request_id: int
    error: CofError


@dataclass(frozen=True, slots=True)
class BlocksRequested:
    """Server side: send each ``(slot, id)`` with ``send_block`` or ``blocks_missing``."""

    blocks: tuple[tuple[int, BlockId], ...]


@dataclass(frozen=True, slots=True)
class BlocksReceived:
    """Client side: blocks whose bytes were verified against their ids, as
    ``(block_id, data)`` pairs in arrival order. One event carries every block that
    completed since the last event (a bulk transfer completes ~15 per GRO run): an
    event per 4 KiB block cost more than its reassembly."""

    blocks: list[tuple[BlockId, bytes]]


@dataclass(frozen=True, slots=True)
class BlockFailed:
    """Client side: the block could not be fetched (missing, corrupt or timed out)."""

    block_id: BlockId
    error: CofError


@dataclass(frozen=True, slots=True)
class ConnectionTerminated:
    """The connection is over. ``error`` is None for a clean close by either side."""

    error: CofError | None
    by_peer: bool


Event = (
    HandshakeCompleted
    | RequestReceived
    | ResponseReceived
    | RequestFailed
    | BlocksRequested
    | BlocksReceived
    | BlockFailed
    | ConnectionTerminated
)
