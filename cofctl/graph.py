"""ASCII commit graph for ``log --graph``, drawn like git's: one lane per line of
history, ``*`` for the commit, ``|\\`` where a merge opens a lane for its second
parent and ``|/`` where two lanes reach the same commit.

Commits arrive newest first with their parents. Each lane holds the commit it
expects next; a commit takes the leftmost lane expecting it.
"""

from __future__ import annotations

from collections.abc import Iterator


def graph_lines(commits: list[tuple[str, list[str]]]) -> Iterator[tuple[str, bool]]:
    """Yield (graph prefix, is_commit_row) rows; each commit row precedes its text."""
    lanes: list[str | None] = []
    for commit, parents in commits:
        if commit not in lanes:
            lanes.append(commit)
        col = lanes.index(commit)
        joining = [i for i, lane in enumerate(lanes) if lane == commit and i != col]
        if joining:
            yield _connector(lanes, joining, "/"), False
            for i in joining:
                lanes[i] = None
            _trim(lanes)
        yield _row(lanes, col), True
        lanes[col] = parents[0] if parents else None
        extra = [p for p in parents[1:] if p not in lanes]
        for offset, parent in enumerate(extra, start=1):
            lanes.insert(col + offset, parent)
        if extra:
            yield _connector(lanes, list(range(col + 1, col + 1 + len(extra))), "\\"), False
        _trim(lanes)


def _trim(lanes: list[str | None]) -> None:
    while lanes and lanes[-1] is None:
        lanes.pop()


def _row(lanes: list[str | None], col: int) -> str:
    return " ".join(
        "*" if i == col else ("|" if lane else " ") for i, lane in enumerate(lanes)
    ).rstrip()


def _connector(lanes: list[str | None], diagonal: list[int], mark: str) -> str:
    """Lane i sits at column 2i; a diagonal into lane i is drawn at column 2i-1."""
    cells = [" "] * (2 * len(lanes))
    for i, lane in enumerate(lanes):
        if i in diagonal:
            cells[2 * i - 1] = mark
        elif lane:
            cells[2 * i] = "|"
    return "".join(cells).rstrip()
