"""Local RPC framing: round trips, stream splitting, limits and malformed input."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.codec import CodecError, pack
from protocol.errors import ProtocolError
from protocol.rpc import (
    HEADER_BYTES,
    MAX_FRAME_BYTES,
    PROTOCOL_VERSION,
    Error,
    FrameDecoder,
    Message,
    Progress,
    Request,
    Result,
    VersionMismatchError,
    encode_frame,
    message_from_wire,
    message_to_wire,
)

MESSAGES: list[Message] = [
    Request(1, "status", {"paths": ["a", "b"], "n": 3}, "/work/repo", {"COF_X": "1"}),
    Request(2**63 - 1, "ping"),
    Progress(7, {"phase": "hashing", "done": 10, "total": 20, "unit": "bytes"}),
    Result(7, {"blob": b"\x00\xff", "nested": [1, 2.5, None, True]}),
    Result(8, None),
    Error(9, "not_a_repository", "not a cof repository: /tmp"),
    Error(0, "protocol", "frame too large"),
]


def raw_frame(obj: object) -> bytes:
    body = pack(obj)
    return struct.pack(">I", len(body)) + body


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_round_trip(message: Message) -> None:
    assert FrameDecoder().feed(encode_frame(message)) == [message]


def test_merged_frames_in_one_feed() -> None:
    stream = b"".join(encode_frame(m) for m in MESSAGES)
    assert FrameDecoder().feed(stream) == MESSAGES


def test_byte_by_byte_feed() -> None:
    stream = b"".join(encode_frame(m) for m in MESSAGES)
    decoder = FrameDecoder()
    received: list[Message] = []
    for i in range(len(stream)):
        received += decoder.feed(stream[i : i + 1])
    assert received == MESSAGES
    assert decoder.buffered == 0


def test_partial_frame_waits_for_more() -> None:
    frame = encode_frame(MESSAGES[0])
    decoder = FrameDecoder()
    assert decoder.feed(frame[:-1]) == []
    assert decoder.feed(frame[-1:]) == [MESSAGES[0]]


def test_oversized_frame_rejected_from_header_alone() -> None:
    decoder = FrameDecoder(max_frame_bytes=1000)
    with pytest.raises(ProtocolError, match="exceeds limit"):
        decoder.feed(struct.pack(">I", 1001))
    # The default limit is checked the same way, before any body byte arrives.
    with pytest.raises(ProtocolError, match="exceeds limit"):
        FrameDecoder().feed(struct.pack(">I", MAX_FRAME_BYTES + 1))


def test_frame_at_limit_accepted() -> None:
    frame = encode_frame(Result(1, "x" * 100))
    decoder = FrameDecoder(max_frame_bytes=len(frame) - HEADER_BYTES)
    assert decoder.feed(frame) == [Result(1, "x" * 100)]


def test_wire_map_carries_version_and_type() -> None:
    wire = message_to_wire(Progress(3, {"phase": "x"}))
    assert wire == {"v": PROTOCOL_VERSION, "t": "progress", "id": 3, "data": {"phase": "x"}}


def test_version_mismatch_is_clear() -> None:
    wire = message_to_wire(Result(1, 2)) | {"v": PROTOCOL_VERSION + 1}
    with pytest.raises(VersionMismatchError, match="protocol version mismatch"):
        FrameDecoder().feed(raw_frame(wire))


GOOD_REQUEST = message_to_wire(Request(1, "op", {}, "/", {}))


@pytest.mark.parametrize(
    "wire",
    [
        [1, 2, 3],
        "request",
        {},
        GOOD_REQUEST | {"t": "bogus"},
        GOOD_REQUEST | {"t": 5},
        GOOD_REQUEST | {"id": -1},
        GOOD_REQUEST | {"id": 2**64 - 1},
        GOOD_REQUEST | {"id": True},
        GOOD_REQUEST | {"id": "1"},
        GOOD_REQUEST | {"op": b"op"},
        GOOD_REQUEST | {"params": [1]},
        GOOD_REQUEST | {"params": {1: 2}},
        GOOD_REQUEST | {"cwd": None},
        GOOD_REQUEST | {"env": {"COF_X": 1}},
        {k: v for k, v in GOOD_REQUEST.items() if k != "env"},
        {"v": PROTOCOL_VERSION, "t": "result", "id": 1},
        {"v": PROTOCOL_VERSION, "t": "error", "id": 1, "code": "x"},
        {"v": PROTOCOL_VERSION, "t": "error", "id": 1, "code": 1, "message": "m"},
        {"v": PROTOCOL_VERSION, "t": "progress", "id": 1, "data": "50%"},
    ],
)
def test_malformed_messages_raise_protocol_error(wire: object) -> None:
    with pytest.raises(ProtocolError):
        FrameDecoder().feed(raw_frame(wire))
    with pytest.raises(ProtocolError):
        message_from_wire(wire)


def test_garbage_body_raises_codec_error() -> None:
    with pytest.raises(CodecError):
        FrameDecoder().feed(struct.pack(">I", 3) + b"\xc1\xc1\xc1")


def test_empty_frame_raises_codec_error() -> None:
    with pytest.raises(CodecError):
        FrameDecoder().feed(struct.pack(">I", 0))


def test_trailing_bytes_in_frame_rejected() -> None:
    body = pack(GOOD_REQUEST) + b"\x00"
    with pytest.raises(CodecError):
        FrameDecoder().feed(struct.pack(">I", len(body)) + body)


def test_unencodable_message_raises_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        encode_frame(Result(1, object()))


@settings(max_examples=500)
@given(st.lists(st.binary(max_size=64), max_size=8))
def test_fuzz_feed_parses_or_raises_protocol_error(chunks: list[bytes]) -> None:
    decoder = FrameDecoder(max_frame_bytes=4096)
    try:
        for chunk in chunks:
            for message in decoder.feed(chunk):
                assert isinstance(message, Request | Progress | Result | Error)
    except ProtocolError:  # CodecError is a subclass
        pass


@settings(max_examples=200)
@given(
    st.integers(min_value=0, max_value=2**63 - 1),
    st.text(max_size=20),
    st.dictionaries(
        st.text(max_size=8),
        st.integers(min_value=-(2**63), max_value=2**64 - 1) | st.text() | st.binary(),
        max_size=5,
    ),
    st.integers(min_value=1, max_value=7),
)
def test_fuzz_round_trip_any_split(
    request_id: int, op: str, params: dict[str, object], step: int
) -> None:
    messages: list[Message] = [Request(request_id, op, params, "/", {}), Result(request_id, params)]
    stream = b"".join(encode_frame(m) for m in messages)
    decoder = FrameDecoder()
    received: list[Message] = []
    for i in range(0, len(stream), step):
        received += decoder.feed(stream[i : i + step])
    assert received == messages
