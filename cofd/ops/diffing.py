"""Differences between two flat trees: which paths changed and by how much.

Text files (small, no NUL byte in the first 8000 bytes, valid UTF-8: git's
heuristic) get line counts and unified diffs; binary files get sizes and the number
of changed blocks, found by comparing manifest leaves position by position without
reading any data block.
"""

from __future__ import annotations

import difflib
import itertools
import os
from dataclasses import dataclass
from pathlib import Path

from cofd.objects.model import Kind
from cofd.ops.repository import Repository
from cofd.ops.trees import FlatEntry
from cofd.store.ids import BlockId, hash_block
from protocol.quoting import quote_path

# Text diffs are computed only for files up to this size; larger ones are reported
# by size and changed blocks, which is what matters for the binaries cof is for.
MAX_TEXT_DIFF_BYTES = 1024 * 1024
_SNIFF = 8000


@dataclass(frozen=True, slots=True)
class Change:
    status: str  # "A", "M", "D", "T"
    path: str
    old: FlatEntry | None
    new: FlatEntry | None
    # When the new side is the working tree: the file to read it from. Its content
    # was hashed but not stored, and showing a diff must not write to the store.
    new_file: Path | None = None


def tree_changes(old: dict[str, FlatEntry], new: dict[str, FlatEntry]) -> list[Change]:
    changes = []
    for path in sorted(set(old) | set(new), key=lambda p: p.encode("utf-8", "surrogateescape")):
        a, b = old.get(path), new.get(path)
        if a == b:
            continue
        if a is None:
            changes.append(Change("A", path, None, b))
        elif b is None:
            changes.append(Change("D", path, a, None))
        else:
            changes.append(Change("T" if a.kind != b.kind else "M", path, a, b))
    return changes


def read_small(repo: Repository, entry: FlatEntry | None, file: Path | None = None) -> bytes | None:
    if entry is None:
        return b""
    if entry.size > MAX_TEXT_DIFF_BYTES:
        return None
    if file is not None:
        try:
            if entry.kind == Kind.SYMLINK:
                return os.fsencode(os.readlink(file))
            return file.read_bytes()[: MAX_TEXT_DIFF_BYTES + 1]
        except OSError:
            return None  # gone or unreadable since it was hashed: show it as binary
    return b"".join(repo.objects.iter_content(entry.id, entry.size))


def as_text(data: bytes | None) -> list[str] | None:
    if data is None or b"\0" in data[:_SNIFF]:
        return None
    try:
        return data.decode("utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        return None


def text_lines(repo: Repository, change: Change) -> tuple[list[str], list[str]] | None:
    old = as_text(read_small(repo, change.old))
    new = as_text(read_small(repo, change.new, change.new_file))
    if old is None or new is None:
        return None
    return old, new


def line_counts(repo: Repository, change: Change) -> tuple[int, int] | None:
    lines = text_lines(repo, change)
    if lines is None:
        return None
    added = deleted = 0
    for line in difflib.unified_diff(lines[0], lines[1], n=0):
        if line.startswith("+") and not line.startswith("+++"):
            added += 1
        elif line.startswith("-") and not line.startswith("---"):
            deleted += 1
    return added, deleted


def git_header(change: Change) -> str:
    """git's extended header of a change: ``diff --git`` and its mode lines (git's
    ``index`` line is left out: cof has no git blob ids to put in it)."""
    lines = [f"diff --git {quote_path('a/' + change.path)} {quote_path('b/' + change.path)}"]
    old, new = change.old, change.new
    if old is None and new is not None:
        lines.append(f"new file mode {new.mode:o}")
    elif new is None and old is not None:
        lines.append(f"deleted file mode {old.mode:o}")
    elif old is not None and new is not None and old.mode != new.mode:
        lines += [f"old mode {old.mode:o}", f"new mode {new.mode:o}"]
    return "\n".join(lines) + "\n"


def unified(repo: Repository, change: Change) -> str | None:
    """git's patch for a text change (a mode-only change is its header alone); None
    for a binary one."""
    lines = text_lines(repo, change)
    if lines is None:
        return None
    a = "/dev/null" if change.old is None else quote_path(f"a/{change.path}")
    b = "/dev/null" if change.new is None else quote_path(f"b/{change.path}")
    out = [git_header(change)]
    # git ends a ---/+++ name holding a space with a tab, for patch(1).
    for line in difflib.unified_diff(lines[0], lines[1], _tabbed(a), _tabbed(b)):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def _tabbed(label: str) -> str:
    return label + "\t" if " " in label else label


def changed_blocks(repo: Repository, change: Change) -> tuple[int, int]:
    """(blocks of the new version that differ from the old one at the same position,
    blocks in the new version)."""

    def leaves(entry: FlatEntry | None) -> list[BlockId]:
        if entry is None:
            return []
        return list(repo.objects.iter_content_blocks(entry.id, entry.size))

    old = leaves(change.old)
    if change.new_file is not None and change.new is not None:
        new = _file_leaves(change.new_file, change.new, repo.objects.block_size)
    else:
        new = leaves(change.new)
    changed = sum(1 for a, b in itertools.zip_longest(old, new) if b is not None and a != b)
    return changed, len(new)


def _file_leaves(file: Path, entry: FlatEntry, block_size: int) -> list[BlockId]:
    """Block ids of a working-tree file, hashed as it is read (nothing stored)."""
    try:
        if entry.kind == Kind.SYMLINK:
            return [hash_block(os.fsencode(os.readlink(file)))]
        out: list[BlockId] = []
        with file.open("rb") as fh:
            while block := fh.read(block_size):
                out.append(hash_block(block))
        return out or [hash_block(b"")]
    except OSError:
        return []


def describe(repo: Repository, change: Change, detail: bool) -> dict[str, object]:
    """A change as sent to the client: sizes always, line or block counts on request."""
    info: dict[str, object] = {
        "status": change.status,
        "path": change.path,
        "old_size": change.old.size if change.old else None,
        "new_size": change.new.size if change.new else None,
    }
    if detail:
        counts = line_counts(repo, change)
        if counts is not None:
            info["added_lines"], info["deleted_lines"] = counts
        else:
            info["binary"] = True
            info["changed_blocks"], info["blocks"] = changed_blocks(repo, change)
    return info
