"""Writing tree entries into the working tree.

Each file is written whole to a temp file under ``.cof/tmp`` and then renamed into
place, so a file is never seen half-written, and a write killed half-way leaves
nothing in the working tree (the next open of the repository empties ``.cof/tmp``).
Only where that rename cannot work, a directory of the working tree on another file
system, is the temp file written beside its destination, with a note in
``.cof/tmp`` naming it for that cleanup. Modes and symlinks are recreated as recorded.
"""

from __future__ import annotations

import errno
import itertools
import os
import posixpath
import stat
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cofd.objects.model import MODE_EXEC
from cofd.objects.worktree_state import StatInfo
from cofd.ops.paths import check_writable
from cofd.ops.repository import BESIDE_NOTE, Repository
from cofd.ops.trees import FlatEntry
from protocol.errors import PathError

WRITE_CHUNK = 1024 * 1024
# Pieces gathered into one writev at most (IOV_MAX is 1024 on Linux).
WRITE_PIECES = 256
# Files written at once by write_entries: one per core of the machines cof targets.
WRITER_THREADS = 2
# Numbers this process's temp files, so concurrent writes never share one (``next``
# on a count is atomic under the GIL).
_temp_numbers = itertools.count()


def _prepare_parent(root: Path, path: str) -> None:
    """Make the parent directories exist, replacing files that stand in their way."""
    current = root
    for part in path.split("/")[:-1]:
        current = current / part
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            # Another writer thread may create the same directory at the same time.
            current.mkdir(exist_ok=True)
            continue
        if not stat.S_ISDIR(st.st_mode):
            current.unlink()
            current.mkdir()


def _clear_destination(full: Path, path: str) -> None:
    try:
        st = os.lstat(full)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        try:
            full.rmdir()
        except OSError as exc:
            raise PathError(f"cannot write '{path}': a non-empty directory is in the way") from exc


def write_entry(
    repo: Repository, path: str, entry: FlatEntry, on_bytes: Callable[[int], None] | None = None
) -> StatInfo:
    """Write ``entry`` at ``path`` (replacing what is there) and return its stat.

    The temp file is under ``.cof/tmp`` when that is on the file system of the
    destination's directory (the usual case: one rename, no name in the user's
    sight); otherwise beside the destination (``_write_beside``)."""
    root = repo.root
    full = root / path
    check_writable((path,))
    _prepare_parent(root, path)
    _clear_destination(full, path)
    if _temp_device(repo) == os.stat(full.parent).st_dev:
        tmp = repo.temp_dir / f"{os.getpid()}-{next(_temp_numbers)}"
        try:
            _write_and_rename(repo, tmp, full, entry, on_bytes)
            return StatInfo.of(os.lstat(full))
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            # One file system, two mounts (a bind mount): rename cannot cross them.
            on_bytes = None  # the bytes were counted once already
    _write_beside(repo, path, entry, on_bytes)
    return StatInfo.of(os.lstat(full))


def _temp_device(repo: Repository) -> int:
    """The device of ``.cof/tmp`` (made again if it was removed by hand)."""
    try:
        return os.stat(repo.temp_dir).st_dev
    except FileNotFoundError:
        repo.temp_dir.mkdir(exist_ok=True)
        return os.stat(repo.temp_dir).st_dev


def _write_beside(
    repo: Repository, path: str, entry: FlatEntry, on_bytes: Callable[[int], None] | None
) -> None:
    """Write ``path`` through a temp file in its own directory, which a note in
    ``.cof/tmp`` names until the rename, so that the next open removes it if a kill
    comes first."""
    number = f"{os.getpid()}-{next(_temp_numbers)}"
    tmp_path = posixpath.join(posixpath.dirname(path), f".cof-{number}.tmp")
    note = repo.temp_dir / (number + BESIDE_NOTE)
    repo.write_beside_note(note, tmp_path)
    try:
        _write_and_rename(repo, repo.root / tmp_path, repo.root / path, entry, on_bytes)
    finally:
        note.unlink(missing_ok=True)


def _write_and_rename(
    repo: Repository,
    tmp: Path,
    full: Path,
    entry: FlatEntry,
    on_bytes: Callable[[int], None] | None,
) -> None:
    try:
        _write_content(repo, tmp, entry, on_bytes)
        _replace(tmp, full)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_content(
    repo: Repository, tmp: Path, entry: FlatEntry, on_bytes: Callable[[int], None] | None
) -> None:
    """Make ``tmp`` the symlink or regular file ``entry`` records."""
    if entry.kind.name == "SYMLINK":
        target = b"".join(repo.objects.iter_content(entry.id, entry.size))
        tmp.unlink(missing_ok=True)
        os.symlink(os.fsdecode(target), tmp)
    else:
        _write_regular(repo, tmp, entry, on_bytes)


