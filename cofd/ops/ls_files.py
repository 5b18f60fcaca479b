"""``ls-files``: the staging area's paths and the working tree's others, for scripts.

What is listed, as git's ``ls-files`` decides it (with ``--exclude-standard``: cof
always applies ``.cofignore``):

- *others* (``-o``), first: untracked files (directories only when they are
  repositories of their own, once as ``dir/``), not ignored ones; with ``-i`` only
  the ignored ones, inside ignored directories too;
- then each staging entry in order (bytewise by path, then by stage: a conflicted
  path has one entry per side, stages 1 to 3 as git's index): once if cached
  (``-c``, ``-s``, or no other kind asked), once more if deleted (``-d``: no file at
  its path), once more if modified (``-m``: the file differs from the entry, or is
  gone). With ``-i`` only entries whose path is ignored are listed.

A file is ignored when a ``.cofignore`` rule matches it or one of its directories
(a file in an ignored directory cannot be re-included, as in git).
"""

from __future__ import annotations

from typing import Any

from cofd.objects.ignore import IgnoreRules
from cofd.objects.worktree_state import Entry, WorktreeState
from cofd.ops.api import OpContext, op
from cofd.ops.paths import Scope, path_args, repo_relative
from cofd.ops.repository import Repository
from cofd.ops.scan import NothingIgnored, read_content
from cofd.ops.worktree_scan import WorktreeDiff, scan, stat_one, tracked_dirs_of, walk_specs
from protocol.errors import UsageError
from protocol.quoting import path_bytes

KINDS = ("cached", "others", "modified", "deleted", "ignored", "stage")


class _Excluded:
    """Whether a path is ignored: a rule matches it or one of its directories."""

    def __init__(self, rules: IgnoreRules) -> None:
        self._rules = rules
        self._dirs: dict[str, bool] = {"": False}

    def _dir(self, directory: str) -> bool:
        if directory not in self._dirs:
            parent = directory.rpartition("/")[0]
            self._dirs[directory] = self._dir(parent) or self._rules.is_ignored(directory, True)
        return self._dirs[directory]

    def __call__(self, path: str) -> bool:
        if path.endswith("/"):  # a repository of its own, listed as a directory
            return self._dir(path[:-1])
        return self._dir(path.rpartition("/")[0]) or self._rules.is_ignored(path, False)


def _others(
    repo: Repository,
    state: WorktreeState,
    specs: list[str],
    diff: WorktreeDiff | None,
    ignored: bool,
    excluded: _Excluded,
) -> list[bytes]:
    """Untracked files under the specs (ignored ones with ``ignored``), sorted; a
    repository of its own as one ``dir/``, as git lists an embedded one."""
    if diff is not None and not ignored:
        found = [f.path for f in diff.untracked]
        repositories = diff.repositories
    else:
        tracked = set(state.entries) | set(state.conflicts)
        rules = NothingIgnored(repo.root) if ignored else IgnoreRules(repo.root)
        repositories = []
        walked = walk_specs(repo, rules, tracked_dirs_of(tracked), tracked, specs, repositories)
        found = [f.path for f in walked if f.path not in tracked]
    found += [d + "/" for d in repositories]
    return sorted(path_bytes(p) for p in found if excluded(p) == ignored)


def _staged(state: WorktreeState, scope: Scope) -> list[tuple[bytes, Entry]]:
    """Staging entries under the scope, conflict sides included, in git's index order
    (bytewise by path, then by stage), each with its path's bytes."""
    entries = [e for p, e in state.entries.items() if p in scope]
    entries += [e for p, sides in state.conflicts.items() if p in scope for e in sides.values()]
    keyed = [(path_bytes(e.path), e) for e in entries]
    keyed.sort(key=lambda item: (item[0], item[1].stage))
    return keyed


