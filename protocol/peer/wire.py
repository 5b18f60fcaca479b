"""Datagram framing: packet headers, handshake packet layouts and frames.

Layouts (byte counts) are documented in ``docs/protocol.md``. Every parser here takes
bytes from the network and either returns a value or raises :class:`WireError`
(a :class:`~protocol.errors.ProtocolError`); nothing else escapes. Callers drop the
datagram and count it.
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass
from typing import Any

from protocol import codec
from protocol.errors import ProtocolError
from protocol.peer import limits

KEY_SIZE = 32  # X25519 public key
COOKIE_SIZE = 16  # keyed BLAKE2s digest, truncated
SEALED_EMPTY = limits.AEAD_TAG_SIZE  # AEAD of the empty string: just the tag
SEALED_KEY = KEY_SIZE + limits.AEAD_TAG_SIZE

# Packet kinds: low nibble of the first byte; the high nibble is the version.
INIT = 1
COOKIE = 2
RESPONSE = 3
DATA = 4

# Kind 15 is the same in every version from 4 on: "I speak version <high nibble>",
# the answer to an INIT of another version, echoing its sender cid (5 bytes in all).
VERSION_NOTICE = 15
VERSION_NOTICE_SIZE = 1 + 4

INIT_SIZE = 1 + 4 + KEY_SIZE + SEALED_KEY + SEALED_EMPTY  # 101 without cookie
COOKIE_PACKET_SIZE = 1 + 4 + COOKIE_SIZE  # 21
RESPONSE_SIZE = 1 + 4 + 4 + KEY_SIZE + SEALED_EMPTY  # 57

# Frame types: first element of each frame's msgpack array.
PING = 0
ACK = 1
MSG = 2
BLOCK_PART = 3
BLOCK_END = 4
CLOSE = 5

_U32 = struct.Struct(">I")
DATA_HEADER = struct.Struct(">BII")  # type byte, receiver cid, packet number
_DATA_HEADER = DATA_HEADER


class WireError(ProtocolError):
    """A datagram, frame or message that does not parse: dropped and counted."""


def type_byte(kind: int) -> int:
    return (limits.PROTOCOL_VERSION << 4) | kind


def packet_kind(data: bytes) -> int:
    """Return the kind of a datagram of this protocol version, or raise WireError."""
    if not data:
        raise WireError("empty datagram")
    if data[0] >> 4 != limits.PROTOCOL_VERSION:
        raise WireError(f"unsupported protocol version {data[0] >> 4}")
    return data[0] & 0x0F


def foreign_init_cid(data: bytes) -> int | None:
    """The sender cid of an INIT of another protocol version (every version so far
    begins INIT with the type byte and a 4-byte sender cid), else None."""
    if len(data) < 5 or data[0] >> 4 == limits.PROTOCOL_VERSION or data[0] & 0x0F != INIT:
        return None
    cid: int = _U32.unpack_from(data, 1)[0]
    return cid


def version_notice(receiver_cid: int) -> bytes:
    """Our answer to an INIT we cannot speak: our version, the client's cid."""
    return bytes([type_byte(VERSION_NOTICE)]) + _U32.pack(receiver_cid)


def foreign_version(data: bytes, local_cid: int) -> int | None:
    """The version a peer announced in a VERSION notice addressed to ``local_cid``."""
    if (
        len(data) != VERSION_NOTICE_SIZE
        or data[0] & 0x0F != VERSION_NOTICE
        or data[0] >> 4 == limits.PROTOCOL_VERSION
        or _U32.unpack_from(data, 1)[0] != local_cid
    ):
        return None
    return data[0] >> 4


@dataclass(frozen=True, slots=True)
class InitPacket:
    """Client hello: its connection id, ephemeral key, sealed static key, proof, cookie."""

    sender_cid: int
    ephemeral: bytes
    sealed_static: bytes
    sealed_proof: bytes
    cookie: bytes = b""

    def prefix(self) -> bytes:
        """The bytes the handshake hash covers before the ephemeral key."""
        return bytes([type_byte(INIT)]) + _U32.pack(self.sender_cid)

    def to_wire(self) -> bytes:
        body = self.ephemeral + self.sealed_static + self.sealed_proof
        return self.prefix() + body + self.cookie

    @classmethod
    def from_wire(cls, data: bytes) -> InitPacket:
        if len(data) not in (INIT_SIZE, INIT_SIZE + COOKIE_SIZE) or packet_kind(data) != INIT:
            raise WireError("bad INIT packet")
        at = 5 + KEY_SIZE
        return cls(
            _U32.unpack_from(data, 1)[0],
            data[5:at],
            data[at : at + SEALED_KEY],
            data[at + SEALED_KEY : INIT_SIZE],
            data[INIT_SIZE:],
        )


