"""Every decoder of the peer protocol either decodes or raises its documented error.

The documented error is :class:`protocol.peer.wire.WireError` (a ``ProtocolError``);
endpoints never raise on hostile datagrams, they drop and count them.
"""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import codec
from protocol.errors import ProtocolError
from protocol.peer import crypto, wire
from protocol.peer import messages as m
from protocol.peer.connection import Connection
from protocol.peer.listener import Listener
from protocol.peer.wire import WireError

DECODERS = [
    wire.decode_frames,
    wire.decode_block_frame,
    m.decode_message,
    wire.InitPacket.from_wire,
    wire.CookiePacket.from_wire,
    wire.ResponsePacket.from_wire,
    wire.parse_data_header,
    wire.packet_kind,
]

msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.binary(max_size=40)
    | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=6),
    max_leaves=30,
)


def _decode_or_documented_error(data: bytes) -> None:
    for decode in DECODERS:
        with contextlib.suppress(WireError):
            decode(data)


@given(st.binary(max_size=1500))
def test_decoders_on_random_bytes(data: bytes) -> None:
    _decode_or_documented_error(data)


@given(msgpack_values)
def test_decoders_on_structured_msgpack(value: object) -> None:
    _decode_or_documented_error(codec.pack(value))


@given(st.integers(0, 12), st.integers(0, 2**32), msgpack_values)
def test_message_decoder_on_plausible_envelopes(kind: int, rid: int, body: object) -> None:
    fields = body if isinstance(body, list) else [body]
    with contextlib.suppress(WireError):
        m.decode_message(codec.pack([rid, kind, *fields]))


@given(st.integers(0, 6), msgpack_values)
def test_frame_decoder_on_plausible_frames(kind: int, body: object) -> None:
    fields = body if isinstance(body, list) else [body]
    with contextlib.suppress(WireError):
        wire.decode_frames(codec.pack([kind, *fields]))


ids = st.binary(min_size=32, max_size=32).map(m.BlockId)
names = st.text(max_size=20)
block_sizes = st.sampled_from([1024, 2048, 4096, 8192, 16384, 32768, 65536])
MESSAGES = st.one_of(
    st.builds(m.ListRefs, names),
    st.builds(
        m.Refs,
        st.lists(st.tuples(names, ids), max_size=4).map(tuple),
        names,
        block_sizes,
    ),
    st.builds(
        m.Want,
        names,
        st.lists(ids, max_size=3).map(tuple),
        st.lists(ids, max_size=3).map(tuple),
        st.integers(0, 2**32 - 1),
    ),
    st.builds(
        m.Lacking,
        st.lists(ids, max_size=3).map(tuple),
        st.integers(0, 2**32 - 1),
        st.booleans(),
    ),
    st.builds(m.GetBlocks, st.integers(0, 2**16 - 1), st.lists(ids, max_size=32).map(tuple)),
    st.builds(m.BlocksMissing, st.lists(st.integers(0, 2**16 - 1), max_size=5).map(tuple)),
    st.builds(
        m.PushOffer,
        names,
        st.lists(st.builds(m.RefUpdate, names, st.none() | ids, ids), max_size=3).map(tuple),
        st.booleans(),
        block_sizes,
    ),
    st.builds(
        m.PushResult, st.lists(st.tuples(names, st.booleans(), names), max_size=3).map(tuple)
    ),
    st.builds(m.ErrorReply, st.text(max_size=10), names),
)


@given(st.integers(0, 2**32 - 1), MESSAGES)
def test_messages_round_trip(rid: int, message: m.Message) -> None:
    assert m.decode_message(m.encode_message(rid, message)) == (rid, message)


@pytest.mark.parametrize("size", [0, 512, 3000, 4097, 131072, True, -4096, "4096", None])
def test_a_bad_block_size_is_refused(size: object) -> None:
    for envelope in ([1, m.Refs.KIND, [], ""], [2, m.PushOffer.KIND, "r", [], False]):
        assert m.decode_message(codec.pack([*envelope, 8192]))[1].block_size == 8192  # type: ignore[union-attr]
        with pytest.raises(WireError):
            m.decode_message(codec.pack([*envelope, size]))


_SERVER = crypto.Identity.from_private_bytes(bytes(range(32)))
_CLIENT = crypto.Identity.from_private_bytes(bytes(range(1, 33)))


@given(st.lists(st.binary(max_size=1600), max_size=5))
def test_endpoints_drop_garbage_without_raising(datagrams: list[bytes]) -> None:
    listener = Listener(_SERVER)
    client = Connection.client(_CLIENT, _SERVER.public, ("127.0.0.1", 1))
    client.datagrams_to_send(0.0)
    for data in datagrams:
        listener.receive_datagram(data, ("127.0.0.1", 2), 0.0)
        client.receive_datagram(data, ("127.0.0.1", 1), 0.0)
    assert not listener.connections
    assert client.next_event() is None
    for reply, _ in listener.datagrams_to_send(0.0):
        # A cookie, or the 5-byte notice to what looked like another version's INIT;
        # either is at most 3x what it answers (no amplification).
        assert len(reply) in (wire.COOKIE_PACKET_SIZE, wire.VERSION_NOTICE_SIZE)


def test_wire_error_is_the_protocol_error_of_the_error_table() -> None:
    assert issubclass(WireError, ProtocolError) and WireError.code == "protocol"


@given(
    st.booleans(),
    st.integers(0, 2**16 - 1),
    st.integers(0, 255),
    st.binary(max_size=1400),
    st.integers(0, 1400),
)
def test_block_frames_round_trip_with_padding(
    last: bool, slot: int, index: int, data: bytes, size: int
) -> None:
    payload = wire.encode_block_frame(last, slot, index, data, size)
    assert len(payload) == 6 + max(len(data), size)
    assert wire.decode_block_frame(payload) == (last, slot, index, data)
    with contextlib.suppress(WireError):  # a cut frame is malformed, never misread
        assert wire.decode_block_frame(payload[: 6 + len(data) - 1]) is None


@given(msgpack_values)
def test_msgpack_payloads_are_never_taken_for_block_frames(value: object) -> None:
    assert wire.decode_block_frame(codec.pack([value])) is None
