"""``add`` and ``rm``: changing the staging area.

``add PATH`` stages everything under PATH as git 2.x does: new and modified files
are stored, deleted files are unstaged. The whole add is one store transaction; the
staging area is saved only after it committed, so a failure (unreadable file, disk
full, a file that keeps changing) or a Ctrl-C leaves both the store and the staging
area as they were.
"""

from __future__ import annotations

import os
from typing import Any

from cofd.objects.ignore import IgnoreRules
from cofd.objects.model import validate_name
from cofd.objects.worktree_state import Entry, WorktreeState
from cofd.ops.api import OpContext, op
from cofd.ops.common import ByteProgress, flat_tree
from cofd.ops.materialize import remove_entry
from cofd.ops.paths import Scope, parent_dirs, path_args, repo_relative, shown, under
from cofd.ops.repository import Repository
from cofd.ops.scan import Found, NothingIgnored, enclosing_repository, read_content, walk
from cofd.ops.worktree_scan import scan, stat_one, tracked_dirs_of
from protocol.errors import CancelledError, PathError, UsageError
from protocol.quoting import path_bytes, quote_path


def check_trackable(path: str) -> None:
    """Refuse a path cof cannot record in a tree: a component that is no valid name,
    or that is not UTF-8 (see docs/design.md)."""
    for part in path.split("/"):
        problem = validate_name(part)
        if problem is None:
            try:
                part.encode("utf-8")
            except UnicodeEncodeError:
                problem = "it is not valid UTF-8"
        if problem is not None:
            raise PathError(f"cannot track {_named(path)}: {problem}")


