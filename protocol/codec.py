"""The only module that imports msgpack: pinned options and explicit limits.

Every decode states the largest input it accepts and msgpack is told the largest
string, binary, array and map it may allocate, so a hostile or corrupt input cannot
make us allocate more than a small multiple of its own size.
"""

from __future__ import annotations

import msgpack

from protocol.errors import ProtocolError

TYPE_CHECKING = False  # not typing's: importing typing would slow every command's start-up
if TYPE_CHECKING:
    from typing import Any

# Largest single decoded message anywhere in cof: an RPC frame carrying a log page
# or status listing. Objects in the store are far smaller (one block).
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
# Containers: no legitimate message has more elements than this.
MAX_CONTAINER_LEN = 4 * 1024 * 1024


class CodecError(ProtocolError):
    """Bytes that are not a valid message under the given limits."""


def pack(obj: Any) -> bytes:
    """Encode canonically: bin type for bytes, no datetime extension, str keys kept."""
    try:
        return msgpack.packb(obj, use_bin_type=True, strict_types=False, datetime=False)  # type: ignore[no-any-return]
    except UnicodeEncodeError as exc:
        # A str holding surrogates: os.fsdecode's stand-ins for bytes that are not UTF-8,
        # i.e. a file name (from argv or a directory listing) cof cannot represent. It
        # is named as status lists it ("bad\377name"); imported here, off start-up.
        from protocol.quoting import quote_path

        try:
            named = quote_path(exc.object)
        except UnicodeEncodeError:  # a lone surrogate no file name produces
            named = ascii(exc.object)
        raise CodecError(
            f"{named} is not valid UTF-8: cof tracks and names files in UTF-8 only"
        ) from exc
    except (TypeError, ValueError, OverflowError) as exc:
        raise CodecError(f"cannot encode message: {exc}") from exc


def unpack(data: bytes, max_bytes: int = MAX_MESSAGE_BYTES) -> Any:
    """Decode exactly one object, rejecting trailing bytes and oversized input."""
    if len(data) > max_bytes:
        raise CodecError(f"message of {len(data)} bytes exceeds limit of {max_bytes}")
    limit = min(len(data), MAX_CONTAINER_LEN)
    try:
        return msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            strict_map_key=False,
            max_str_len=len(data),
            max_bin_len=len(data),
            max_array_len=limit,
            max_map_len=limit,
            max_ext_len=0,
        )
    except (
        ValueError,
        TypeError,
        msgpack.ExtraData,
        msgpack.FormatError,
        msgpack.StackError,
        msgpack.UnpackValueError,
    ) as exc:
        raise CodecError(f"malformed message: {exc}") from exc
    except RecursionError as exc:  # deeply nested hostile input
        raise CodecError("malformed message: nested too deeply") from exc
