"""Control messages exchanged over a connection, and their msgpack envelopes.

A message travels as ``[request_id, kind, field...]``; ``to_wire()`` returns
``[kind, field...]`` and ``from_wire()`` takes the same list. Block data does not use
messages: it travels in BLOCK_PART/BLOCK_END frames (see :mod:`protocol.peer.wire`).
Every decoder raises :class:`~protocol.peer.wire.WireError` on bad input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, NewType

from protocol import codec
from protocol.errors import ProtocolError
from protocol.peer import limits
from protocol.peer.wire import WireError

BlockId = NewType("BlockId", bytes)
"""BLAKE3-256 of a block's raw bytes (32 bytes)."""

ID_SIZE = 32


def _int(v: object, high: int = (1 << 32) - 1) -> int:
    if type(v) is not int or not 0 <= v <= high:
        raise WireError("expected an unsigned integer")
    return v


def _text(v: object, max_bytes: int) -> str:
    if not isinstance(v, str) or len(v.encode()) > max_bytes:
        raise WireError("expected a short string")
    return v


def _ident(v: object) -> bytes:
    if not isinstance(v, bytes) or len(v) != ID_SIZE:
        raise WireError("expected a 32-byte id")
    return v


def _opt_ident(v: object) -> bytes | None:
    return None if v is None else _ident(v)


def _ids(v: object, max_len: int) -> tuple[BlockId, ...]:
    if not isinstance(v, list) or len(v) > max_len:
        raise WireError("expected a bounded list of ids")
    return tuple(BlockId(_ident(x)) for x in v)


def _block_size(v: object) -> int:
    size = _int(v, limits.MAX_BLOCK_BYTES)
    if size < limits.MIN_BLOCK_BYTES or size & (size - 1):
        raise WireError("expected a block size: a power of two from 1 KiB to 64 KiB")
    return size


def _fields(v: list[Any], n: int) -> list[Any]:
    if len(v) != n + 1:
        raise WireError(f"message kind {v[0]} needs {n} fields")
    return v[1:]


@dataclass(frozen=True, slots=True)
class ListRefs:
    """Request: the refs of shared repository ``repo``."""

    KIND: ClassVar[int] = 1
    repo: str

    def to_wire(self) -> list[Any]:
        return [self.KIND, self.repo]

    @classmethod
    def from_wire(cls, v: list[Any]) -> ListRefs:
        (repo,) = _fields(v, 1)
        return cls(_text(repo, limits.MAX_REPO_NAME))


@dataclass(frozen=True, slots=True)
class Refs:
    """Response to ListRefs: ``(name, commit id)`` pairs, the HEAD branch name, and the
    repository's block size (history is only shared between equal block sizes: a
    file's blocks, and so its manifest, depend on it; a clone takes the origin's)."""

    KIND: ClassVar[int] = 2
    refs: tuple[tuple[str, bytes], ...]
    head: str = ""
    block_size: int = limits.DEFAULT_BLOCK_SIZE

    def to_wire(self) -> list[Any]:
        return [self.KIND, [[n, i] for n, i in self.refs], self.head, self.block_size]

    @classmethod
    def from_wire(cls, v: list[Any]) -> Refs:
        refs, head, block_size = _fields(v, 3)
        return cls(_refs(refs), _text(head, limits.MAX_REF_NAME), _block_size(block_size))


def _refs(v: object) -> tuple[tuple[str, bytes], ...]:
    if not isinstance(v, list) or len(v) > limits.MAX_REFS:
        raise WireError("expected a bounded list of refs")
    out = []
    for item in v:
        if not isinstance(item, list) or len(item) != 2:
            raise WireError("expected [name, id]")
        out.append((_text(item[0], limits.MAX_REF_NAME), _ident(item[1])))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Want:
    """Request: block ids reachable from ``wants`` and not from ``haves``, one page."""

    KIND: ClassVar[int] = 3
    repo: str
    wants: tuple[BlockId, ...]
    haves: tuple[BlockId, ...]
    offset: int = 0

    def to_wire(self) -> list[Any]:
        return [self.KIND, self.repo, list(self.wants), list(self.haves), self.offset]

    @classmethod
    def from_wire(cls, v: list[Any]) -> Want:
        repo, wants, haves, offset = _fields(v, 4)
        return cls(
            _text(repo, limits.MAX_REPO_NAME),
            _ids(wants, limits.MAX_REFS),
            _ids(haves, limits.MAX_HAVES),
            _int(offset),
        )


@dataclass(frozen=True, slots=True)
class Lacking:
    """Response to Want: the ids ``[offset, offset+len(ids))`` of those the client lacks,
    as the server's walk streams them; ``complete`` when no more follow."""

    KIND: ClassVar[int] = 4
    ids: tuple[BlockId, ...]
    offset: int
    complete: bool

    def to_wire(self) -> list[Any]:
        return [self.KIND, list(self.ids), self.offset, self.complete]

    @classmethod
    def from_wire(cls, v: list[Any]) -> Lacking:
        ids, offset, complete = _fields(v, 3)
        if type(complete) is not bool:
            raise WireError("expected a boolean")
        return cls(_ids(ids, limits.MAX_IDS), _int(offset), complete)


