"""Canonical object encoding: ``[type tag, format version, *fields]`` in msgpack.

Owns the limits for objects read back from the store or received from a peer;
decoding validates shape and types before anything is built from it.
"""

from __future__ import annotations

from typing import Any

from protocol.codec import CodecError, pack, unpack
from protocol.errors import IntegrityError

FORMAT_VERSION = 1
# A tree with 1,000,000 entries of ~100 bytes, or a commit message of 64 MiB, is the
# most we accept; anything larger is treated as corrupt or hostile.
MAX_OBJECT_BYTES = 128 * 1024 * 1024


def encode(tag: str, fields: list[Any]) -> bytes:
    return pack([tag, FORMAT_VERSION, *fields])


def decode(data: bytes, tag: str, nfields: int, where: str) -> list[Any]:
    """Return the fields of an object of type ``tag``, or raise ``IntegrityError``."""
    try:
        obj = unpack(data, max_bytes=MAX_OBJECT_BYTES)
    except CodecError as exc:
        raise IntegrityError(f"{where}: undecodable {tag}: {exc}") from exc
    if not isinstance(obj, list) or len(obj) != 2 + nfields or obj[0] != tag:
        raise IntegrityError(f"{where}: not a {tag} object")
    if obj[1] != FORMAT_VERSION:
        raise IntegrityError(f"{where}: unsupported {tag} format version {obj[1]!r}")
    return obj[2:]


def object_tag(data: bytes) -> str | None:
    """The type tag of an encoded object, without decoding the rest."""
    try:
        obj = unpack(data, max_bytes=MAX_OBJECT_BYTES)
    except CodecError:
        return None
    if isinstance(obj, list) and obj and isinstance(obj[0], str):
        return obj[0]
    return None
