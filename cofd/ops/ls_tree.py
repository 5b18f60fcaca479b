"""``ls-tree``: the entries of a tree, as git's ``ls-tree`` lists them.

The tree is a tree-ish (:mod:`cofd.ops.tree_ish`: a revision, ``REV:DIR``, a tree's
id). Paths are literal (no globs, as in git's ``ls-tree``), relative to the client's
directory, which is looked for in that tree whatever tree it is (as git does: ``HEAD:d``
from ``d`` lists nothing); with none, the client's directory is listed. ``full_tree``
(git's ``--full-tree``) reads paths from the top and lists the whole tree. An entry is
listed when it is a path given or lies below one; a directory on the way to a deeper
path given is entered rather than listed (listed too with ``-t``); ``-r`` enters every
directory; ``-d`` lists directories only (``-d -r`` implies ``-t``, as in git). Names
come back relative to the client's directory, or from the top with ``full_name``. Ids
are full, or with ``abbrev`` N unique prefixes of at least N digits (0: full).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cofd.objects.model import Kind, TreeEntry, TreeId
from cofd.ops.api import OpContext, op
from cofd.ops.paths import path_args, repo_relative
from cofd.ops.repository import Repository
from cofd.ops.rev_parse import abbreviation
from cofd.ops.tree_ish import tree_named
from cofd.ops.tree_paths import git_order
from protocol.errors import UsageError


class _Listing:
    def __init__(self, specs: list[str], recursive: bool, trees_only: bool, show_trees: bool):
        self.specs = specs  # repository-relative; a trailing "/" names a directory's contents
        self.recursive = recursive
        self.trees_only = trees_only
        self.show_trees = show_trees or (trees_only and recursive)

    def wanted(self, path: str, is_dir: bool) -> bool:
        """The path is given, lies below a path given, or leads to one."""
        if not self.specs:
            return True
        for spec in self.specs:
            bare = spec.rstrip("/")
            if path == bare and (is_dir or not spec.endswith("/")):
                return True
            if path.startswith(bare + "/") or (is_dir and bare.startswith(path + "/")):
                return True
        return False

    def enters(self, path: str) -> bool:
        """Whether the directory at ``path`` is walked into instead of listed."""
        return self.recursive or any(s.startswith(path + "/") for s in self.specs)

    def walk(self, repo: Repository, tree: TreeId, base: str) -> Iterator[tuple[str, TreeEntry]]:
        for entry in git_order(repo.objects.read_tree(tree).entries):
            path = base + entry.name
            is_dir = entry.kind == Kind.DIR
            if not self.wanted(path, is_dir):
                continue
            if not is_dir:
                if not self.trees_only:
                    yield path, entry
            elif self.enters(path):
                if self.show_trees:
                    yield path, entry
                yield from self.walk(repo, TreeId(entry.id), path + "/")
            else:
                yield path, entry


def _spec(repo: Repository, cwd: Path, arg: str) -> str:
    rel = repo_relative(repo.root, cwd, arg)
    return rel + "/" if rel and arg.endswith("/") else rel


def _shown_id(repo: Repository, object_id: bytes, abbrev: int | None) -> str:
    """git's ``--abbrev``: None or 0 the whole id, else a unique prefix of at least
    that many digits (4 at least, as git)."""
    return object_id.hex() if not abbrev else abbreviation(repo, object_id, abbrev)


@op("ls_tree", writes=False)
def ls_tree(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    repo = ctx.require_repo()
    rev, abbrev = params.get("rev"), params.get("abbrev")
    if not isinstance(rev, str):
        raise UsageError("ls-tree needs a revision")
    if abbrev is not None and (not isinstance(abbrev, int) or isinstance(abbrev, bool)):
        raise UsageError("--abbrev expects a number")
    tree, _ = tree_named(ctx, repo, rev)
    # --full-tree: as if run at the top (paths from there, the whole tree listed).
    cwd = repo.root if params.get("full_tree") else ctx.cwd
    prefix = repo_relative(repo.root, cwd, ".")
    specs = [_spec(repo, cwd, arg) for arg in path_args(params.get("paths"))]
    if "" in specs:
        specs = []  # the top: everything
    elif not specs and prefix:
        specs = [prefix + "/"]
    listing = _Listing(
        specs,
        recursive=bool(params.get("recursive")),
        trees_only=bool(params.get("trees_only")),
        show_trees=bool(params.get("show_trees")),
    )
    rows: list[list[Any]] = []
    relative = prefix and not params.get("full_name")
    for path, entry in listing.walk(repo, tree, ""):
        is_dir = entry.kind == Kind.DIR
        shown = posixpath.relpath(path, prefix) if relative else path
        size = None if is_dir else entry.size  # git's "-" for a tree
        object_id = _shown_id(repo, entry.id, abbrev)
        rows.append([entry.mode, "tree" if is_dir else "blob", object_id, size, shown])
    return {"entries": rows}
