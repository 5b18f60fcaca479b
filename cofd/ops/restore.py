"""``restore``: bring paths back from the staging area or a commit.

As in git: without ``--staged`` the working tree is restored (from the staging area,
or from ``--source``); with ``--staged`` the staging area is restored (from HEAD or
``--source``); with both, both. Paths the source lacks are removed.
"""

from __future__ import annotations

from typing import Any

from cofd.ops.api import OpContext, op
from cofd.ops.common import ByteProgress, entry_from_flat, flat_tree, staged_flat
from cofd.ops.materialize import remove_entry, write_entries
from cofd.ops.paths import path_args, repo_relative, shown, under
from cofd.ops.revisions import resolve
from cofd.ops.trees import FlatEntry
from protocol.errors import PathError, UsageError


@op("restore", writes=True)
def restore(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    repo = ctx.require_repo()
    raw = path_args(params.get("paths"))
    if not raw:
        raise UsageError("you must specify path(s) to restore")
    staged = bool(params.get("staged"))
    worktree = bool(params.get("worktree")) or not staged
    state = repo.load_state()
    source_rev = params.get("source")
    if source_rev:
        source = flat_tree(repo, resolve(repo, source_rev))
    elif staged:
        source = flat_tree(repo, repo.refs.head())
    else:
        source = staged_flat(state)
    specs = [repo_relative(repo.root, ctx.cwd, p) for p in raw]
    known = sorted(set(source) | set(state.entries))
    matched: set[str] = set()
    for arg, spec in zip(raw, specs, strict=True):
        hits = set(under(known, spec))
        if not hits:
            raise PathError(f"pathspec '{shown(arg)}' did not match any file(s) known to cof")
        matched |= hits
    total = sum(source[p].size for p in matched if p in source)
    progress = ByteProgress(ctx, "restoring", total)
    removed = 0
    to_write: list[tuple[str, FlatEntry]] = []
    for path in sorted(matched):
        entry = source.get(path)
        if staged:
            if entry is None:
                state.entries.pop(path, None)
            else:
                state.entries[path] = entry_from_flat(path, entry)
        if worktree:
            if entry is None:
                remove_entry(repo.root, path)
                removed += 1
            else:
                to_write.append((path, entry))
    stats = write_entries(repo, to_write, progress.add)
    for path, entry in to_write:
        _refresh_stat(state, path, entry, stats[path])
    written = len(to_write)
    repo.save_state(state)
    return {"written": written, "removed": removed, "bytes": progress.done}


def _refresh_stat(state: Any, path: str, entry: FlatEntry, st: Any) -> None:
    """If the file now equals its staged version, cache its stat for fast status."""
    staged = state.entries.get(path)
    if staged is not None and (staged.id, staged.mode, staged.size) == (
        entry.id,
        entry.mode,
        entry.size,
    ):
        staged.stat = st
