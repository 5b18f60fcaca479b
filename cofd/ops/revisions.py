"""Revision syntax: ids, prefixes, refs and the ``~N``, ``^N``, ``@{N}`` suffixes.

Grammar (a subset of gitrevisions(7))::

    rev     := base suffix*
    base    := HEAD | @ | ORIG_HEAD | MERGE_HEAD | <full or >=4-digit hex prefix>
               | <ref name>
               | <ref name>@{N} | @{-N}
    suffix  := ~[N] | ^[N]

``@{-N}`` is the branch (or detached commit) checked out before the N-th most recent
checkout, read from HEAD's reflog as git does; ``-`` means ``@{-1}`` where git allows
it (``checkout -``, ``merge -``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from cofd.objects.model import CommitId
from cofd.ops.repository import Repository
from cofd.store.ids import ID_LEN
from protocol.errors import RevisionError

MIN_PREFIX = 4
_REFLOG = re.compile(r"^(?P<ref>.*)@\{(?P<n>\d+)\}$")
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_PREVIOUS = re.compile(r"^@\{-(?P<n>\d+)\}$")
# What checkout writes in HEAD's reflog (as git: "checkout: moving from A to B"); the
# names never hold a space or "{" (ref names cannot, a detached HEAD is written as
# hex), so a line naming "@{-1}" (hand-edited) cannot send @{-N} round in a loop.
_CHECKOUT_MOVE = re.compile(r"^checkout: moving from (?P<source>[^\s{]+) to ")
# Files directly in .cof that name a commit: HEAD, and what commands leave for the
# user (ORIG_HEAD before a reset or merge, MERGE_HEAD during one), as git's
# all-capitals pseudo-refs; any other name is looked up under refs/ only.
_PSEUDO_REF = re.compile(r"^(?:[A-Z]+_)*HEAD$")
# Refs are searched in this order for a short name, as git does.
REF_PREFIXES = ("", "refs/", "refs/tags/", "refs/heads/", "refs/remotes/")


def _split(rev: str) -> tuple[str, list[tuple[str, int]]]:
    """Separate the base from its trailing ``~N``/``^N`` suffixes."""
    suffixes: list[tuple[str, int]] = []
    base = rev
    while True:
        match = re.search(r"(~|\^)(\d*)$", base)
        if match is None or match.start() == 0:
            break
        op, digits = match.group(1), match.group(2)
        suffixes.append((op, int(digits) if digits else 1))
        base = base[: match.start()]
    suffixes.reverse()
    return base, suffixes


def refs_named(repo: Repository, name: str) -> Iterator[str]:
    """The existing refs a short name could mean, in the order they are searched."""
    for prefix in REF_PREFIXES:
        candidate = prefix + name
        searched = candidate.startswith("refs/") or _PSEUDO_REF.match(candidate)
        if searched and repo.refs.read(candidate) is not None:
            yield candidate


def full_ref(repo: Repository, name: str) -> str | None:
    """The full ref a short name means (``main`` -> ``refs/heads/main``), or None."""
    if name == "HEAD":
        return "HEAD"
    return next(refs_named(repo, name), None)


def previous_checkout(repo: Repository, n: int) -> str:
    """What ``@{-n}`` names: where HEAD was before the n-th most recent checkout (a
    branch name, or a detached commit's hex)."""
    if n < 1:
        raise RevisionError(f"invalid reference: @{{-{n}}} (checkouts count from @{{-1}})")
    seen = 0
    for entry in repo.refs.reflog("HEAD"):
        match = _CHECKOUT_MOVE.match(entry.message)
        if match is not None:
            seen += 1
            if seen == n:
                return match["source"]
    recorded = f"only {seen} checkout{'s' if seen > 1 else ''}" if seen else "no checkout"
    raise RevisionError(
        f"invalid reference: @{{-{n}}}: no previous branch (HEAD's reflog records {recorded})"
    )


def expand_previous(repo: Repository, name: str) -> str:
    """``-`` and ``@{-N}`` as the name they stand for; any other name unchanged. A
    command that treats branch names specially (checkout switches to a branch
    rather than detaching at its commit) expands first, as git does."""
    if name == "-":
        name = "@{-1}"
    match = _PREVIOUS.match(name)
    return previous_checkout(repo, int(match["n"])) if match is not None else name


def ids_with_prefix(repo: Repository, prefix_hex: str, limit: int = 64) -> list[bytes]:
    """Stored ids (of any block: objects and file data) starting with ``prefix_hex``,
    at most ``limit``, found by a range scan of the index."""
    lo = bytes.fromhex(prefix_hex.ljust(ID_LEN * 2, "0"))
    hi = bytes.fromhex(prefix_hex.ljust(ID_LEN * 2, "f"))
    rows = repo.blocks.index.conn.execute(
        "SELECT id FROM block_map WHERE id >= ? AND id <= ? LIMIT ?", (lo, hi, limit)
    ).fetchall()
    return [r[0] for r in rows]


def commits_with_prefix(repo: Repository, prefix_hex: str) -> list[CommitId]:
    """Commit ids starting with ``prefix_hex``."""
    return [CommitId(i) for i in ids_with_prefix(repo, prefix_hex) if repo.objects.is_commit(i)]


def _resolve_base(repo: Repository, base: str, rev: str) -> CommitId:
    if base in ("HEAD", "@", ""):
        head = repo.refs.head()
        if head is None:
            raise RevisionError(f"unknown revision '{rev}': the current branch has no commits yet")
        return head
    previous = _PREVIOUS.match(base)
    if previous is not None:
        return _resolve_base(repo, previous_checkout(repo, int(previous["n"])), rev)
    reflog = _REFLOG.match(base)
    if reflog is not None:
        return _resolve_reflog(repo, reflog["ref"] or "HEAD", int(reflog["n"]), rev)
    ref = full_ref(repo, base)
    if ref is not None:
        value = repo.refs.read(ref)
        assert value is not None
        return repo.objects.peel(value)
    if _HEX.match(base) and len(base) >= MIN_PREFIX:
        if len(base) > ID_LEN * 2:
            raise RevisionError(f"unknown revision '{rev}'")
        matches = commits_with_prefix(repo, base.lower())
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            listed = ", ".join(m.hex()[:12] for m in matches[:5])
            raise RevisionError(f"ambiguous revision '{rev}': matches {listed}")
    raise RevisionError(f"unknown revision '{rev}'")


def _resolve_reflog(repo: Repository, name: str, n: int, rev: str) -> CommitId:
    ref = full_ref(repo, name) or (f"refs/heads/{name}" if name != "HEAD" else "HEAD")
    entries = repo.refs.reflog(ref)
    # A line whose new side is null (a rename's first half) names what it left, as git.
    commit = (entries[n].new or entries[n].old) if n < len(entries) else None
    if commit is None:
        raise RevisionError(
            f"unknown revision '{rev}': {name} has only {len(entries)} reflog entries"
        )
    return commit


def resolve(repo: Repository, rev: str) -> CommitId:
    """The commit ``rev`` names, or ``RevisionError`` saying why not."""
    if not rev or len(rev) > 1024 or "\0" in rev:
        raise RevisionError(f"invalid revision {rev[:64]!r}")
    base, suffixes = _split(rev)
    commit = _resolve_base(repo, base, rev)
    for op, n in suffixes:
        if op == "~":
            for _ in range(n):
                parents = repo.objects.read_commit(commit).parents
                if not parents:
                    raise RevisionError(f"unknown revision '{rev}': history is too short")
                commit = parents[0]
        else:
            if n == 0:
                continue
            parents = repo.objects.read_commit(commit).parents
            if n > len(parents):
                raise RevisionError(
                    f"unknown revision '{rev}': commit has {len(parents)} parent(s)"
                )
            commit = parents[n - 1]
    return commit
