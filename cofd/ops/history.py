"""``log`` and ``show``: walking and describing commits."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from typing import Any

from cofd.objects.model import Commit, CommitId, Kind, TreeId
from cofd.ops.api import OpContext, op
from cofd.ops.common import flat_tree, flatten_cached
from cofd.ops.diffing import describe, tree_changes, unified
from cofd.ops.paths import path_args, repo_relative
from cofd.ops.reflogs import reflog_name
from cofd.ops.repository import Repository
from cofd.ops.revisions import resolve
from cofd.ops.trees import FlatEntry, flatten
from protocol.errors import RevisionError, UsageError

MAX_LOG_ENTRIES = 1_000_000


def walk_commits(
    repo: Repository,
    starts: list[CommitId],
    follow: Callable[[CommitId, Commit], list[CommitId]] | None = None,
) -> Iterator[tuple[CommitId, Commit]]:
    """Commits reachable from ``starts``, newest first (committer time, then generation),
    each once, as ``git log`` orders them by default. ``follow`` may restrict which
    parents are walked (history simplification)."""
    heap: list[tuple[int, int, bytes]] = []
    seen: set[CommitId] = set()
    for start in (repo.objects.peel(s) for s in starts):
        if start not in seen:
            seen.add(start)
            c = repo.objects.read_commit(start)
            heapq.heappush(heap, (-c.committer.timestamp, -c.sequence, start))
    while heap:
        _, _, raw = heapq.heappop(heap)
        commit_id = CommitId(raw)
        commit = repo.objects.read_commit(commit_id)
        # The filter decides before the commit is yielded, so callers can ask it
        # whether this commit is shown.
        parents = follow(commit_id, commit) if follow else commit.parents
        yield commit_id, commit
        for parent in parents:
            if parent not in seen:
                seen.add(parent)
                p = repo.objects.read_commit(parent)
                heapq.heappush(heap, (-p.committer.timestamp, -p.sequence, parent))


def commit_info(commit_id: CommitId, commit: Commit) -> dict[str, Any]:
    return {
        "id": commit_id.hex(),
        "parents": [p.hex() for p in commit.parents],
        "tree": commit.tree.hex(),
        "author": commit.author.format(),
        "author_time": commit.author.timestamp,
        "author_tz": commit.author.tz_minutes,
        "committer": commit.committer.format(),
        "commit_time": commit.committer.timestamp,
        "commit_tz": commit.committer.tz_minutes,
        "message": commit.message,
        "sequence": commit.sequence,
    }


def changes_of(repo: Repository, commit: Commit, detail: bool) -> list[dict[str, object]]:
    """What ``commit`` changed relative to its first parent (all files for a root)."""
    parent = commit.parents[0] if commit.parents else None
    old = flat_tree(repo, parent)
    new = flatten_cached(repo, commit.tree)
    return [describe(repo, c, detail) for c in tree_changes(old, new)]


def decorations(repo: Repository) -> dict[str, list[str]]:
    """Commit id (hex) -> ref names pointing at it, for ``log`` output."""
    out: dict[str, list[str]] = {}
    for name, value in repo.refs.iter_refs():
        out.setdefault(repo.objects.peel(value).hex(), []).append(name)
    return out


def ancestors(repo: Repository, start: CommitId) -> set[CommitId]:
    return {c for c, _ in walk_commits(repo, [start])}


class PathFilter:
    """git's default history simplification for ``log -- PATH``: a commit is shown
    when the selected paths differ from every parent; when they equal some parent's
    ("TREESAME"), only that parent's line of history is followed."""

    def __init__(self, repo: Repository, specs: list[str]) -> None:
        self._repo = repo
        self._specs = specs
        self.shown: set[CommitId] = set()

    def _selection(self, tree: TreeId) -> dict[str, FlatEntry]:
        return select_paths(self._repo, tree, self._specs)

    def __call__(self, commit_id: CommitId, commit: Commit) -> list[CommitId]:
        mine = self._selection(commit.tree)
        if not commit.parents:
            if mine:
                self.shown.add(commit_id)
            return []
        for parent in commit.parents:
            if self._selection(self._repo.objects.read_commit(parent).tree) == mine:
                return [parent]
        self.shown.add(commit_id)
        return list(commit.parents)


