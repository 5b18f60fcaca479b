"""Refs and the reflog, updated atomically.

A ref is a file under ``.cof/refs/`` holding a commit id in hex; ``HEAD`` holds
either ``ref: refs/heads/<branch>`` or a commit id (detached). An update writes
``<ref>.lock`` (created exclusively: it is also the per-ref lock), fsyncs it,
compares the current value with the caller's expectation, appends one line to
``.cof/logs/<ref>``, renames the lock over the ref and fsyncs the directory.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cofd.objects.model import CommitId, Signature
from cofd.store.ids import ID_LEN
from cofd.store.pack import fsync_dir
from protocol.errors import ConflictError, IntegrityError, UsageError

ZERO_HEX = "0" * (ID_LEN * 2)
HEAD = "HEAD"
_BAD_REF_CHARS = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


class _Any:
    """Sentinel: update without comparing the old value."""


ANY = _Any()


def ref_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid ref or branch name (git check-ref-format rules)."""
    if not name:
        return "empty name"
    if name.startswith("-"):
        return "begins with '-'"
    if name == "@" or "@{" in name:
        return "contains '@{' or is '@'"
    if ".." in name or "//" in name or name.endswith(("/", ".")) or name.startswith("/"):
        return "contains '..' or '//', or begins or ends with '/' or ends with '.'"
    if _BAD_REF_CHARS.search(name):
        return "contains a space, a control character or one of ~^:?*[\\"
    for part in name.split("/"):
        if part.startswith(".") or part.endswith(".lock"):
            return "a component begins with '.' or ends with '.lock'"
    return None


@dataclass(frozen=True, slots=True)
class ReflogEntry:
    old: CommitId | None
    new: CommitId | None
    who: str
    timestamp: int
    tz_minutes: int
    message: str


def _parse_id(text: str, where: str) -> CommitId | None:
    text = text.strip()
    if text == ZERO_HEX:
        return None
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != ID_LEN:
        raise IntegrityError(f"{where}: not a commit id: {text[:80]!r}")
    return CommitId(raw)


def _hex(commit: CommitId | None) -> str:
    return commit.hex() if commit is not None else ZERO_HEX


def _tz_text(minutes: int) -> str:
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"


def _take_lock(path: Path, name: str) -> tuple[Path, int]:
    """Create ``<ref>.lock`` exclusively: the per-ref lock (and the new value's file)."""
    lock = path.with_name(path.name + ".lock")
    try:
        return lock, os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise ConflictError(f"{name} is being updated by another operation") from None


