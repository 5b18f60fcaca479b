"""Walking the working tree and reading files consistently.

A file is read through one descriptor and its ``fstat`` is compared before and
after: if size, mtime, ctime or inode moved, the file changed while we read it and
the read is retried; a version is only recorded if it was read whole and unchanged.
"""

from __future__ import annotations

import errno
import os
import queue
import stat
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cofd.objects.ignore import RESERVED_DIRS, IgnoreRules, is_write_temp
from cofd.objects.model import MODE_SYMLINK, mode_for
from cofd.objects.odb import ContentWriter, ObjectStore
from cofd.objects.worktree_state import StatInfo
from cofd.ops.paths import parent_dirs
from cofd.store.blockstore import WriteTxn
from cofd.store.ids import BlockId, hash_block
from protocol.errors import ConcurrentModificationError, PathError

READ_CHUNK = 1024 * 1024
# Files at least this large are read and hashed on a second thread while the first
# stores (see _store_pipelined); smaller ones are not worth the hand-off.
PIPELINE_MIN_BYTES = 8 * 1024 * 1024
PIPELINE_CHUNK = 4 * 1024 * 1024
# A file that keeps changing under us is given this many tries before we give up.
READ_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class Found:
    path: str
    st: os.stat_result


class NothingIgnored(IgnoreRules):
    """Rules under which no file is ignored, so that a walk finds the ignored files
    too (cof's own directories, temp files and nested repositories stay skipped)."""

    def has_rules(self, directory: str) -> bool:
        return False


def walk(
    root: Path,
    rules: IgnoreRules,
    tracked_dirs: set[str],
    tracked: set[str],
    start: str = "",
    repositories: list[str] | None = None,
) -> Iterator[Found]:
    """Files and symlinks under ``start``, skipping ignored ones unless tracked.

    Directories are not followed through symlinks. Other file types (sockets,
    FIFOs, devices) are skipped, as git skips them, and so are cof's own temp files
    (``is_write_temp``) that a killed checkout left beside a working file. A
    directory holding no tracked file that is a repository of its own (see
    :func:`is_repository`) is not entered, as git never enters an embedded one: it
    is appended to ``repositories``, when given.
    """
    # Without any .cofignore on the way down, nothing can be ignored but .cof itself;
    # tracking that per directory skips the pattern matching for most trees.
    active = (
        any(rules.has_rules(d) for d in ("", *_parents(start))) if start else rules.has_rules("")
    )
    stack = [(start, active)]
    while stack:
        rel_dir, active = stack.pop()
        try:
            with os.scandir(root / rel_dir if rel_dir else root) as it:
                entries = list(it)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except PermissionError as exc:
            raise PathError(f"cannot read directory '{rel_dir or '.'}': {exc.strerror}") from exc
        if rel_dir and rel_dir not in tracked_dirs and _holds_repository(root / rel_dir, entries):
            if repositories is not None:
                repositories.append(rel_dir)
            continue
        prefix = rel_dir + "/" if rel_dir else ""
        for entry in entries:
            rel = prefix + entry.name
            if entry.name.lower() in RESERVED_DIRS:
                continue  # never tracked, nested repositories' included
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                if not active or rel in tracked_dirs or not rules.is_ignored(rel, True):
                    stack.append((rel, active or rules.has_rules(rel)))
            elif (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)) and _listed(
                rel, tracked, active, rules
            ):
                yield Found(rel, st)


def _listed(rel: str, tracked: set[str], active: bool, rules: IgnoreRules) -> bool:
    """Whether the walk yields the file ``rel``: tracked, or neither a temp file of
    cof's nor ignored (``active``: some ``.cofignore`` applies on the way down)."""
    if rel in tracked:
        return True
    if is_write_temp(rel.rpartition("/")[2]):
        return False
    return not active or not rules.is_ignored(rel, False)


def _holds_repository(directory: Path, entries: list[os.DirEntry[str]]) -> bool:
    """:func:`is_repository`, read from the directory's listing: the extra stats are
    paid only where a ``.cof`` or ``.git`` entry is."""
    return any(e.name in _REPOSITORY_ENTRIES for e in entries) and is_repository(directory)


_REPOSITORY_ENTRIES = (".cof", ".git")
_GITFILE_PREFIX = b"gitdir: "  # a ``.git`` file pointing at the repository elsewhere


def is_repository(directory: Path) -> bool:
    """Whether ``directory`` is a repository of its own: a cof one (``.cof`` with its
    ``config.toml``) or a git one (a ``.git`` directory with a ``HEAD``, or a
    ``.git`` file naming the repository: a linked worktree's or a submodule's)."""
    git = directory / ".git"
    if (directory / ".cof" / "config.toml").is_file() or (git / "HEAD").is_file():
        return True
    try:
        with open(git, "rb") as file:
            return file.read(len(_GITFILE_PREFIX)) == _GITFILE_PREFIX
    except OSError:  # none, or a directory that is no repository
        return False


