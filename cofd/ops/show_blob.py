"""``show REV:PATH``: a file's bytes (or a directory's listing) from a commit or the
staging area, as git's ``show`` gives them.

``REV:PATH`` names PATH in REV's tree, ``:PATH`` (or ``:N:PATH``) in the staging area
(stage N of a conflict); PATH is from the top of the repository unless it starts with
``./`` or ``../``, which make it relative to the client's directory. A file (or a
symlink's target) is streamed to the client through ``ctx.output``: its blocks go out
as the store yields them, so memory does not grow with the file; once its id is
resolved, the repository lock is let go (a :class:`Stream`), so a pager left open
keeps no writer waiting. A directory comes back as its names (``/`` after
subdirectories) for the client to print.
"""

from __future__ import annotations

import os
import re
from typing import Any

from cofd.objects.model import MODE_SYMLINK, Kind, TreeEntry, TreeId
from cofd.ops.api import OpContext, Stream, op
from cofd.ops.paths import repo_relative, shown
from cofd.ops.repository import Repository
from cofd.ops.revisions import resolve
from cofd.ops.tree_paths import entry_at, git_order
from cofd.store.ids import BlockId
from protocol.errors import PathError, UsageError

_STAGED = re.compile(r"^:(?:(?P<stage>[0-3]):)?(?P<path>.*)$", re.DOTALL)


def split_object_name(spec: str) -> tuple[str, str] | None:
    """``REV:PATH`` as (REV, PATH) (REV ``""`` for the staging area), or None when
    ``spec`` names no path (a plain revision)."""
    rev, colon, path = spec.partition(":")
    return (rev, path) if colon else None


def tree_path(repo: Repository, ctx: OpContext, path: str) -> str:
    """PATH of ``REV:PATH`` from the top, keeping a trailing ``/`` (which must name a
    directory); ``./`` and ``../`` make it relative to the client's directory."""
    if path == "." or path.startswith(("./", "../")) or path == "..":
        rel = repo_relative(repo.root, ctx.cwd, path)
        return rel + "/" if path.endswith("/") and rel else rel
    return path


def named_entry(ctx: OpContext, repo: Repository, spec: str) -> TreeEntry:
    """The entry ``REV:PATH`` (or ``:PATH``, ``:N:PATH``) names, or ``PathError`` with
    git's message (``RevisionError`` for REV)."""
    named = split_object_name(spec)
    if named is None:
        raise UsageError(f"'{spec}' is not REV:PATH")
    rev, path = named
    if not rev:
        return _staged_entry(ctx, repo, spec)
    tree = repo.objects.read_commit(resolve(repo, rev)).tree
    full = tree_path(repo, ctx, path)
    entry = entry_at(repo.objects, tree, full.rstrip("/"))
    if entry is None or (full.endswith("/") and entry.kind != Kind.DIR):
        raise PathError(_missing_in_commit(repo, ctx, tree, rev, path, full))
    return entry


@op("show_blob", writes=False, streams=True)
def show_blob(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any] | Stream:
    repo = ctx.require_repo()
    spec = params.get("spec")
    if not isinstance(spec, str):
        raise UsageError("expected REV:PATH")
    entry = named_entry(ctx, repo, spec)
    if entry.kind == Kind.DIR:
        listed = repo.objects.read_tree(TreeId(entry.id)).entries
        names = [e.name + ("/" if e.kind == Kind.DIR else "") for e in git_order(listed)]
        return {"kind": "tree", "names": names}
    return _stream(ctx, repo, entry.id, entry.size)


def _missing_in_commit(
    repo: Repository, ctx: OpContext, tree: TreeId, rev: str, path: str, full: str
) -> str:
    """git's message: the path meant from the client's directory, on disk only, or none."""
    prefix = repo_relative(repo.root, ctx.cwd, ".")
    beside = f"{prefix}/{path}" if prefix and path else ""
    if beside and entry_at(repo.objects, tree, beside) is not None:
        return f"path '{shown(beside)}' exists, but not '{shown(path)}' (use '{rev}:./{path}')"
    if full and os.path.lexists(os.path.join(repo.root, full)):  # keeps a trailing "/"
        return f"path '{shown(full)}' exists on disk, but not in '{rev}'"
    return f"path '{shown(full)}' does not exist in '{rev}'"


def _staged_entry(ctx: OpContext, repo: Repository, spec: str) -> TreeEntry:
    match = _STAGED.match(spec)
    assert match is not None  # spec starts with ":"
    stage = int(match["stage"] or 0)
    path = tree_path(repo, ctx, match["path"])
    state = repo.load_state()
    entry = state.entries.get(path) if stage == 0 else state.conflicts.get(path, {}).get(stage)
    if entry is None:
        if path in state.entries or path in state.conflicts:
            raise PathError(f"path '{shown(path)}' is in the index, but not at stage {stage}")
        if path and os.path.lexists(repo.root / path):
            raise PathError(f"path '{shown(path)}' exists on disk, but not in the index")
        raise PathError(f"path '{shown(path)}' does not exist (neither on disk nor in the index)")
    kind = Kind.SYMLINK if entry.mode == MODE_SYMLINK else Kind.FILE
    return TreeEntry(path.rpartition("/")[2], kind, entry.mode, entry.id, entry.size)


def _stream(ctx: OpContext, repo: Repository, content: BlockId, size: int) -> Stream:
    if ctx.output is None:
        raise UsageError("show REV:PATH needs a client that takes an output stream")
    output = ctx.output

    def send() -> dict[str, Any]:
        for run in repo.objects.iter_content_runs(content, size):
            output(run)
        return {"kind": "blob", "size": size}

    return Stream(send)  # the content's id is all it needs: writers may go on
