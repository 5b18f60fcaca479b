"""Path quoting as git's ``core.quotePath = true``, shared by cofd (patch headers) and
cofctl (every other place a path is printed), so both quote alike.

A name holding a double quote, a backslash, a control character or any byte of
0x80 and up is printed between double quotes, with C escapes (``\\n``, ``\\t``,
``\\"``, ``\\\\``) and the other bytes in octal (``é`` is ``\\303\\251``). Names come
as ``str`` (``os.fsdecode``'s surrogates standing for bytes that are not UTF-8) or as
``bytes``; in RPC messages a name that is not UTF-8 travels as its bytes
(:func:`wire_path`), both ways.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# git's quote.c: the bytes written as a C escape rather than in octal.
_ESCAPES = {
    0x07: "\\a",
    0x08: "\\b",
    0x09: "\\t",
    0x0A: "\\n",
    0x0B: "\\v",
    0x0C: "\\f",
    0x0D: "\\r",
    0x22: '\\"',
    0x5C: "\\\\",
}


def path_bytes(path: str | bytes) -> bytes:
    """The bytes a name stands for (surrogates back to the bytes they replaced)."""
    return path if isinstance(path, bytes) else path.encode("utf-8", "surrogateescape")


def wire_path(path: str) -> str | bytes:
    """``path`` as an RPC message carries it, either way (a path argument, a name in
    a result): text, or its bytes when it is not UTF-8, which a msgpack string
    cannot hold. :func:`text_path` turns it back into the same name."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return path.encode("utf-8", "surrogateescape")
    return path


def wire_paths(paths: Iterable[str]) -> list[str | bytes]:
    """A command's path arguments for its request (argv holds a name that is not
    UTF-8 as surrogates): each a :func:`wire_path`."""
    return [wire_path(path) for path in paths]


def text_path(path: str | bytes) -> str:
    """A :func:`wire_path` as text: bytes that are not UTF-8 become the surrogates
    ``os.fsdecode`` gives them, so file-system calls reach the same name."""
    return path.decode("utf-8", "surrogateescape") if isinstance(path, bytes) else path


# The surrogates ``surrogateescape`` makes of the bytes 0x80-0xff that are not UTF-8.
_UNDECODABLE = re.compile("[\udc80-\udcff]")


def octal_undecodable(path: str) -> str:
    """``path`` for a one-line message, otherwise raw as git's messages name paths:
    only the bytes that are not UTF-8 are written as git's quoting writes them, in
    octal (``'bad\\377name'``), since a message is text."""
    return _UNDECODABLE.sub(lambda m: f"\\{ord(m[0]) - 0xDC00:03o}", path)


# One scan in C for the common, plain name (a Python loop over every byte cost ~10 us
# per name: 0.5 s for a 50 000-file listing).
_SPECIAL = re.compile(rb'[\x00-\x1f\x7f-\xff"\\]')
_SPECIAL_OR_SPACE = re.compile(rb'[\x00-\x20\x7f-\xff"\\]')


def _needs_quotes(raw: bytes, quote_space: bool) -> bool:
    return (_SPECIAL_OR_SPACE if quote_space else _SPECIAL).search(raw) is not None


def quote_path(path: str | bytes, quote_space: bool = False) -> str:
    """``path`` as git prints it: unchanged when plain, else quoted and escaped.

    ``quote_space``: a name with a space is quoted too, as git's short and porcelain
    status do (elsewhere, in long status, diff and log, git leaves spaces bare).
    """
    raw = path_bytes(path)
    if not _needs_quotes(raw, quote_space):
        return raw.decode("ascii")
    out = []
    for b in raw:
        if b in _ESCAPES:
            out.append(_ESCAPES[b])
        elif b < 0x20 or b >= 0x7F:
            out.append(f"\\{b:03o}")
        else:
            out.append(chr(b))
    return '"' + "".join(out) + '"'