def _conflict_changes(repo: Repository, state: WorktreeState, scope: Scope) -> dict[str, Entry]:
    """The file at each conflicted path under the scope, as an entry (hashed once per
    path, nothing stored); a path with no file is left out."""
    out: dict[str, Entry] = {}
    for path in state.conflicts:
        if path in scope and stat_one(repo, path) is not None:
            content = read_content(repo.objects, None, repo.root, path)
            out[path] = Entry(path, content.mode, content.id, content.size, None)
    return out


def _changes(
    repo: Repository, state: WorktreeState, specs: list[str], scope: Scope
) -> tuple[WorktreeDiff, dict[str, Entry]]:
    """The working tree against the staging area (saving refreshed stat data, as
    status does) and the conflicted paths' files."""
    diff = scan(repo, state, specs)
    if diff.refreshed:
        repo.save_state(state)
    return diff, _conflict_changes(repo, state, scope)


def _flags(entry: Entry, diff: WorktreeDiff, conflicted: dict[str, Entry]) -> tuple[bool, bool]:
    """(deleted, modified) for one entry."""
    if not entry.stage:
        code = diff.modified.get(entry.path)
        return code == "D", code is not None
    now = conflicted.get(entry.path)
    if now is None:
        return True, True
    return False, (now.id, now.mode) != (entry.id, entry.mode)


def _rows(
    entries: list[tuple[bytes, Entry]],
    kinds: dict[str, bool],
    changes: tuple[WorktreeDiff, dict[str, Entry]] | None,
) -> list[list[Any]]:
    """``[path, mode, id or None, stage]`` per line to print, as git's loop prints them."""
    show_cached = kinds["cached"] or kinds["stage"]
    rows: list[list[Any]] = []
    for path, entry in entries:
        row = [path, entry.mode, entry.id if kinds["stage"] else None, entry.stage]
        deleted, modified = _flags(entry, *changes) if changes is not None else (False, False)
        repeat = show_cached + (deleted and kinds["deleted"]) + (modified and kinds["modified"])
        rows += [row] * repeat
    return rows


def _kinds(params: dict[str, Any]) -> dict[str, bool]:
    kinds = {k: bool(params.get(k)) for k in KINDS}
    if kinds["ignored"] and not (kinds["others"] or kinds["cached"]):
        raise UsageError("ls-files -i must be used with either -o or -c")
    if not any(kinds[k] for k in ("stage", "deleted", "others", "modified")):
        kinds["cached"] = True  # git's default
    return kinds


@op("ls_files", writes=False)  # a reader that may save refreshed stat data, as status
def ls_files(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    """Params: ``paths`` (default: the client's directory) and the kinds to list
    (:data:`KINDS`). Returns ``others`` (repository paths, as bytes) and ``rows``
    (``[path, mode, content id or None unless stage, stage]``), both in the order to
    print, with ``root`` and ``prefix`` (the client's directory in the repository)."""
    repo = ctx.require_repo()
    kinds = _kinds(params)
    raw = path_args(params.get("paths"))
    specs = [repo_relative(repo.root, ctx.cwd, p) for p in raw or ["."]]
    scope = Scope(specs)
    state = repo.load_state()
    changes = _changes(repo, state, specs, scope) if kinds["modified"] or kinds["deleted"] else None
    excluded = _Excluded(IgnoreRules(repo.root))
    others: list[bytes] = []
    if kinds["others"]:
        diff = changes[0] if changes is not None else None
        others = _others(repo, state, specs, diff, kinds["ignored"], excluded)
    rows: list[list[Any]] = []
    if any(kinds[k] for k in ("cached", "stage", "deleted", "modified")):
        entries = _staged(state, scope)
        if kinds["ignored"]:
            entries = [(p, e) for p, e in entries if excluded(e.path)]
        rows = _rows(entries, kinds, changes)
    return {
        "root": str(repo.root),
        "prefix": repo_relative(repo.root, ctx.cwd, "."),
        "others": others,
        "rows": rows,
    }