def enclosing_repository(root: Path, path: str, tracked_dirs: set[str]) -> str | None:
    """The directory above ``path`` that a walk would not enter, being a repository
    of its own that holds no tracked file; None when there is none."""
    for directory in parent_dirs(path):
        if directory not in tracked_dirs and is_repository(root / directory):
            return directory
    return None


def _parents(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _same_version(a: os.stat_result, b: os.stat_result) -> bool:
    return (
        a.st_size == b.st_size
        and a.st_mtime_ns == b.st_mtime_ns
        and a.st_ctime_ns == b.st_ctime_ns
        and a.st_ino == b.st_ino
    )


@dataclass(frozen=True, slots=True)
class Content:
    id: BlockId
    size: int
    mode: int
    stat: StatInfo


def read_content(
    objects: ObjectStore,
    txn: WriteTxn | None,
    root: Path,
    path: str,
    on_bytes: Callable[[int], None] | None = None,
    previous: tuple[BlockId, int] | None = None,
) -> Content:
    """Store (or, without ``txn``, only hash) the current content of ``path``.

    ``previous`` (content id, size) is the version this one replaces, if any.
    """
    full = root / path
    for _ in range(READ_ATTEMPTS):
        try:
            before = os.lstat(full)
            if stat.S_ISLNK(before.st_mode):
                target = os.fsencode(os.readlink(full))
                after = os.lstat(full)
                if not _same_version(before, after):
                    continue
                writer = objects.content_writer(txn)
                writer.write(target)
                block_id, size = writer.finish()
                return Content(block_id, size, MODE_SYMLINK, StatInfo.of(after))
            result = _read_regular(objects, txn, full, on_bytes, previous)
        except FileNotFoundError as exc:
            raise PathError(f"'{path}' disappeared while being read") from exc
        except PermissionError as exc:
            raise PathError(f"cannot read '{path}': {exc.strerror}") from exc
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise
            raise PathError(f"cannot read '{path}': {exc.strerror}") from exc
        if result is not None:
            return result
    raise ConcurrentModificationError(
        f"'{path}' kept changing while being read ({READ_ATTEMPTS} attempts); "
        "nothing was recorded for it"
    )


def _read_regular(
    objects: ObjectStore,
    txn: WriteTxn | None,
    full: Path,
    on_bytes: Callable[[int], None] | None,
    previous: tuple[BlockId, int] | None,
) -> Content | None:
    fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode):
            raise PathError(f"'{full}' is not a regular file")
        writer = objects.content_writer(txn, previous)
        if txn is not None and before.st_size >= PIPELINE_MIN_BYTES:
            _store_pipelined(fd, writer, objects.block_size, on_bytes)
        else:
            buffer = bytearray(READ_CHUNK)
            view = memoryview(buffer)
            while True:
                n = os.readv(fd, [buffer])
                if n == 0:
                    break
                writer.write(view[:n])
                if on_bytes is not None:
                    on_bytes(n)
        after = os.fstat(fd)
    finally:
        os.close(fd)
    if not _same_version(before, after) or writer.size != after.st_size:
        return None
    block_id, size = writer.finish()
    return Content(block_id, size, mode_for(after.st_mode), StatInfo.of(after))


def _store_pipelined(
    fd: int, writer: ContentWriter, block_size: int, on_bytes: Callable[[int], None] | None
) -> None:
    """Read and hash on a helper thread while this thread stores.

    Storing is mostly SQLite, which releases the GIL, so the next batch is read and
    hashed on the other core meanwhile. The store transaction (and its SQLite
    connection) stays on this thread; the queue holds at most two batches, so memory
    stays bounded whatever the file's size.
    """
    batches: queue.Queue[tuple[list[bytes], list[BlockId], int] | BaseException | None] = (
        queue.Queue(maxsize=2)
    )
    stop = threading.Event()

    def hand_over(item: tuple[list[bytes], list[BlockId], int] | BaseException | None) -> None:
        while not stop.is_set():
            try:
                batches.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def produce() -> None:
        carry = b""
        try:
            while not stop.is_set():
                chunk = os.read(fd, PIPELINE_CHUNK)
                data = carry + chunk if carry else chunk
                end = len(data) if not chunk else len(data) - len(data) % block_size
                blocks = [data[i : i + block_size] for i in range(0, end, block_size)]
                carry = data[end:]
                hand_over((blocks, [hash_block(b) for b in blocks], len(chunk)))
                if not chunk:
                    break
            hand_over(None)
        except BaseException as exc:  # handed to the storing thread, which raises it
            hand_over(exc)

    reader = threading.Thread(target=produce, name="cof-read", daemon=True)
    reader.start()
    try:
        while (item := batches.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            blocks, ids, read = item
            if blocks:
                writer.write_hashed(blocks, ids)
            if on_bytes is not None and read:
                on_bytes(read)
    finally:
        stop.set()
        reader.join()