def select_paths(repo: Repository, tree: TreeId, specs: list[str]) -> dict[str, FlatEntry]:
    """The files of ``tree`` under ``specs``, reading only the trees on their paths."""
    out: dict[str, FlatEntry] = {}
    for spec in specs:
        if not spec:
            out.update(flatten_cached(repo, tree))
            continue
        current: TreeId | None = tree
        parts = spec.split("/")
        for depth, name in enumerate(parts):
            assert current is not None
            entry = next(
                (e for e in repo.objects.read_tree(current).entries if e.name == name), None
            )
            if entry is None:
                break
            if depth == len(parts) - 1:
                if entry.kind == Kind.DIR:
                    sub = flatten(repo.objects, TreeId(entry.id))
                    out.update({f"{spec}/{p}": e for p, e in sub.items()})
                else:
                    out[spec] = FlatEntry(entry.mode, entry.id, entry.size)
            elif entry.kind == Kind.DIR:
                current = TreeId(entry.id)
            else:
                break
    return out


def _range(repo: Repository, rev: str) -> tuple[list[CommitId], set[CommitId]]:
    """``A..B`` -> ([B], ancestors of A); ``REV`` -> ([REV], {})."""
    if ".." in rev:
        left, _, right = rev.partition("..")
        excluded = ancestors(repo, resolve(repo, left or "HEAD"))
        return [resolve(repo, right or "HEAD")], excluded
    return [resolve(repo, rev)], set()


def _no_commits_yet(repo: Repository) -> RevisionError:
    """git's refusal of ``log`` and ``reflog`` on an unborn branch."""
    branch = (repo.refs.head_target() or "HEAD").removeprefix("refs/heads/")
    return RevisionError(f"your current branch '{branch}' does not have any commits yet")


@op("log", writes=False)
def log(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    repo = ctx.require_repo()
    rev = params.get("rev") or "HEAD"
    limit = params.get("n")
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise UsageError("-n expects a non-negative number")
    if repo.refs.head() is None and rev == "HEAD":
        raise _no_commits_yet(repo)
    starts, excluded = _range(repo, rev)
    specs = [repo_relative(repo.root, ctx.cwd, p) for p in path_args(params.get("paths"))]
    path_filter = PathFilter(repo, specs) if specs else None
    entries: list[dict[str, Any]] = []
    for commit_id, commit in walk_commits(repo, starts, path_filter):
        if limit is not None and len(entries) >= min(limit, MAX_LOG_ENTRIES):
            break
        if commit_id in excluded or (path_filter and commit_id not in path_filter.shown):
            continue
        info = commit_info(commit_id, commit)
        if params.get("stat"):
            # As git's log: a merge shows no diff (nor diffstat) unless asked for one.
            merge = len(commit.parents) > 1
            info["changes"] = [] if merge else changes_of(repo, commit, detail=True)
        entries.append(info)
    return {
        "commits": entries,
        "refs": decorations(repo),
        "head": (repo.refs.head() or b"").hex(),
        "head_ref": repo.refs.head_target(),
    }


@op("reflog", writes=False)
def reflog(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    repo = ctx.require_repo()
    name = params.get("ref") or "HEAD"
    if name == "HEAD" and repo.refs.head() is None:
        # As git: HEAD names no commit on an unborn branch (a fresh repository, or
        # after --orphan), so its older entries are not listed.
        if params.get("ref"):
            resolve(repo, name)  # raises: "unknown revision 'HEAD'"
        raise _no_commits_yet(repo)
    entries = repo.refs.reflog(reflog_name(repo, name))
    return {
        "ref": name,
        "entries": [
            {
                "old": e.old.hex() if e.old else None,
                "new": e.new.hex() if e.new else None,
                "who": e.who,
                "time": e.timestamp,
                "tz": e.tz_minutes,
                "message": e.message,
            }
            for e in entries
        ],
    }


@op("show", writes=False)
def show(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    repo = ctx.require_repo()
    commit_id = resolve(repo, params.get("rev") or "HEAD")
    commit = repo.objects.read_commit(commit_id)
    info = commit_info(commit_id, commit)
    parent = commit.parents[0] if commit.parents else None
    changes = tree_changes(flat_tree(repo, parent), flat_tree(repo, commit_id))
    info["changes"] = [describe(repo, c, detail=True) for c in changes]
    info["patches"] = [unified(repo, c) for c in changes]
    return info