@dataclass(frozen=True, slots=True)
class CookiePacket:
    """Server's stateless reply: echo this cookie in a new INIT from the same address."""

    receiver_cid: int
    cookie: bytes

    def to_wire(self) -> bytes:
        return bytes([type_byte(COOKIE)]) + _U32.pack(self.receiver_cid) + self.cookie

    @classmethod
    def from_wire(cls, data: bytes) -> CookiePacket:
        if len(data) != COOKIE_PACKET_SIZE or packet_kind(data) != COOKIE:
            raise WireError("bad COOKIE packet")
        return cls(_U32.unpack_from(data, 1)[0], data[5:])


@dataclass(frozen=True, slots=True)
class ResponsePacket:
    """Server hello: both connection ids, its ephemeral key and a key-confirmation tag."""

    receiver_cid: int
    sender_cid: int
    ephemeral: bytes
    sealed_proof: bytes

    def prefix(self) -> bytes:
        head = bytes([type_byte(RESPONSE)])
        return head + _U32.pack(self.receiver_cid) + _U32.pack(self.sender_cid)

    def to_wire(self) -> bytes:
        return self.prefix() + self.ephemeral + self.sealed_proof

    @classmethod
    def from_wire(cls, data: bytes) -> ResponsePacket:
        if len(data) != RESPONSE_SIZE or packet_kind(data) != RESPONSE:
            raise WireError("bad RESPONSE packet")
        receiver, sender = struct.unpack_from(">II", data, 1)
        return cls(receiver, sender, data[9 : 9 + KEY_SIZE], data[9 + KEY_SIZE :])


def data_header(receiver_cid: int, packet_number: int) -> bytes:
    """The 9-byte header of a sealed packet; it is the AEAD associated data."""
    return _DATA_HEADER.pack(type_byte(DATA), receiver_cid, packet_number)


def parse_data_header(data: bytes) -> tuple[int, int]:
    """Return ``(receiver_cid, packet_number)`` of a sealed packet."""
    if len(data) < limits.HEADER_SIZE + limits.AEAD_TAG_SIZE or packet_kind(data) != DATA:
        raise WireError("bad DATA packet")
    _, cid, pn = _DATA_HEADER.unpack_from(data)
    return cid, pn


def receiver_cid(data: bytes) -> int:
    """Connection id a datagram is addressed to (INIT has none and returns 0)."""
    kind = packet_kind(data)
    if kind == INIT or len(data) < 5:
        return 0
    return int(_U32.unpack_from(data, 1)[0])


# --- frames --------------------------------------------------------------------

Frame = list[Any]


def encode_frames(frames: list[Frame]) -> bytes:
    """A payload is one frame, or an array of frames (saves a byte for block data)."""
    return codec.pack(frames[0] if len(frames) == 1 else frames)


def decode_frames(payload: bytes) -> list[Frame]:
    """Decode and validate a payload's frames; raise WireError on anything odd."""
    try:
        obj = codec.unpack(payload, limits.MAX_PACKET_SIZE)
    except ProtocolError as exc:
        raise WireError(str(exc)) from exc
    if isinstance(obj, list) and obj and isinstance(obj[0], int):
        obj = [obj]
    if not isinstance(obj, list) or not 0 < len(obj) <= limits.MAX_FRAMES_PER_PACKET:
        raise WireError("payload is not a frame list")
    for frame in obj:
        _check_frame(frame)
    return obj


_FRAME_SHAPES: dict[int, tuple[type, ...]] = {
    PING: (),
    ACK: (int, list),
    MSG: (int, int, int, bytes),
    CLOSE: (str, str),
}  # BLOCK_PART and BLOCK_END are binary frames, never msgpack (decode_block_frame)


