"""``ls-tree``'s lines from a format, as git's ``ls-tree --format``.

Every listing is a format: the default line is ``DEFAULT``, ``-l``'s ``LONG``,
``--name-only``'s ``NAME_ONLY``, ``--object-only``'s ``OBJECT_ONLY``. Placeholders are
git's: ``%(objectmode)``, ``%(objecttype)``, ``%(objectname)``, ``%(objectsize)``
(``-`` for a directory), ``%(objectsize:padded)`` (the same, right-aligned in 7),
``%(path)`` (quoted as git quotes names, unless the lines end in NUL), and the
literals ``%%``, ``%n`` (newline) and ``%xNN`` (the byte NN in hex). Anything else is
refused with git's message, before anything is listed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from protocol.errors import UsageError
from protocol.quoting import path_bytes, quote_path

DEFAULT = "%(objectmode) %(objecttype) %(objectname)%x09%(path)"
LONG = "%(objectmode) %(objecttype) %(objectname) %(objectsize:padded)%x09%(path)"
NAME_ONLY = "%(path)"
OBJECT_ONLY = "%(objectname)"

FIELDS = ("objectmode", "objecttype", "objectname", "objectsize", "objectsize:padded", "path")
_HEX_BYTE = re.compile(r"[0-9a-fA-F]{2}")
SIZE_WIDTH = 7  # git's %(objectsize:padded) and -l column


@dataclass(frozen=True, slots=True)
class Field:
    """A placeholder: one of ``FIELDS``."""

    name: str


Piece = bytes | Field


def parse(fmt: str) -> list[Piece]:
    """The format's literal bytes and placeholders, or ``UsageError`` with git's
    message for a ``%`` git would not expand."""
    pieces: list[Piece] = []
    literal = bytearray()
    rest = fmt
    while True:
        text, percent, rest = rest.partition("%")
        literal += path_bytes(text)
        if not percent:
            break
        if rest.startswith("%"):
            literal += b"%"
            rest = rest[1:]
        elif rest.startswith("n"):
            literal += b"\n"
            rest = rest[1:]
        elif rest.startswith("x") and _HEX_BYTE.match(rest, 1):
            literal.append(int(rest[1:3], 16))
            rest = rest[3:]
        else:
            name, rest = _placeholder(rest)
            if literal:
                pieces.append(bytes(literal))
                literal.clear()
            pieces.append(Field(name))
    if literal:
        pieces.append(bytes(literal))
    return pieces


def _placeholder(rest: str) -> tuple[str, str]:
    """The name in ``(name)`` at the start of ``rest`` and what follows it."""
    if not rest.startswith("("):
        raise UsageError(f"bad ls-tree format: element '{rest}' does not start with '('")
    end = rest.find(")")
    if end < 0:
        raise UsageError(f"bad ls-tree format: element '{rest}' does not end in ')'")
    name = rest[1:end]
    if name not in FIELDS:
        raise UsageError(f"bad ls-tree format: %({name})")
    return name, rest[end + 1 :]


def render(pieces: Sequence[Piece], row: Sequence[object], nul: bool) -> bytes:
    """One entry's line (``row``: mode, type, id, size or None, name), ended by a
    newline, or by NUL with ``nul`` (and then the name unquoted, as git)."""
    mode, kind, object_id, size, name = row
    assert isinstance(mode, int) and isinstance(name, str | bytes)
    shown_size = "-" if size is None else str(size)
    values = {
        "objectmode": f"{mode:06o}",
        "objecttype": str(kind),
        "objectname": str(object_id),
        "objectsize": shown_size,
        "objectsize:padded": shown_size.rjust(SIZE_WIDTH),
    }
    out = bytearray()
    for piece in pieces:
        if isinstance(piece, bytes):
            out += piece
        elif piece.name == "path":
            out += path_bytes(name) if nul else quote_path(name).encode()
        else:
            out += values[piece.name].encode()
    out += b"\0" if nul else b"\n"
    return bytes(out)
