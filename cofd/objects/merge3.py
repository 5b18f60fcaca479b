"""Line-based three-way merge with git-style conflict markers.

The classic diff3 approach: lines of the base that both sides kept unchanged are
stable anchors; between anchors, a region changed by only one side takes that
side, a region changed identically by both takes either, and a region changed
differently by both is a conflict. As git's default ("zealous") level does, lines
that both sides' versions of a conflict share at its start or end are moved out of
the conflict.
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher


@dataclass(frozen=True, slots=True)
class MergeResult:
    lines: list[bytes]
    conflicts: int


def _matches(base: list[bytes], other: list[bytes]) -> dict[int, int]:
    """base line index -> other line index, for lines the diff keeps unchanged."""
    matcher = SequenceMatcher(None, base, other, autojunk=False)
    out: dict[int, int] = {}
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            out[block.a + k] = block.b + k
    return out


def _sync_points(
    base: list[bytes], ours: list[bytes], theirs: list[bytes]
) -> list[tuple[int, int, int]]:
    """Base lines unchanged on both sides, as (base, ours, theirs) index triples,
    kept only where both sides' indices increase (a consistent alignment)."""
    mo, mt = _matches(base, ours), _matches(base, theirs)
    points = []
    last_o = last_t = -1
    for i in range(len(base)):
        if i in mo and i in mt and mo[i] > last_o and mt[i] > last_t:
            points.append((i, mo[i], mt[i]))
            last_o, last_t = mo[i], mt[i]
    points.append((len(base), len(ours), len(theirs)))  # sentinel end anchor
    return points


def merge_lines(
    base: list[bytes], ours: list[bytes], theirs: list[bytes], ours_label: str, theirs_label: str
) -> MergeResult:
    out: list[bytes] = []
    conflicts = 0
    b0 = o0 = t0 = 0
    for b1, o1, t1 in _sync_points(base, ours, theirs):
        chunk_b, chunk_o, chunk_t = base[b0:b1], ours[o0:o1], theirs[t0:t1]
        if chunk_o == chunk_b:
            out += chunk_t
        elif chunk_t == chunk_b or chunk_o == chunk_t:
            out += chunk_o
        else:
            conflicts += 1
            out += _conflict(chunk_o, chunk_t, ours_label, theirs_label)
        if b1 < len(base):
            out.append(base[b1])
        b0, o0, t0 = b1 + 1, o1 + 1, t1 + 1
    return MergeResult(out, conflicts)


def _conflict(
    ours: list[bytes], theirs: list[bytes], ours_label: str, theirs_label: str
) -> list[bytes]:
    head = 0
    while head < min(len(ours), len(theirs)) and ours[head] == theirs[head]:
        head += 1
    tail = 0
    while (
        tail < min(len(ours), len(theirs)) - head
        and ours[len(ours) - 1 - tail] == theirs[len(theirs) - 1 - tail]
    ):
        tail += 1
    mid_o = ours[head : len(ours) - tail]
    mid_t = theirs[head : len(theirs) - tail]
    block = [
        f"<<<<<<< {ours_label}\n".encode(),
        *_terminated(mid_o),
        b"=======\n",
        *_terminated(mid_t),
        f">>>>>>> {theirs_label}\n".encode(),
    ]
    return [*ours[:head], *block, *ours[len(ours) - tail :]]


def _terminated(lines: list[bytes]) -> list[bytes]:
    """A conflict side whose last line lacks a newline still needs one before the
    next marker (git adds it the same way)."""
    if lines and not lines[-1].endswith(b"\n"):
        return [*lines[:-1], lines[-1] + b"\n"]
    return lines


def split_lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def is_binary(data: bytes) -> bool:
    """git's heuristic: a NUL byte in the first 8000 bytes."""
    return b"\0" in data[:8000]