def _write_durably(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        data = memoryview(text.encode())
        while data:  # a long reflog may take more than one write
            data = data[os.write(fd, data) :]
        os.fsync(fd)
    finally:
        os.close(fd)


class Refs:
    def __init__(self, cof_dir: Path) -> None:
        self.cof_dir = cof_dir

    def _path(self, name: str) -> Path:
        return self.cof_dir / name

    def clear_stale_locks(self) -> None:
        """Remove ``*.lock`` files a killed writer left (called by the lock owner)."""
        for lock in [self.cof_dir / "HEAD.lock", *(self.cof_dir / "refs").rglob("*.lock")]:
            lock.unlink(missing_ok=True)

    # -- reading --------------------------------------------------------------------

    def read_raw(self, name: str) -> str | None:
        try:
            return self._path(name).read_text().strip()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None

    def head_target(self) -> str | None:
        """The branch ref HEAD points at (``refs/heads/x``), or None when detached."""
        raw = self.read_raw(HEAD)
        if raw is not None and raw.startswith("ref: "):
            return raw[5:].strip()
        return None

    def read(self, name: str) -> CommitId | None:
        """The commit a ref points at, following HEAD's symbolic link."""
        raw = self.read_raw(name)
        if raw is None:
            return None
        if raw.startswith("ref: "):
            return self.read(raw[5:].strip())
        # The first line: MERGE_HEAD lists one merged commit per line (git reads the
        # first as the revision too).
        return _parse_id(raw.partition("\n")[0], name)

    def head(self) -> CommitId | None:
        return self.read(HEAD)

    def iter_refs(self, prefix: str = "refs/") -> Iterator[tuple[str, CommitId]]:
        base = self.cof_dir / prefix
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.endswith(".lock"):
                name = path.relative_to(self.cof_dir).as_posix()
                commit = self.read(name)
                if commit is not None:
                    yield name, commit

    # -- writing --------------------------------------------------------------------

    def update(
        self,
        name: str,
        new: CommitId | None,
        who: Signature,
        message: str,
        expected: CommitId | _Any | None = ANY,
        log: bool = True,
    ) -> None:
        """Point ``name`` at ``new`` (None deletes it) if it still has ``expected``.

        ``HEAD`` means the branch HEAD is attached to, or HEAD itself when detached.
        ``log=False`` writes no reflog line (a rename moves the log elsewhere).
        """
        if name == HEAD:
            name = self.head_target() or HEAD
        path = self._path(name)
        if new is not None and not path.is_file():
            self._make_room(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        lock, fd = _take_lock(path, name)
        try:
            current = self.read(name)
            if not isinstance(expected, _Any) and current != expected:
                raise ConflictError(f"{name} moved to {_hex(current)[:12]} meanwhile")
            if new is not None:
                os.write(fd, f"{new.hex()}\n".encode())
                os.fsync(fd)
            os.close(fd)
            fd = -1
            # The reflog line while the lock is held (as git writes it): a reflog
            # rewrite (expiry) takes the same lock, so no line is lost between its read
            # and its rename. A crash right after leaves a line for an update that did
            # not happen, never an update without its line.
            if log:
                self._log(name, current, new, who, message)
            if log and name != HEAD and name == self.head_target():
                self._log(HEAD, current, new, who, message)
            if new is None:
                path.unlink(missing_ok=True)
                lock.unlink()
            else:
                os.replace(lock, path)
            fsync_dir(path.parent)
            if new is None:
                self._remove_empty_parents(path)
        except BaseException:
            if fd >= 0:
                os.close(fd)
            lock.unlink(missing_ok=True)
            raise

    def clash(self, name: str, ignoring: str | None = None) -> str | None:
        """The ref (or ref being written) that a new ref ``name`` would clash with, as
        refs are files and ``a`` and ``a/b`` cannot both exist (git's rule); a clash
        with ``ignoring`` (the ref a rename moves away) does not count."""
        for parent in Path(name).parents:
            if parent.as_posix() != ignoring and self._path(parent.as_posix()).is_file():
                return parent.as_posix()
        path = self._path(name)
        if path.is_dir():
            # Any file below is a ref, or the lock of one being written: both clash.
            for inside in sorted(p for p in path.rglob("*") if not p.is_dir()):
                shown = inside.relative_to(self.cof_dir).as_posix().removesuffix(".lock")
                if shown != ignoring:
                    return shown
        return None

    def _make_room(self, name: str) -> None:
        """Refuse a new ref that one in place would clash with; clear empty directories
        that deleted refs left where it goes."""
        clash = self.clash(name)
        if clash is not None:
            raise ConflictError(f"cannot create {name}: {clash} exists")
        path = self._path(name)
        if path.is_dir():
            for sub in sorted(path.rglob("*"), reverse=True):  # empty directories only
                sub.rmdir()
            path.rmdir()

    def rename(
        self, old: str, new: str, who: Signature, message: str, replace: bool = False
    ) -> CommitId:
        """Move ref ``old`` to ``new`` with its reflog, as git's ``branch -m``: ``new``
        gets ``old``'s log and one ``message`` line, and HEAD follows if it was on
        ``old``. ``new`` may lie below ``old`` (``a`` to ``a/b``) or above it (``a/b``
        to ``a``): ``old`` goes first, as in git.

        A crash between the removal of ``old`` and the creation of ``new`` leaves the
        log in ``logs/deleted/``, where gc keeps its commits as roots (git leaves it
        in ``logs/refs/.tmp-renamed-log``). The caller holds the repository's writer
        lock (branches move under no other), so no update races the rename.

        ``replace``: an existing ``new`` is deleted first (``branch -M``); its reflog
        goes to ``logs/deleted/``.
        """
        commit = self.read(old)
        if commit is None:
            raise UsageError(f"{old} not found")
        if old == new:
            self.update(new, commit, who, message, expected=commit)
            return commit
        clash = self.clash(new, ignoring=old)
        if clash is not None:
            raise ConflictError(f"cannot create {new}: {clash} exists")
        if replace:
            self._drop_for_replacement(new, who, message)
        on_head = self.head_target() == old
        aside = self._log_aside(old)
        self.update(old, None, who, message, expected=commit, log=False)
        if aside is not None:
            self._log_aside(new)  # a deleted ref's log under the new name stays a root
            moved = self._log_path(new)  # and so do the others in the way
            moved.parent.mkdir(parents=True, exist_ok=True)
            os.replace(aside, moved)
            fsync_dir(moved.parent)
            self._remove_empty_log_dirs(aside)
        self.update(new, commit, who, message, expected=None)
        if on_head:
            # git logs HEAD leaving the old branch and arriving on the new one (the
            # first line's new side is null: `reflog` skips it but counts it).
            self.set_head(new, who, message, log=False)
            self._log(HEAD, commit, None, who, message)
            self._log(HEAD, None, commit, who, message)
        return commit

    def copy(
        self, old: str, new: str, who: Signature, message: str, replace: bool = False
    ) -> CommitId:
        """Create ``new`` at ``old``'s commit with a copy of ``old``'s reflog and one
        ``message`` line, as git's ``branch -c``; ``replace``: an existing ``new`` is
        deleted first (``-C``), its reflog kept in ``logs/deleted/``. A crash before the
        ref is written leaves at most the copied log, under ``new``'s name: a gc root
        for commits ``old`` names anyway."""
        commit = self.read(old)
        if commit is None:
            raise UsageError(f"{old} not found")
        clash = self.clash(new)
        if clash is not None:
            raise ConflictError(f"cannot create {new}: {clash} exists")
        if replace:
            self._drop_for_replacement(new, who, message)
        source = self.cof_dir / "logs" / old
        if source.is_file():
            target = self._log_path(new)
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".copy.tmp")
            _write_durably(tmp, source.read_text(encoding="utf-8"))
            os.replace(tmp, target)
            fsync_dir(target.parent)
        self.update(new, commit, who, message, expected=None)
        return commit

    def _drop_for_replacement(self, name: str, who: Signature, message: str) -> None:
        """Delete ref ``name`` (if present) so another takes its place; its reflog goes
        to ``logs/deleted/``, where gc still keeps what it names."""
        current = self.read(name)
        if current is None:
            return
        self._log_aside(name)
        self.update(name, None, who, message, expected=current, log=False)

    def _log_aside(self, name: str) -> Path | None:
        """Move ``name``'s reflog to ``logs/deleted/`` (a gc root there); its new place."""
        logs = self.cof_dir / "logs"
        path = logs / name
        if not path.is_file():
            return None
        aside = logs / "deleted" / f"{name}.{time.time_ns()}"
        aside.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, aside)
        fsync_dir(aside.parent)
        self._remove_empty_log_dirs(path)
        return aside

    def _remove_empty_parents(self, path: Path) -> None:
        """After a delete: drop directories left empty below ``refs/<kind>/``."""
        keep = self.cof_dir / "refs"
        parent = path.parent
        while parent.parent != keep and keep in parent.parents:
            try:
                parent.rmdir()
            except OSError:  # not empty (or a writer just made it): leave it
                return
            parent = parent.parent

    def _log_path(self, name: str) -> Path:
        """``logs/<name>``, moving aside what is in the way: reflogs of deleted refs
        (``a``'s log where ``a/b`` is now created, or ``a/b``'s where ``a`` is) go to
        ``logs/deleted/`` with a timestamp, where gc still reads them as roots."""
        logs = self.cof_dir / "logs"
        path = logs / name
        if path.is_file():
            return path
        in_the_way = [logs / p for p in Path(name).parents if (logs / p).is_file()]
        if path.is_dir():
            in_the_way.append(path)
        for stale in in_the_way:
            aside = logs / "deleted" / f"{stale.relative_to(logs)}.{time.time_ns()}"
            aside.parent.mkdir(parents=True, exist_ok=True)
            os.replace(stale, aside)
        return path

    def set_head(
        self,
        target: str | CommitId,
        who: Signature,
        message: str,
        previous: CommitId | _Any | None = ANY,
        log: bool = True,
    ) -> None:
        """Attach HEAD to a branch ref name, or detach it at a commit id. The reflog
        line says HEAD named ``previous`` before (default: what it names now), unless
        ``log`` is False (HEAD moved between unborn branches: no commit to log)."""
        old = self.head() if isinstance(previous, _Any) else previous
        if isinstance(target, str):
            if not target.startswith("refs/heads/"):
                raise UsageError(f"HEAD can only point at a branch, not {target}")
            text = f"ref: {target}\n"
            new = self.read(target)
        else:
            text = f"{target.hex()}\n"
            new = target
        tmp = self.cof_dir / "HEAD.lock"
        _write_durably(tmp, text)
        os.replace(tmp, self.cof_dir / HEAD)
        fsync_dir(self.cof_dir)
        if log:
            self._log(HEAD, old, new, who, message)

    def _log(
        self, name: str, old: CommitId | None, new: CommitId | None, who: Signature, message: str
    ) -> None:
        path = self._log_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        line = (
            f"{_hex(old)} {_hex(new)} {who.format()} {who.timestamp} "
            f"{_tz_text(who.tz_minutes)}\t{message.splitlines()[0] if message else ''}\n"
        )
        with path.open("a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    def reflog(self, name: str) -> list[ReflogEntry]:
        """Entries newest first, as ``cof reflog`` and ``name@{N}`` count them."""
        entries = [e for _, e in self._reflog_lines(name) if e is not None]
        entries.reverse()
        return entries

    def _reflog_lines(self, name: str) -> list[tuple[str, ReflogEntry | None]]:
        """Each line of ``logs/<name>``, oldest first, with its entry (None: unreadable,
        such as a torn last line after a crash)."""
        try:
            lines = (self.cof_dir / "logs" / name).read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        return [(line, _parse_reflog_line(line, name)) for line in lines]

    def reflog_names(self) -> list[str]:
        """Every reflog kept: of refs, of HEAD, and of deleted refs (``deleted/...``)."""
        logs = self.cof_dir / "logs"
        if not logs.is_dir():
            return []
        return sorted(
            p.relative_to(logs).as_posix()
            for p in logs.rglob("*")
            # A rewrite or a copy a crash cut short is no reflog.
            if p.is_file() and not p.name.endswith((".expire.tmp", ".copy.tmp"))
        )

    def rewrite_reflog(
        self, name: str, keep: Callable[[int, ReflogEntry], bool], rewrite: bool = False
    ) -> int:
        """Keep the entries of ``name``'s reflog for which ``keep(n, entry)`` holds (``n``
        counts newest first, as ``name@{n}``); unreadable lines go too. Returns how many
        entries were dropped. The file is replaced atomically, under the ref's lock; a
        reflog left empty is removed when its ref no longer exists. The caller holds the
        repository's writer lock (HEAD's log has no lock of its own). ``rewrite`` (git's
        ``reflog delete --rewrite``): each kept line's old id becomes the new id of the
        kept line before it (none for the oldest), so no line names a dropped entry."""
        with self._reflog_lock(name):
            return self._rewrite_reflog(name, keep, rewrite)

    @contextlib.contextmanager
    def _reflog_lock(self, name: str) -> Iterator[None]:
        """The ref's own lock, which :meth:`update` holds while it appends a line.
        HEAD's log and the ``deleted/`` logs are only written under the repository's
        writer lock, which every rewrite holds."""
        if name == HEAD or name.startswith("deleted/"):
            yield
            return
        path = self._path(name)
        made = not path.parent.is_dir()
        path.parent.mkdir(parents=True, exist_ok=True)
        lock, fd = _take_lock(path, name)
        try:
            os.close(fd)
            yield
        finally:
            lock.unlink(missing_ok=True)
            if made:
                self._remove_empty_parents(path)

    def _rewrite_reflog(
        self, name: str, keep: Callable[[int, ReflogEntry], bool], rewrite: bool
    ) -> int:
        lines = self._reflog_lines(name)
        readable = sum(entry is not None for _, entry in lines)
        kept: list[str] = []
        n = readable
        before: CommitId | None = None  # the new id of the last line kept
        for line, entry in lines:
            if entry is None:
                continue
            n -= 1
            if keep(n, entry):
                # A line starts with its old id, in hex (all lines parsed did).
                kept.append(_hex(before) + line[len(ZERO_HEX) :] if rewrite else line)
                before = entry.new
        if kept == [line for line, _ in lines]:
            return 0
        path = self.cof_dir / "logs" / name
        if not kept and (name != HEAD and self.read_raw(name) is None):
            path.unlink(missing_ok=True)
            fsync_dir(path.parent)
            self._remove_empty_log_dirs(path)
        else:
            tmp = path.with_name(path.name + ".expire.tmp")
            _write_durably(tmp, "".join(line + "\n" for line in kept))
            os.replace(tmp, path)
            fsync_dir(path.parent)
        return readable - len(kept)

    def _remove_empty_log_dirs(self, path: Path) -> None:
        logs = self.cof_dir / "logs"
        parent = path.parent
        while parent != logs and logs in parent.parents:
            try:
                parent.rmdir()
            except OSError:
                return
            parent = parent.parent


def _parse_reflog_line(line: str, name: str) -> ReflogEntry | None:
    head, _, message = line.partition("\t")
    parts = head.split(" ")
    if len(parts) < 5:
        return None
    try:
        return ReflogEntry(
            _parse_id(parts[0], name),
            _parse_id(parts[1], name),
            " ".join(parts[2:-2]),
            int(parts[-2]),
            (1 if parts[-1][0] == "+" else -1) * (int(parts[-1][1:3]) * 60 + int(parts[-1][3:5])),
            message,
        )
    except (IntegrityError, ValueError, IndexError):
        return None