def _replace(tmp: Path, full: Path) -> None:
    # Unlink, then rename: on ext4, renaming over an existing file makes the
    # kernel start writeback of the new data at once (auto_da_alloc), which
    # made replacing 500 files take seconds. The new file is complete before
    # the old one goes; a crash in between leaves the path missing, which
    # status reports and restore (or running the checkout again) repairs,
    # never a torn file.
    if os.path.lexists(full):
        os.unlink(full)
    os.rename(tmp, full)


def write_temp(
    repo: Repository, entry: FlatEntry, on_bytes: Callable[[int], None] | None = None
) -> Path:
    """Write ``entry`` to a new temp file in ``.cof/tmp`` for :func:`place_temp` to
    move into the working tree later: a command that must not touch the working tree
    before its commit point (``stash push``) writes the data first. A kill in between
    leaves only the temp file, which the next open removes."""
    _temp_device(repo)  # makes .cof/tmp again if it was removed by hand
    tmp = repo.temp_dir / f"{os.getpid()}-{next(_temp_numbers)}"
    try:
        _write_content(repo, tmp, entry, on_bytes)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def place_temp(repo: Repository, path: str, tmp: Path, entry: FlatEntry) -> StatInfo:
    """Rename a :func:`write_temp` file of ``entry`` to ``path`` (replacing what is
    there) and return its stat; where ``.cof/tmp`` is on another file system than the
    destination, ``entry`` is written there as :func:`write_entry` writes it."""
    full = repo.root / path
    check_writable((path,))
    _prepare_parent(repo.root, path)
    _clear_destination(full, path)
    try:
        _replace(tmp, full)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        tmp.unlink(missing_ok=True)
        return write_entry(repo, path, entry)
    return StatInfo.of(os.lstat(full))


def _write_regular(
    repo: Repository, tmp: Path, entry: FlatEntry, on_bytes: Callable[[int], None] | None
) -> None:
    """Write a file from the verified pieces the store hands out: runs of blocks as
    memoryviews of the spans read from the packs, gathered into one writev per
    WRITE_CHUNK bytes, so no block is copied in Python on its way to the file."""
    mode = 0o755 if entry.mode == MODE_EXEC else 0o644
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        os.fchmod(fd, mode)  # the umask must not drop the exec bit we recorded
        pending: list[bytes | memoryview] = []
        pending_bytes = 0
        for piece in repo.objects.iter_content_runs(entry.id, entry.size):
            pending.append(piece)
            pending_bytes += len(piece)
            if pending_bytes >= WRITE_CHUNK or len(pending) >= WRITE_PIECES:
                _write_all(fd, pending)
                if on_bytes is not None:
                    on_bytes(pending_bytes)
                pending = []
                pending_bytes = 0
        if pending:
            _write_all(fd, pending)
            if on_bytes is not None:
                on_bytes(pending_bytes)
    finally:
        os.close(fd)


def _write_all(fd: int, pieces: list[bytes | memoryview]) -> None:
    """``os.writev`` the pieces, carrying on after a short write."""
    first = 0
    while first < len(pieces):
        written = os.writev(fd, pieces[first:] if first else pieces)
        while first < len(pieces) and written >= len(pieces[first]):
            written -= len(pieces[first])
            first += 1
        if written:
            pieces[first] = memoryview(pieces[first])[written:]


def remove_entry(root: Path, path: str) -> None:
    """Delete a file and prune the directories it leaves empty (as git does)."""
    full = root / path
    try:
        full.unlink()
    except (FileNotFoundError, NotADirectoryError):
        pass  # NotADirectoryError: a parent is a file now (a killed switch wrote it)
    except IsADirectoryError:
        return
    parent = full.parent
    while parent != root:
        try:
            parent.rmdir()
        except OSError:
            break
        parent = parent.parent


def write_entries(
    repo: Repository,
    items: list[tuple[str, FlatEntry]],
    on_bytes: Callable[[int], None] | None = None,
) -> dict[str, StatInfo]:
    """Write several entries, two at a time: reading packs, index lookups and writing
    files release the GIL, so a second thread keeps the other core busy. Returns the
    stat of each written path; the first failure is raised after all writers stop."""
    check_writable(path for path, _ in items)  # all before the first is written
    if len(items) < 2:
        return {path: write_entry(repo, path, entry, on_bytes) for path, entry in items}
    lock = threading.Lock()
    counted = None
    if on_bytes is not None:
        report = on_bytes

        def counted(n: int) -> None:
            with lock:
                report(n)

    # Biggest first, so the two threads finish close together.
    ordered = sorted(items, key=lambda item: -item[1].size)
    with ThreadPoolExecutor(max_workers=WRITER_THREADS, thread_name_prefix="cof-write") as pool:
        futures = {
            path: pool.submit(write_entry, repo, path, entry, counted) for path, entry in ordered
        }
    return {path: future.result() for path, future in futures.items()}