def _check_frame(frame: object) -> None:
    if not isinstance(frame, list) or not frame or type(frame[0]) is not int:
        raise WireError("frame is not an array")
    shape = _FRAME_SHAPES.get(frame[0])
    if shape is None or len(frame) != len(shape) + 1:
        raise WireError(f"unknown or malformed frame type {frame[0]!r}")
    for value, expected in zip(frame[1:], shape, strict=True):
        if not isinstance(value, expected) or isinstance(value, bool):
            raise WireError(f"frame {frame[0]} field has wrong type")
        if isinstance(value, int) and not 0 <= value < 1 << 32:
            raise WireError(f"frame {frame[0]} integer out of range")
    if frame[0] == ACK:
        parse_ack_ranges(frame[2])


def parse_ack_ranges(ranges: object) -> list[tuple[int, int]]:
    """ACK ranges are ``[[largest, smallest], ...]``, descending and disjoint."""
    if not isinstance(ranges, list) or not 0 < len(ranges) <= limits.MAX_ACK_RANGES:
        raise WireError("bad ACK ranges")
    out: list[tuple[int, int]] = []
    floor = limits.MAX_PACKET_NUMBER + 2
    for item in ranges:
        if not (isinstance(item, list) and len(item) == 2 and all(type(v) is int for v in item)):
            raise WireError("bad ACK range")
        high, low = int(item[0]), int(item[1])
        if not 0 <= low <= high < floor - 1:
            raise WireError("ACK ranges not descending")
        out.append((high, low))
        floor = low
    return out


# --- block fragments: the hot path --------------------------------------------
#
# Nearly every datagram of a transfer carries one block fragment, so it is not a
# msgpack frame but a fixed binary one that fills the payload on its own:
# ``kind (3 or 4) | slot u16 | fragment index u8 | length u16 | data | zero padding``.
# The padding makes the fragments of a block equally long, so that runs of them have
# one datagram size (which lets the sender hand them to the kernel as one UDP GSO
# batch). A msgpack payload never starts with byte 3 or 4 (a fixarray starts 0x9_).

_BLOCK_HEADER = struct.Struct(">BHBH")  # kind, slot, fragment index, data length
_BLOCK_KINDS = (BLOCK_PART, BLOCK_END)


def encode_block_frame(last: bool, slot: int, index: int, data: bytes, size: int = 0) -> bytes:
    """The payload of a datagram carrying one block fragment, padded to ``size`` bytes
    of fragment data (no padding when ``size <= len(data)``)."""
    if not (0 <= slot < limits.SLOT_SPACE and 0 <= index < 0x100 and len(data) < 0x10000):
        raise ValueError("block fragment out of range")
    head = _BLOCK_HEADER.pack(BLOCK_END if last else BLOCK_PART, slot, index, len(data))
    pad = size - len(data)
    return head + data + bytes(pad) if pad > 0 else head + data


Fragment = tuple[bool, int, int, bytes]  # last, slot, fragment index, data


def decode_block_frame(payload: bytes) -> Fragment | None:
    """``(last, slot, index, data)`` of a block fragment payload; None when the payload
    is msgpack frames instead (see :func:`decode_frames`); WireError when malformed."""
    if not payload or payload[0] not in _BLOCK_KINDS:
        return None
    if len(payload) < limits.BLOCK_FRAME_OVERHEAD:
        raise WireError("truncated block fragment")
    kind, slot, index, size = _BLOCK_HEADER.unpack_from(payload)
    end = limits.BLOCK_FRAME_OVERHEAD + size
    if end > len(payload):
        raise WireError("block fragment longer than its datagram")
    return kind == BLOCK_END, slot, index, payload[limits.BLOCK_FRAME_OVERHEAD : end]


def block_fragment_sizes(length: int, packet_size: int) -> list[int]:
    """Split a block of ``length`` bytes into the fewest near-equal fragments."""
    return list(fragment_sizes(length, packet_size))


@functools.lru_cache(maxsize=256)
def fragment_sizes(length: int, packet_size: int) -> tuple[int, ...]:
    """:func:`block_fragment_sizes`, cached: blocks of a transfer have few lengths."""
    room = packet_size - limits.BLOCK_DATAGRAM_OVERHEAD
    count = max(1, -(-length // room))
    base, extra = divmod(length, count)
    return tuple(base + (1 if i < extra else 0) for i in range(count))