def _named(path: str) -> str:
    """``path`` for a message: between single quotes, or, when it is not UTF-8, as
    status lists such a name (git's quoting: ``"bad\\377name"``)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return quote_path(path)
    return f"'{path}'"


def _resolve_specs(
    repo: Repository, ctx: OpContext, raw: list[str], state: WorktreeState, force: bool
) -> list[str]:
    rules = IgnoreRules(repo.root)
    tracked = set(state.entries) | set(state.conflicts)
    tracked_dirs = tracked_dirs_of(tracked)
    specs = []
    for arg in raw:
        spec = repo_relative(repo.root, ctx.cwd, arg)
        for parent in parent_dirs(spec):
            if os.path.islink(repo.root / parent):
                # As git: what lies behind a symlink is not in the repository (it may
                # be anywhere on the machine), and `parent` itself is tracked as a link.
                raise PathError(f"'{shown(arg)}' is beyond a symbolic link ('{shown(parent)}')")
        full = repo.root / spec
        exists = os.path.lexists(full)
        has_tracked = not spec or spec in tracked or spec in tracked_dirs
        if not exists and not has_tracked:
            raise PathError(f"pathspec '{shown(arg)}' did not match any files")
        if (
            spec
            and exists
            and not has_tracked
            and not force
            and rules.is_ignored(spec, full.is_dir() and not full.is_symlink())
        ):
            raise PathError(f"'{shown(arg)}' is ignored by a .cofignore file (use -f to add it)")
        specs.append(spec)
    return specs


def _files_in_scope(
    repo: Repository, state: WorktreeState, specs: list[str], force: bool, embedded: list[str]
) -> dict[str, Found]:
    """The files under ``specs``; with ``force``, ignored ones too (git's ``add -f``:
    ``-f .`` and ``-A -f`` add every ignored file). Nothing inside a repository of
    its own (git's embedded repository, which cof cannot record): each one met, or
    named by a path inside it, goes to ``embedded``."""
    # NothingIgnored still skips what cof never tracks (.cof, temp files).
    rules = NothingIgnored(repo.root) if force else IgnoreRules(repo.root)
    tracked = set(state.entries)
    tracked_dirs = tracked_dirs_of(tracked)
    files: dict[str, Found] = {}
    for spec in specs or [""]:
        full = repo.root / spec
        if spec and (outer := enclosing_repository(repo.root, spec, tracked_dirs)) is not None:
            embedded.append(outer)
            continue
        if spec and (full.is_symlink() or not full.is_dir()):
            found = stat_one(repo, spec)
            if found is not None:
                files[found.path] = found
            continue
        for found in walk(repo.root, rules, tracked_dirs, tracked, spec, embedded):
            files[found.path] = found
    return files


def _needs_read(state: WorktreeState, found: Found) -> bool:
    entry = state.entries.get(found.path)
    return not (
        entry is not None
        and entry.stat is not None
        and state.stat_matches(entry.stat, found.st)
        and not state.is_racy(entry.stat)
    )


def stage_paths(
    ctx: OpContext,
    repo: Repository,
    state: WorktreeState,
    specs: list[str],
    force: bool,
    tracked_only: bool = False,
) -> dict[str, Any]:
    """Store changed files under ``specs`` and update ``state`` (not yet saved);
    with ``tracked_only``, files the staging area does not know are left out.
    Returns counts, and under ``embedded`` the repositories of their own that were
    left out, as bytes (not with ``tracked_only``, which would never add them)."""
    embedded: list[str] = []
    files = _files_in_scope(repo, state, specs, force, embedded)
    if tracked_only:
        files = {p: f for p, f in files.items() if p in state.entries or p in state.conflicts}
        embedded = []
    to_read = [f for f in files.values() if _needs_read(state, f)]
    for found in to_read:
        check_trackable(found.path)
    progress = ByteProgress(ctx, "adding", sum(f.st.st_size for f in to_read))
    added = modified = removed = 0

    def advance(n: int) -> None:
        # Ctrl-C: the transaction rolls back and the staging area is not saved.
        if ctx.cancelled.is_set():
            raise CancelledError("cancelled: nothing was staged")
        progress.add(n)

    with repo.blocks.transaction() as txn:
        for found in sorted(to_read, key=lambda f: f.path):
            advance(0)
            old = state.entries.get(found.path)
            previous = (old.id, old.size) if old is not None else None
            content = read_content(repo.objects, txn, repo.root, found.path, advance, previous)
            if old is None:
                added += 1
            elif (old.id, old.mode) != (content.id, content.mode):
                modified += 1
            state.entries[found.path] = Entry(
                found.path, content.mode, content.id, content.size, content.stat
            )
            state.conflicts.pop(found.path, None)
        removed += drop_displaced(state, [f.path for f in to_read])
        scope = Scope(specs)
        for path in [p for p in state.entries if p in scope]:
            if path not in files:
                del state.entries[path]
                removed += 1
        # A conflicted path deleted from the working tree is resolved as deleted.
        for path in [p for p in state.conflicts if p in scope]:
            if path not in files:
                del state.conflicts[path]
                removed += 1
    return {
        "added": added,
        "modified": modified,
        "removed": removed,
        "bytes_read": progress.done,
        "new_blocks": txn.new_blocks,
        "new_bytes": txn.new_bytes,
        # As bytes: such a directory's name need not be UTF-8 (it is never tracked).
        "embedded": sorted({path_bytes(path) for path in embedded}),
    }


def stage_tracked(ctx: OpContext, repo: Repository, state: WorktreeState) -> dict[str, Any]:
    """git's ``add -u`` over the whole tree (what ``commit -a`` stages first): store
    modified tracked files, unstage deleted ones, leave untracked files alone. As in
    git, a conflicted path is staged as it stands, which resolves it."""
    return stage_paths(ctx, repo, state, [""], force=False, tracked_only=True)


def drop_displaced(state: WorktreeState, staged: list[str]) -> int:
    """Unstage what a newly staged path displaces, as git's index does: a file ``p``
    when ``p/f`` is staged (a directory replaced it), and everything under ``p/``
    when the file ``p`` is. Both in one tree would be a corrupt tree (a name that is
    a file and a directory). Returns how many entries went."""
    if not staged:
        return 0
    dropped = 0
    new = set(staged)
    dirs = tracked_dirs_of(set(state.entries))
    for path in staged:
        for parent in parent_dirs(path):
            if parent in state.entries and parent not in new:
                del state.entries[parent]
                dropped += 1
        if path in dirs:
            prefix = path + "/"
            for inner in [p for p in state.entries if p.startswith(prefix)]:
                del state.entries[inner]
                dropped += 1
    return dropped


@op("add", writes=True)
def add(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    repo = ctx.require_repo()
    raw = path_args(params.get("paths"))
    add_all = bool(params.get("all"))
    update = bool(params.get("update"))
    force = bool(params.get("force"))
    if add_all and update:
        raise UsageError("options '-A' and '-u' cannot be used together")
    if not raw and not add_all and not update:
        raise UsageError("nothing specified, nothing added (did you mean 'cof add -A'?)")
    state = repo.load_state()
    # With -u (git's add -u) only tracked paths are staged: an ignored name among the
    # paths is no error, as nothing new would be added under it.
    specs = _resolve_specs(repo, ctx, raw, state, force or update) if raw else [""]
    result = stage_paths(ctx, repo, state, specs, force, tracked_only=update)
    repo.save_state(state)
    return result


@op("rm", writes=True)
def rm(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    repo = ctx.require_repo()
    raw = path_args(params.get("paths"))
    cached = bool(params.get("cached"))
    force = bool(params.get("force"))
    recursive = bool(params.get("recursive"))
    if not raw:
        raise UsageError("no paths given to remove")
    state = repo.load_state()
    sorted_tracked = sorted(set(state.entries) | set(state.conflicts))
    matched: list[str] = []
    for arg in raw:
        spec = repo_relative(repo.root, ctx.cwd, arg)
        paths = under(sorted_tracked, spec)
        if not paths:
            raise PathError(f"pathspec '{shown(arg)}' did not match any tracked files")
        if not recursive and paths != [spec]:
            raise UsageError(f"not removing '{shown(arg)}' recursively without -r")
        matched += paths
    if not force:
        _check_removable(repo, state, [p for p in matched if p in state.entries], cached)
    for path in matched:
        state.entries.pop(path, None)
        state.conflicts.pop(path, None)  # removing a conflicted path resolves it
        if not cached:
            remove_entry(repo.root, path)
    repo.save_state(state)
    return {"removed": sorted(matched)}


def _check_removable(
    repo: Repository, state: WorktreeState, paths: list[str], cached: bool
) -> None:
    head = flat_tree(repo, repo.refs.head())
    worktree = scan(repo, state, paths)
    for path in sorted(paths):
        if worktree.modified.get(path) == "D":
            continue  # already gone from the working tree: nothing to lose (as git)
        entry = state.entries[path]
        in_head = head.get(path)
        staged_differs = in_head is None or (in_head.id, in_head.mode) != (entry.id, entry.mode)
        local_differs = worktree.modified.get(path) in ("M", "T")
        if staged_differs and local_differs:
            raise PathError(
                f"'{path}' has staged content different from both the file and "
                "HEAD (use -f to force removal)"
            )
        if not cached and local_differs:
            raise PathError(
                f"'{path}' has local modifications (use --cached to keep the "
                "file, or -f to force removal)"
            )
        # A newly added file counts as staged too: before it is committed, removing
        # it would lose the only recorded copy (git refuses this as well).
        if not cached and staged_differs:
            raise PathError(
                f"'{path}' has changes staged in the index (use --cached to "
                "keep the file, or -f to force removal)"
            )
