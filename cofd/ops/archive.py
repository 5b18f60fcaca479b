"""``archive``: a tree's files as a tar, tar.gz or zip stream, as git's ``archive``.

The tree is a tree-ish (:mod:`cofd.ops.tree_ish`): a revision's, or ``REV:DIR``.
Members are named as in the tree, below ``prefix`` (``P/``: a ``P/`` directory comes
first, as in git); directories are members too (git lists each before its contents);
every member's time is the commit's committer time, or for a tree named directly
the time the archive is made (as git). Each format is written as git writes it:
:mod:`cofd.ops.archive_tar` (with the commit's id in a pax global header),
:mod:`cofd.ops.archive_zip` (with it as the zip's comment). ``level`` is git's
``-0``..``-9``: the zip's deflate level or the gzip level of a tar.gz; a plain tar
takes none, as in git. With paths, only they and what is below them are archived,
with the directories leading to them; run from a subdirectory without paths, only
that subdirectory, named from there (as git does).

Streaming: the writers write into ``output_writer`` (1 MiB of buffer in front of
``ctx.output``) and read each file through the store's runs as they come; no file is
ever held whole. The archive is written by a ``Stream``, once the revision and paths
are resolved: without the repository lock.
"""

from __future__ import annotations

import io
import time
import zlib
from collections.abc import Iterator
from typing import Any

from cofd.objects.model import Kind, TreeEntry, TreeId
from cofd.ops.api import OpContext, Stream, op
from cofd.ops.archive_tar import TarWriter
from cofd.ops.archive_zip import ZipWriter
from cofd.ops.content_io import output_writer
from cofd.ops.paths import path_args, repo_relative, shown
from cofd.ops.repository import Repository
from cofd.ops.tree_ish import tree_named
from cofd.ops.tree_paths import entry_at, git_order, root_entry
from protocol.errors import PathError, UsageError

FORMATS = ("tar", "tgz", "zip")
# git's names for the formats, in its messages.
FORMAT_NAMES = {"tar": "tar", "tgz": "tar.gz", "zip": "zip"}
LEVELS = range(10)  # -0 .. -9: zlib's levels, the ones git's zip and gzip take

Member = tuple[str, TreeEntry]  # archive name (directories end in "/"), entry


def _members(repo: Repository, tree: TreeId, base: str, specs: list[str]) -> Iterator[Member]:
    """Every entry below ``base`` in git's order, directories first, limited to the
    paths in ``specs`` (repository-relative) and the directories leading to them."""
    for entry in git_order(repo.objects.read_tree(tree).entries):
        path = base + entry.name
        if specs and not any(
            path == s or path.startswith(s + "/") or s.startswith(path + "/") for s in specs
        ):
            continue
        if entry.kind == Kind.DIR:
            yield path + "/", entry
            yield from _members(repo, TreeId(entry.id), path + "/", specs)
        else:
            yield path, entry


def _writer(
    repo: Repository, out: io.BufferedIOBase, fmt: str, mtime: int, commit: bytes | None, level: int
) -> TarWriter | ZipWriter:
    """The format's writer; ``level`` -1 is zlib's default (6)."""
    if fmt == "zip":
        return ZipWriter(repo, out, mtime, commit.hex().encode() if commit else b"", level)
    gzip_level = level if fmt == "tgz" else None
    return TarWriter(repo, out, mtime, commit.hex() if commit else None, gzip_level)


def _level(fmt: str, value: object) -> int:
    """git's ``-N`` for the format (None: the default), or git's refusal."""
    if value is None:
        return zlib.Z_DEFAULT_COMPRESSION
    if not isinstance(value, int) or isinstance(value, bool):
        raise UsageError("the compression level must be a number")
    if fmt == "tar" or value not in LEVELS:
        raise UsageError(f"Argument not supported for format '{FORMAT_NAMES[fmt]}': -{value}")
    return value


def _scope(repo: Repository, ctx: OpContext, raw: list[str]) -> tuple[str, list[str]]:
    """(the directory archived, the paths within it): git archives the client's
    directory when run below the top without paths."""
    prefix = repo_relative(repo.root, ctx.cwd, ".")
    specs = [repo_relative(repo.root, ctx.cwd, arg) for arg in raw]
    if "" in specs:
        return "", []
    if not specs:
        return prefix, []
    return "", specs


@op("archive", writes=False, streams=True)
def archive(ctx: OpContext, params: dict[str, Any]) -> Stream:
    repo = ctx.require_repo()
    rev, fmt, prefix = params.get("rev"), params.get("format", "tar"), params.get("prefix", "")
    if not isinstance(rev, str) or fmt not in FORMATS or not isinstance(prefix, str):
        raise UsageError("archive needs a revision, a format (tar, tgz, zip) and a prefix")
    if ctx.output is None:
        raise UsageError("archive needs a client that takes an output stream")
    level = _level(fmt, params.get("level"))
    whole, commit = tree_named(ctx, repo, rev)
    base, specs = _scope(repo, ctx, path_args(params.get("paths")))
    top = entry_at(repo.objects, whole, base) if base else None
    tree = TreeId(top.id) if top is not None and top.kind == Kind.DIR else whole
    if base and tree == whole:
        raise PathError(f"current directory '{shown(base)}' is not in '{rev}'")
    for spec in specs:
        if entry_at(repo.objects, whole, spec) is None:
            raise PathError(f"pathspec '{shown(spec)}' did not match any files")
    output = ctx.output
    # git dates a commit's members its committer time, a bare tree's the time now.
    mtime = repo.objects.read_commit(commit).committer.timestamp if commit else int(time.time())

    def send() -> dict[str, Any]:
        out = output_writer(output)
        writer = _writer(repo, out, fmt, mtime, commit, level)
        count = 0
        if prefix.endswith("/"):  # as git: a prefix without "/" only prefixes names
            writer.add(prefix, root_entry(tree))
        for name, entry in _members(repo, tree, "", specs):
            writer.add(prefix + name, entry)
            count += 1
        writer.close()
        out.flush()
        return {"members": count}

    # It reads only the commit's (immutable) trees and contents: writers may go on
    # while a slow client takes the archive.
    return Stream(send)
