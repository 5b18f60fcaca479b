"""Local RPC between cofctl and cofd: sans-I/O framing and message types.

A frame is a 4-byte big-endian unsigned length followed by that many bytes of one
msgpack map (encoded by :mod:`protocol.codec`). Every map carries:

    ``v``: :data:`PROTOCOL_VERSION`, so a client and a daemon from different cof
        releases fail with a clear message instead of misreading each other;
    ``t``: the message type (``request``, ``progress``, ``data``, ``result``, ``error``);
    ``id``: the request id chosen by the client (0 in errors not tied to a request).

A call is one :class:`Request`, any number of :class:`Progress` and :class:`Data`
messages with the same id, then exactly one :class:`Result` or :class:`Error`.
Nothing here does I/O: callers feed received bytes to a :class:`FrameDecoder` and
write what :func:`encode_frame` returns.
"""

from __future__ import annotations

import struct

from protocol.codec import MAX_MESSAGE_BYTES, pack, unpack
from protocol.errors import ProtocolError

TYPE_CHECKING = False  # not typing's: importing typing would slow every command's start-up
if TYPE_CHECKING:
    from typing import Any, ClassVar, Final

# Bumped whenever a message's fields or meaning change incompatibly.
PROTOCOL_VERSION: Final = 1
# One frame holds one message; the codec refuses bigger messages anyway, and checking
# the header first means a hostile length never makes us buffer its body.
MAX_FRAME_BYTES: Final = MAX_MESSAGE_BYTES
# Request ids are unsigned 63-bit so they fit msgpack's int64 on every platform.
MAX_REQUEST_ID: Final = 2**63 - 1
# Bytes of output one Data message carries at most: a file of any size streams as
# many of these, so neither side ever holds more than a few of them.
MAX_DATA_BYTES: Final = 1024 * 1024

_HEADER: Final = struct.Struct(">I")
HEADER_BYTES: Final = _HEADER.size


class VersionMismatchError(ProtocolError):
    """The peer speaks another protocol version (an older or newer cof)."""


def _require(value: object, kind: type | tuple[type, ...], what: str) -> Any:
    # bool is an int subclass; a True id or length is always a peer bug.
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        raise ProtocolError(f"malformed message: {what} has type {type(value).__name__}")
    return value


def _require_id(value: object) -> int:
    request_id: int = _require(value, int, "id")
    if not 0 <= request_id <= MAX_REQUEST_ID:
        raise ProtocolError(f"malformed message: id {request_id} out of range")
    return request_id


def _require_str_map(value: object, what: str) -> dict[str, Any]:
    mapping: dict[Any, Any] = _require(value, dict, what)
    if not all(isinstance(key, str) for key in mapping):
        raise ProtocolError(f"malformed message: {what} has a non-string key")
    return mapping


class _Message:
    """What ``@dataclass(frozen=True, slots=True)`` would give the message types:
    fields (slots) that ``__init__`` sets once and nothing changes after, and
    equality, hashing and ``repr`` by field values.

    Written out because every ``cof`` command imports this module: importing
    ``dataclasses`` (and with it ``inspect``, ``ast``, ``dis`` and ``tokenize``) and
    generating the four classes' methods took a fifth of ``cof status``'s start-up.
    """

    __match_args__: tuple[str, ...] = ()  # the fields, in order (as in a dataclass)
    __slots__ = ()
    TYPE: ClassVar[str]

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__match_args__)

    def __setattr__(self, name: str, value: object) -> None:
        if hasattr(self, name):  # a field __init__ has set, or a class attribute
            raise AttributeError(f"cannot assign to field {name!r}")
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _Message) and type(other) is type(self):
            return self._values() == other._values()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__match_args__)
        return f"{type(self).__qualname__}({fields})"


class Request(_Message):
    """Client → daemon: run operation ``op`` with ``params``.

    ``cwd`` is the client's absolute working directory (the daemon resolves the
    repository from it); ``env`` holds the client's ``COF_*`` variables.
    """

    __match_args__ = ("id", "op", "params", "cwd", "env")
    __slots__ = __match_args__
    TYPE: ClassVar[str] = "request"

    def __init__(
        self,
        id: int,
        op: str,
        params: dict[str, Any] | None = None,
        cwd: str = "/",
        env: dict[str, str] | None = None,
    ) -> None:
        self.id: Final = id
        self.op: Final = op
        self.params: Final = {} if params is None else params
        self.cwd: Final = cwd
        self.env: Final = {} if env is None else env

    def to_wire(self) -> dict[str, Any]:
        return {"op": self.op, "params": self.params, "cwd": self.cwd, "env": self.env}

    @classmethod
    def from_wire(cls, request_id: int, body: dict[str, Any]) -> Request:
        env = _require_str_map(body.get("env"), "env")
        if not all(isinstance(value, str) for value in env.values()):
            raise ProtocolError("malformed message: env has a non-string value")
        return cls(
            id=request_id,
            op=_require(body.get("op"), str, "op"),
            params=_require_str_map(body.get("params"), "params"),
            cwd=_require(body.get("cwd"), str, "cwd"),
            env=env,
        )


class Progress(_Message):
    """Daemon → client: a progress report for request ``id`` (see ``cofctl.runner``)."""

    __match_args__ = ("id", "data")
    __slots__ = __match_args__
    TYPE: ClassVar[str] = "progress"

    def __init__(self, id: int, data: dict[str, Any]) -> None:
        self.id: Final = id
        self.data: Final = data

    def to_wire(self) -> dict[str, Any]:
        return {"data": self.data}

    @classmethod
    def from_wire(cls, request_id: int, body: dict[str, Any]) -> Progress:
        return cls(id=request_id, data=_require_str_map(body.get("data"), "data"))


