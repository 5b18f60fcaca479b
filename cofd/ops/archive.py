"""``archive``: a commit's files as a tar, tar.gz or zip stream, as git's ``archive``.

Members are named as in the tree, below ``prefix`` (``P/``: a ``P/`` directory comes
first, as in git); directories are members too (git lists each before its contents);
every member's time is the commit's committer time. Modes are git's: in a tar, files
0664 or 0775, directories 0775, symlinks 0777 (git's ``tar.umask`` of 002 applied);
in a zip, an executable or a symlink carries its Unix mode, other members none
(MS-DOS attributes), and every member git's extended-timestamp field (UTC), beside
the MS-DOS time (local time, as git writes it). With paths, only they and what is
below them are archived, with the directories leading to them; run from a
subdirectory without paths, only that subdirectory, named from there (as git does).

Streaming: ``tarfile``/``zipfile``/``gzip`` write into ``output_writer`` (1 MiB of
buffer in front of ``ctx.output``) and read each file through ``open_content``,
which hands out the store's runs as it goes; no file is ever held whole. A zip
written to a stream gets data descriptors (sizes and CRC after the data), and
ZIP64 headers for a file whose known size needs them.
"""

from __future__ import annotations

import gzip
import io
import shutil
import struct
import tarfile
import time
import zipfile
from collections.abc import Iterator
from typing import Any

from cofd.objects.model import Kind, TreeEntry, TreeId
from cofd.ops.api import OpContext, op
from cofd.ops.content_io import OUTPUT_BUFFER_BYTES, open_content, output_writer
from cofd.ops.paths import path_args, repo_relative, shown
from cofd.ops.repository import Repository
from cofd.ops.revisions import resolve
from cofd.ops.tree_paths import entry_at, git_order, root_entry
from protocol.errors import PathError, UsageError

FORMATS = ("tar", "tgz", "zip")
TAR_UMASK = 0o002  # git's default tar.umask
GZIP_LEVEL = 6  # gzip's default, which git's built-in tar.gz filter uses
ZIP_MTIME_TAG = 0x5455  # "UT": Info-ZIP's extended timestamp field, as git writes it
# MS-DOS attributes git gives a directory in a zip (the "directory" bit).
ZIP_DOS_DIR = 0x10

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


class _Writer:
    """One archive format over the output stream."""

    def __init__(self, repo: Repository, out: io.BufferedWriter, mtime: int, fmt: str) -> None:
        self.repo, self.mtime, self.fmt = repo, mtime, fmt
        self._gzip = (
            gzip.GzipFile(fileobj=out, mode="wb", compresslevel=GZIP_LEVEL, mtime=mtime)
            if fmt == "tgz"
            else None
        )
        sink: io.BufferedIOBase = self._gzip or out
        if fmt == "zip":
            self._zip: zipfile.ZipFile | None = zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED)
            self._tar: tarfile.TarFile | None = None
        else:
            self._zip = None
            # Closed by close(), like the zip and gzip writers beside it.
            self._tar = tarfile.open(  # noqa: SIM115
                fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT
            )

    def add(self, name: str, entry: TreeEntry) -> None:
        if self._tar is not None:
            self._add_tar(self._tar, name, entry)
        else:
            assert self._zip is not None
            self._add_zip(self._zip, name, entry)

    def _target(self, entry: TreeEntry) -> str:
        with open_content(self.repo, entry.id, entry.size) as reader:
            return reader.read().decode("utf-8", "surrogateescape")

    def _add_tar(self, tar: tarfile.TarFile, name: str, entry: TreeEntry) -> None:
        info = tarfile.TarInfo(name.rstrip("/"))
        info.mtime, info.uname, info.gname = self.mtime, "root", "root"
        if entry.kind == Kind.DIR:
            info.type, info.mode = tarfile.DIRTYPE, 0o777 & ~TAR_UMASK
            tar.addfile(info)
        elif entry.kind == Kind.SYMLINK:
            info.type, info.mode, info.linkname = tarfile.SYMTYPE, 0o777, self._target(entry)
            tar.addfile(info)
        else:
            info.size = entry.size
            info.mode = (0o777 if entry.mode & 0o100 else 0o666) & ~TAR_UMASK
            with open_content(self.repo, entry.id, entry.size) as reader:
                tar.addfile(info, reader)

    def _add_zip(self, archive: zipfile.ZipFile, name: str, entry: TreeEntry) -> None:
        info = zipfile.ZipInfo(name, time.localtime(self.mtime)[:6])
        info.extra = struct.pack("<HHBI", ZIP_MTIME_TAG, 5, 1, self.mtime)
        info.create_system = 0  # MS-DOS attributes, as git writes a plain member
        if entry.kind == Kind.DIR:
            info.external_attr = ZIP_DOS_DIR
            archive.writestr(info, b"")
            return
        if entry.kind == Kind.SYMLINK or entry.mode & 0o100:
            info.create_system = 3  # Unix: the mode is in the high half
            mode = 0o120777 if entry.kind == Kind.SYMLINK else entry.mode
            info.external_attr = mode << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        info.file_size = entry.size  # known up front: decides ZIP64 before the data
        with (
            open_content(self.repo, entry.id, entry.size) as reader,
            archive.open(info, "w") as member,
        ):
            shutil.copyfileobj(reader, member, OUTPUT_BUFFER_BYTES)
        if info.create_system == 0:
            # open() gave it a Unix 0600 for want of attributes; git's plain member has
            # none. Only the central directory, written at close, carries them.
            info.external_attr = 0

    def close(self) -> None:
        if self._tar is not None:
            self._tar.close()
        if self._zip is not None:
            self._zip.close()
        if self._gzip is not None:
            self._gzip.close()


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


@op("archive", writes=False)
def archive(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    repo = ctx.require_repo()
    rev, fmt, prefix = params.get("rev"), params.get("format", "tar"), params.get("prefix", "")
    if not isinstance(rev, str) or fmt not in FORMATS or not isinstance(prefix, str):
        raise UsageError("archive needs a revision, a format (tar, tgz, zip) and a prefix")
    if ctx.output is None:
        raise UsageError("archive needs a client that takes an output stream")
    commit = repo.objects.read_commit(resolve(repo, rev))
    base, specs = _scope(repo, ctx, path_args(params.get("paths")))
    top = entry_at(repo.objects, commit.tree, base) if base else None
    tree = TreeId(top.id) if top is not None and top.kind == Kind.DIR else commit.tree
    if base and tree == commit.tree:
        raise PathError(f"current directory '{shown(base)}' is not in '{rev}'")
    for spec in specs:
        if entry_at(repo.objects, commit.tree, spec) is None:
            raise PathError(f"pathspec '{shown(spec)}' did not match any files")
    out = output_writer(ctx.output)
    writer = _Writer(repo, out, commit.committer.timestamp, fmt)
    count = 0
    if prefix.endswith("/"):  # as git: a prefix without "/" only prefixes names
        writer.add(prefix, root_entry(tree))
    for name, entry in _members(repo, tree, "", specs):
        writer.add(prefix + name, entry)
        count += 1
    writer.close()
    out.flush()
    return {"members": count}
