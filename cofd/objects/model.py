"""Commit and Tree: frozen dataclasses with canonical encodings and validation."""

from __future__ import annotations

import enum
import re
import stat
from dataclasses import dataclass
from typing import NewType

from cofd.objects.encoding import decode, encode
from cofd.store.ids import ID_LEN, BlockId
from protocol.errors import IntegrityError

CommitId = NewType("CommitId", bytes)
TreeId = NewType("TreeId", bytes)

MAX_NAME_BYTES = 255  # the common filesystem limit on one path component
MAX_PARENTS = 16


class Kind(enum.IntEnum):
    FILE = 0
    DIR = 1
    SYMLINK = 2


MODE_FILE = 0o100644
MODE_EXEC = 0o100755
MODE_SYMLINK = 0o120000
MODE_DIR = 0o040000

_VALID_MODES = {
    Kind.FILE: (MODE_FILE, MODE_EXEC),
    Kind.DIR: (MODE_DIR,),
    Kind.SYMLINK: (MODE_SYMLINK,),
}


def mode_for(st_mode: int) -> int:
    """Normalise a filesystem mode to the modes cof records (as git does)."""
    if stat.S_ISLNK(st_mode):
        return MODE_SYMLINK
    if stat.S_ISDIR(st_mode):
        return MODE_DIR
    return MODE_EXEC if st_mode & 0o100 else MODE_FILE


def validate_name(name: str) -> str | None:
    """Why ``name`` cannot be a tree entry, or None if it can."""
    if not name or name in (".", "..", ".cof"):
        return f"reserved name {name!r}"
    if "/" in name or "\0" in name:
        return f"name {name!r} contains '/' or NUL"
    if len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        return f"name {name[:32]!r}... is longer than {MAX_NAME_BYTES} bytes"
    return None


@dataclass(frozen=True, slots=True)
class TreeEntry:
    name: str
    kind: Kind
    mode: int
    id: BlockId
    size: int

    def to_wire(self) -> list[object]:
        return [self.name, int(self.kind), self.mode, self.id, self.size]


def _entry_from_wire(raw: object, where: str) -> TreeEntry:
    if not (isinstance(raw, list) and len(raw) == 5):
        raise IntegrityError(f"{where}: malformed tree entry")
    name, kind, mode, block_id, size = raw
    why = validate_name(name) if isinstance(name, str) else "not a string"
    if why is not None:
        raise IntegrityError(f"{where}: invalid entry name: {why}")
    if kind not in (0, 1, 2) or mode not in _VALID_MODES[Kind(kind)]:
        raise IntegrityError(f"{where}: entry {name!r} has invalid kind or mode")
    if not isinstance(block_id, bytes) or len(block_id) != ID_LEN:
        raise IntegrityError(f"{where}: entry {name!r} has an invalid id")
    if not isinstance(size, int) or size < 0:
        raise IntegrityError(f"{where}: entry {name!r} has an invalid size")
    return TreeEntry(name, Kind(kind), mode, BlockId(block_id), size)


@dataclass(frozen=True, slots=True)
class Tree:
    """Entries sorted by name (byte order of UTF-8), names unique."""

    entries: tuple[TreeEntry, ...]

    def encode(self) -> bytes:
        return encode("tree", [[e.to_wire() for e in self.entries]])

    @staticmethod
    def decode(data: bytes, where: str = "tree") -> Tree:
        (raw_entries,) = decode(data, "tree", 1, where)
        if not isinstance(raw_entries, list):
            raise IntegrityError(f"{where}: entries are not a list")
        entries = tuple(_entry_from_wire(e, where) for e in raw_entries)
        names = [e.name for e in entries]
        if names != sorted(names, key=_sort_key) or len(set(names)) != len(names):
            raise IntegrityError(f"{where}: entries are not sorted and unique")
        return Tree(entries)

    @staticmethod
    def build(entries: list[TreeEntry]) -> Tree:
        return Tree(tuple(sorted(entries, key=lambda e: _sort_key(e.name))))


def _sort_key(name: str) -> bytes:
    return name.encode("utf-8", "surrogateescape")


@dataclass(frozen=True, slots=True)
class Signature:
    """Who and when: ``tz_minutes`` is the offset east of UTC, as git records it."""

    name: str
    email: str
    timestamp: int
    tz_minutes: int

    def to_wire(self) -> list[object]:
        return [self.name, self.email, self.timestamp, self.tz_minutes]

    @staticmethod
    def from_wire(raw: object, where: str) -> Signature:
        if not (
            isinstance(raw, list)
            and len(raw) == 4
            and isinstance(raw[0], str)
            and isinstance(raw[1], str)
            and isinstance(raw[2], int)
            and isinstance(raw[3], int)
            and -24 * 60 < raw[3] < 24 * 60
        ):
            raise IntegrityError(f"{where}: malformed signature")
        return Signature(raw[0], raw[1], raw[2], raw[3])

    def format(self) -> str:
        return f"{self.name} <{self.email}>"


_AUTHOR_RE = re.compile(r"^\s*(?P<name>[^<>]*?)\s*<(?P<email>[^<>]*)>\s*$")


def parse_author(text: str) -> tuple[str, str] | None:
    """Parse ``Name <email>``; None if it has another shape."""
    match = _AUTHOR_RE.match(text)
    if match is None or not match["name"]:
        return None
    return match["name"], match["email"]


@dataclass(frozen=True, slots=True)
class Commit:
    parents: tuple[CommitId, ...]
    tree: TreeId
    author: Signature
    committer: Signature
    message: str
    sequence: int  # generation number: 1 + max(parents' sequence), 1 for a root

    def encode(self) -> bytes:
        return encode(
            "commit",
            [
                list(self.parents),
                self.tree,
                self.author.to_wire(),
                self.committer.to_wire(),
                self.message,
                self.sequence,
            ],
        )

    @staticmethod
    def decode(data: bytes, where: str = "commit") -> Commit:
        parents, tree, author, committer, message, sequence = decode(data, "commit", 6, where)
        if (
            not isinstance(parents, list)
            or len(parents) > MAX_PARENTS
            or not all(isinstance(p, bytes) and len(p) == ID_LEN for p in parents)
        ):
            raise IntegrityError(f"{where}: malformed parents")
        if not isinstance(tree, bytes) or len(tree) != ID_LEN:
            raise IntegrityError(f"{where}: malformed tree id")
        if not isinstance(message, str) or not isinstance(sequence, int) or sequence < 1:
            raise IntegrityError(f"{where}: malformed message or sequence")
        return Commit(
            tuple(CommitId(p) for p in parents),
            TreeId(tree),
            Signature.from_wire(author, where),
            Signature.from_wire(committer, where),
            message,
            sequence,
        )

    @property
    def summary(self) -> str:
        return self.message.split("\n", 1)[0]


TagId = NewType("TagId", bytes)


@dataclass(frozen=True, slots=True)
class Tag:
    """An annotated tag: a named, signed-off pointer at a commit, with a message."""

    target: CommitId
    name: str
    tagger: Signature
    message: str

    def encode(self) -> bytes:
        return encode("tag", [self.target, self.name, self.tagger.to_wire(), self.message])

    @staticmethod
    def decode(data: bytes, where: str = "tag") -> Tag:
        target, name, tagger, message = decode(data, "tag", 4, where)
        if not isinstance(target, bytes) or len(target) != ID_LEN:
            raise IntegrityError(f"{where}: malformed target")
        if not isinstance(name, str) or not isinstance(message, str):
            raise IntegrityError(f"{where}: malformed name or message")
        return Tag(CommitId(target), name, Signature.from_wire(tagger, where), message)