class Data(_Message):
    """Daemon → client: the next ``data`` bytes of request ``id``'s output stream
    (``cof show REV:PATH``, ``cof archive``), in order; never lossy, unlike progress.
    At most :data:`MAX_DATA_BYTES`: a larger output is a sequence of these."""

    __match_args__ = ("id", "data")
    __slots__ = __match_args__
    TYPE: ClassVar[str] = "data"

    def __init__(self, id: int, data: bytes) -> None:
        self.id: Final = id
        self.data: Final = data

    def to_wire(self) -> dict[str, Any]:
        return {"data": self.data}

    @classmethod
    def from_wire(cls, request_id: int, body: dict[str, Any]) -> Data:
        data: bytes = _require(body.get("data"), bytes, "data")
        if len(data) > MAX_DATA_BYTES:
            raise ProtocolError(f"malformed message: data of {len(data)} bytes")
        return cls(id=request_id, data=data)


class Result(_Message):
    """Daemon → client: request ``id`` succeeded with ``value`` (any msgpack value)."""

    __match_args__ = ("id", "value")
    __slots__ = __match_args__
    TYPE: ClassVar[str] = "result"

    def __init__(self, id: int, value: Any) -> None:
        self.id: Final = id
        self.value: Final = value

    def to_wire(self) -> dict[str, Any]:
        return {"value": self.value}

    @classmethod
    def from_wire(cls, request_id: int, body: dict[str, Any]) -> Result:
        if "value" not in body:
            raise ProtocolError("malformed message: result without value")
        return cls(id=request_id, value=body["value"])


class Error(_Message):
    """Daemon → client: request ``id`` failed; ``code`` names a ``CofError`` class."""

    __match_args__ = ("id", "code", "message")
    __slots__ = __match_args__
    TYPE: ClassVar[str] = "error"

    def __init__(self, id: int, code: str, message: str) -> None:
        self.id: Final = id
        self.code: Final = code
        self.message: Final = message

    def to_wire(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}

    @classmethod
    def from_wire(cls, request_id: int, body: dict[str, Any]) -> Error:
        return cls(
            id=request_id,
            code=_require(body.get("code"), str, "code"),
            message=_require(body.get("message"), str, "message"),
        )


Message = Request | Progress | Data | Result | Error

_TYPES: Final[
    dict[str, type[Request] | type[Progress] | type[Data] | type[Result] | type[Error]]
] = {cls.TYPE: cls for cls in (Request, Progress, Data, Result, Error)}


def message_to_wire(message: Message) -> dict[str, Any]:
    """The msgpack map for ``message``, envelope fields included."""
    return {"v": PROTOCOL_VERSION, "t": message.TYPE, "id": message.id, **message.to_wire()}


def message_from_wire(obj: object) -> Message:
    """Validate a decoded msgpack object and build the message it describes.

    Raises:
        VersionMismatchError: the peer speaks another protocol version.
        ProtocolError: anything else about the object is wrong.
    """
    body = _require_str_map(obj, "message")
    version = body.get("v")
    if version != PROTOCOL_VERSION:
        raise VersionMismatchError(
            f"protocol version mismatch: peer speaks {version!r}, this side speaks "
            f"{PROTOCOL_VERSION}; restart the daemon with `cof daemon stop` after upgrading"
        )
    kind = _TYPES.get(_require(body.get("t"), str, "t"))
    if kind is None:
        raise ProtocolError(f"malformed message: unknown type {body.get('t')!r}")
    return kind.from_wire(_require_id(body.get("id")), body)


def encode_frame(message: Message) -> bytes:
    """One complete frame (header and body) for ``message``.

    Raises:
        ProtocolError: the message cannot be encoded or exceeds :data:`MAX_FRAME_BYTES`.
    """
    body = pack(message_to_wire(message))
    if len(body) > MAX_FRAME_BYTES:
        raise ProtocolError(f"frame of {len(body)} bytes exceeds limit of {MAX_FRAME_BYTES}")
    return _HEADER.pack(len(body)) + body


class FrameDecoder:
    """Turns a byte stream into messages; feed it whatever the socket returned.

    After it raises, the stream is out of sync and the connection must be closed.
    """

    def __init__(self, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        self._max = max_frame_bytes
        self._buffer = bytearray()
        self._expected: int | None = None  # body length of the frame being read

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Message]:
        """Add ``data`` and return every message it completed, in order.

        Raises:
            ProtocolError: an oversized frame (detected from its header alone) or a
                malformed message; ``CodecError`` (a subclass) for bad msgpack.
        """
        self._buffer += data
        messages: list[Message] = []
        while (message := self._next()) is not None:
            messages.append(message)
        return messages

    def _next(self) -> Message | None:
        if self._expected is None:
            if len(self._buffer) < HEADER_BYTES:
                return None
            (length,) = _HEADER.unpack_from(self._buffer)
            if length > self._max:
                raise ProtocolError(f"frame of {length} bytes exceeds limit of {self._max}")
            self._expected = length
            del self._buffer[:HEADER_BYTES]
        if len(self._buffer) < self._expected:
            return None
        body = bytes(self._buffer[: self._expected])
        del self._buffer[: self._expected]
        self._expected = None
        return message_from_wire(unpack(body, self._max))
