"""Typed content ids: raw 32-byte BLAKE3-256 digests inside, hex only at the edges."""

from __future__ import annotations

from typing import NewType

import blake3

ID_LEN = 32

BlockId = NewType("BlockId", bytes)


def hash_block(data: bytes | memoryview) -> BlockId:
    return BlockId(blake3.blake3(data).digest())


def to_hex(block_id: bytes) -> str:
    return block_id.hex()