@dataclass(frozen=True, slots=True)
class GetBlocks:
    """Request for blocks; ``ids[i]`` is answered in block slot ``first_slot + i``."""

    KIND: ClassVar[int] = 5
    first_slot: int
    ids: tuple[BlockId, ...]

    def to_wire(self) -> list[Any]:
        return [self.KIND, self.first_slot, list(self.ids)]

    @classmethod
    def from_wire(cls, v: list[Any]) -> GetBlocks:
        first, ids = _fields(v, 2)
        return cls(_int(first, limits.SLOT_SPACE - 1), _ids(ids, limits.MAX_BLOCKS_PER_REQUEST))


@dataclass(frozen=True, slots=True)
class BlocksMissing:
    """The server cannot serve these slots (no such block, or no access)."""

    KIND: ClassVar[int] = 6
    slots: tuple[int, ...]

    def to_wire(self) -> list[Any]:
        return [self.KIND, list(self.slots)]

    @classmethod
    def from_wire(cls, v: list[Any]) -> BlocksMissing:
        (slots,) = _fields(v, 1)
        if not isinstance(slots, list) or len(slots) > limits.MAX_SERVED_BLOCKS:
            raise WireError("expected a bounded list of slots")
        return cls(tuple(_int(s, limits.SLOT_SPACE - 1) for s in slots))


@dataclass(frozen=True, slots=True)
class RefUpdate:
    """One ref a pusher wants moved from ``old`` (None: create) to ``new`` (None:
    delete, as ``push --delete``)."""

    name: str
    old: bytes | None
    new: bytes | None


@dataclass(frozen=True, slots=True)
class PushOffer:
    """Request: please fetch what you lack of these commits and update these refs."""

    KIND: ClassVar[int] = 7
    repo: str
    updates: tuple[RefUpdate, ...]
    force: bool = False
    block_size: int = limits.DEFAULT_BLOCK_SIZE  # the pusher's (see Refs)

    def to_wire(self) -> list[Any]:
        ups = [[u.name, u.old, u.new] for u in self.updates]
        return [self.KIND, self.repo, ups, self.force, self.block_size]

    @classmethod
    def from_wire(cls, v: list[Any]) -> PushOffer:
        repo, ups, force, block_size = _fields(v, 4)
        if not isinstance(ups, list) or len(ups) > limits.MAX_REFS or type(force) is not bool:
            raise WireError("bad push offer")
        updates = []
        for u in ups:
            if not isinstance(u, list) or len(u) != 3:
                raise WireError("expected [name, old, new]")
            updates.append(
                RefUpdate(_text(u[0], limits.MAX_REF_NAME), _opt_ident(u[1]), _opt_ident(u[2]))
            )
        return cls(
            _text(repo, limits.MAX_REPO_NAME), tuple(updates), force, _block_size(block_size)
        )


@dataclass(frozen=True, slots=True)
class PushResult:
    """Response to PushOffer: per ref, ``(name, ok, message)``."""

    KIND: ClassVar[int] = 8
    results: tuple[tuple[str, bool, str], ...]

    def to_wire(self) -> list[Any]:
        return [self.KIND, [list(r) for r in self.results]]

    @classmethod
    def from_wire(cls, v: list[Any]) -> PushResult:
        (results,) = _fields(v, 1)
        if not isinstance(results, list) or len(results) > limits.MAX_REFS:
            raise WireError("bad push result")
        out = []
        for r in results:
            if not isinstance(r, list) or len(r) != 3 or type(r[1]) is not bool:
                raise WireError("expected [name, ok, message]")
            out.append((_text(r[0], limits.MAX_REF_NAME), r[1], _text(r[2], limits.MAX_ERROR_TEXT)))
        return cls(tuple(out))


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """Response: the request failed; ``code`` is a :mod:`protocol.errors` wire code."""

    KIND: ClassVar[int] = 9
    code: str
    message: str

    def to_wire(self) -> list[Any]:
        return [self.KIND, self.code, self.message[: limits.MAX_ERROR_TEXT]]

    @classmethod
    def from_wire(cls, v: list[Any]) -> ErrorReply:
        code, message = _fields(v, 2)
        return cls(_text(code, 64), _text(message, limits.MAX_ERROR_TEXT * 4))


Message = (
    ListRefs
    | Refs
    | Want
    | Lacking
    | GetBlocks
    | BlocksMissing
    | PushOffer
    | PushResult
    | ErrorReply
)

MESSAGE_TYPES: dict[int, Any] = {
    cls.KIND: cls
    for cls in (
        ListRefs,
        Refs,
        Want,
        Lacking,
        GetBlocks,
        BlocksMissing,
        PushOffer,
        PushResult,
        ErrorReply,
    )
}
REQUEST_KINDS = frozenset({ListRefs.KIND, Want.KIND, PushOffer.KIND})
RESPONSE_KINDS = frozenset({Refs.KIND, Lacking.KIND, PushResult.KIND, ErrorReply.KIND})


def encode_message(request_id: int, message: Message) -> bytes:
    """Envelope ``[request_id, kind, field...]`` as msgpack."""
    return codec.pack([request_id, *message.to_wire()])


def decode_message(data: bytes) -> tuple[int, Message]:
    """Return ``(request_id, message)``; raise WireError on anything malformed."""
    try:
        obj = codec.unpack(data, limits.MAX_MESSAGE_BYTES)
    except ProtocolError as exc:
        raise WireError(str(exc)) from exc
    if not isinstance(obj, list) or len(obj) < 2:
        raise WireError("message is not an envelope")
    request_id = _int(obj[0])
    cls = MESSAGE_TYPES.get(obj[1]) if type(obj[1]) is int else None
    if cls is None:
        raise WireError(f"unknown message kind {obj[1]!r}")
    return request_id, cls.from_wire(obj[1:])
