"""Repository: the open state of one repository, owned by one daemon.

Opening takes an exclusive ``flock`` on ``.cof/locks/daemon.lock`` for as long as
the repository stays open, so two daemons never write the same store. Opening also
finishes crash recovery: the block store truncates uncommitted pack bytes, and stale
ref locks and the temp files of working files being written (``.cof/tmp``, and the
``.<name>.cof-<pid>.tmp`` files older versions wrote beside them) that a killed writer
left are removed, once a ``stash push`` a kill cut short is finished or rolled back
(``cofd.ops.stash_push``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from cofd.config import Config, load_config, repo_config_text
from cofd.objects.ignore import RESERVED_DIRS, is_write_temp
from cofd.objects.model import CommitId, Signature, TreeId
from cofd.objects.odb import ObjectStore
from cofd.objects.refs import Refs
from cofd.objects.worktree_state import WorktreeState
from cofd.ops.trees import FlatEntry
from cofd.store.blockstore import BlockStore
from cofd.store.pack import fsync_dir
from protocol.errors import IntegrityError, NotARepositoryError, RepositoryLockedError

COF_DIR = ".cof"
DEFAULT_BRANCH = "main"
# Under .cof: where working files are written before being renamed into place.
TEMP_DIR = "tmp"
# A file in TEMP_DIR with this suffix names (relative to the root) a temp file being
# written beside its destination instead, so that a kill leaves nothing in the
# working tree that the next open cannot find and remove.
BESIDE_NOTE = ".beside"
# What versions before TEMP_DIR named the temp file of every working file they wrote,
# beside it: ".<name>.cof-<pid>.tmp" (one of the names ``is_write_temp`` knows).
LEGACY_TEMP = re.compile(r"\..+\.cof-[0-9]+\.tmp")
LEGACY_SWEPT = "LEGACY_TEMPS_SWEPT"  # in .cof: the sweep for LEGACY_TEMP files is done


def create_layout(root: Path, config: Config | None = None) -> bool:
    """Create an empty repository at ``root``; False if one already exists.

    Args:
        config: the effective configuration of the request (user config and
            environment): its format keys (block size, hash) are pinned in the new
            ``config.toml``; the other keys are written commented out, so the user
            config still applies to them. None pins the defaults. (A clone
            passes the origin's block size, from its Refs message.)
    """
    cof_dir = root / COF_DIR
    if (cof_dir / "config.toml").is_file():
        return False
    cof_dir.mkdir(parents=True, exist_ok=True)
    BlockStore.create_layout(cof_dir)
    for sub in ("refs/heads", "refs/tags", "refs/remotes", "locks", "logs", TEMP_DIR):
        (cof_dir / sub).mkdir(parents=True, exist_ok=True)
    head = cof_dir / "HEAD"
    if not head.exists():
        head.write_text(f"ref: refs/heads/{DEFAULT_BRANCH}\n")
    # config.toml last: its presence is what marks the directory as a repository.
    tmp = cof_dir / "config.toml.tmp"
    tmp.write_text(repo_config_text(config))
    os.replace(tmp, cof_dir / "config.toml")
    return True


class Repository:
    def __init__(self, root: Path, lock_fd: int, config: Config) -> None:
        self.root = root
        self.cof_dir = root / COF_DIR
        self.config_path = self.cof_dir / "config.toml"
        self._lock_fd = lock_fd
        self.blocks = BlockStore(
            self.cof_dir, config.core.block_size, config.core.cache_size_mb * 1024 * 1024
        )
        self.objects = ObjectStore(self.blocks)
        self.refs = Refs(self.cof_dir)
        self.refs.clear_stale_locks()
        # Temp files of a stat-cache save or a working file that a kill interrupted (each
        # save and each write has its own; the repository's flock says no other process
        # is writing now, and this one starts no command here before the open returns).
        for stray in self.cof_dir.glob(self.state_path.name + ".*.tmp"):
            stray.unlink(missing_ok=True)
        # A `stash push` a kill cut short: finished or rolled back (it needs its temp
        # files, so before they are removed).
        from cofd.ops.stash_journal import finish_interrupted_push

        finish_interrupted_push(self)
        self._clear_write_temps()
        # Flattened trees by tree id (immutable, so never stale); bounded by callers.
        self.flat_trees: dict[TreeId, dict[str, FlatEntry]] = {}
        self._state_cache: tuple[tuple[int, int, int, int], WorktreeState] | None = None
        self._clear_legacy_temps()
        # Transfers (fetch, push) run beside readers, not under the exclusive lock, so
        # `cof log` or `cof status` need not wait minutes for a big fetch; they take
        # turns among themselves here instead (a second fetch waiting for the store's
        # write lock with a session open would let the peer time it out).
        self.transfer_lock = threading.Lock()
        # Commits stored by a received push whose refs are not moved yet: gc's roots.
        self.gc_pins: list[CommitId] = []

    @classmethod
    def open(
        cls, root: Path, user_config: Path | None = None, env: Mapping[str, str] | None = None
    ) -> Repository:
        """Open the repository at ``root``, taking its daemon lock.

        Args:
            user_config: ``COF_HOME/config.toml`` of the opening daemon.
            env: the opening daemon's environment (its ``COF_*`` variables).

        Settings read here (``core.cache_size_mb``) are layered defaults < user <
        repository < ``env`` once, for as long as the repository stays open; the
        format keys come from the repository's file alone (see ``cofd.config``).
        """
        cof_dir = root / COF_DIR
        if not (cof_dir / "config.toml").is_file():
            raise NotARepositoryError(f"not a cof repository: {root}")
        config = load_config(cof_dir / "config.toml", user_config, env)
        (cof_dir / "locks").mkdir(exist_ok=True)
        fd = os.open(cof_dir / "locks" / "daemon.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).strip()
            os.close(fd)
            if holder == str(os.getpid()).encode():
                # This daemon holds it outside the repository cache: a clone into it.
                raise RepositoryLockedError(
                    f"{root} is busy: a clone into it is still running; retry when it ends"
                ) from None
            raise RepositoryLockedError(
                f"{root} is owned by another cofd (lock {cof_dir / 'locks' / 'daemon.lock'})"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        try:
            return cls(root, fd, config)
        except BaseException:
            os.close(fd)
            raise

    @property
    def temp_dir(self) -> Path:
        """Where working files are written before they are renamed into place."""
        return self.cof_dir / TEMP_DIR

    def _clear_write_temps(self) -> None:
        """Remove what killed writes left in ``temp_dir``, and the temp files beside
        working files that its notes name. (A repository made before ``temp_dir``
        existed gets it here.)"""
        self.temp_dir.mkdir(exist_ok=True)
        with os.scandir(self.temp_dir) as listing:
            left = list(listing)
        for entry in left:
            if entry.name.endswith(BESIDE_NOTE):
                self._remove_noted_temp(Path(entry.path))
            with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                os.unlink(entry.path)

    def write_beside_note(self, note: Path, rel: str) -> None:
        """Write ``note``, naming the temp file ``rel`` about to be written beside a
        working file, durably: the note and its entry in ``temp_dir`` reach the disk
        before the temp file is made, so power lost while it is written cannot leave a
        temp file that no note names for the next open to remove."""
        fd = os.open(note, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, os.fsencode(rel))
            os.fsync(fd)
        finally:
            os.close(fd)
        fsync_dir(note.parent)

    def _clear_legacy_temps(self) -> None:
        """Remove the ``.<name>.cof-<pid>.tmp`` files that versions before ``temp_dir``
        left beside working files when a write was killed (status hides them).

        All of them, whatever their pid: every version wrote them only while holding
        this repository's lock (the flock of :meth:`open`, which the first version
        took already), and this daemon holds it now, so no writer of one is alive. A
        pid would prove nothing anyway: pids are reused, and the writer may have run
        on another machine sharing the file system. A tracked file of that name is
        kept, and nested repositories (their own daemon's) and ``.git`` are not
        entered. The walk reads directory listings only, and runs once per
        repository: a finished sweep leaves ``.cof/LEGACY_TEMPS_SWEPT`` (this
        version writes no such files, so there is nothing to look for again; a big
        worktree's walk costs its listing time at every daemon start otherwise).
        """
        marker = self.cof_dir / LEGACY_SWEPT
        if marker.exists():
            return
        found: list[str] = []
        stack = [""]
        while stack:
            rel_dir = stack.pop()
            try:
                with os.scandir(self.root / rel_dir) as listing:
                    entries = list(listing)
            except OSError:  # gone meanwhile, or unreadable: nothing of ours to remove
                continue
            if rel_dir and any(e.name == COF_DIR for e in entries):
                continue  # a repository of its own
            for entry in entries:
                rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
                with contextlib.suppress(OSError):
                    if entry.is_dir(follow_symlinks=False):
                        if entry.name.lower() not in RESERVED_DIRS:
                            stack.append(rel)
                    elif LEGACY_TEMP.fullmatch(entry.name):
                        found.append(rel)
        tracked = self._tracked_paths() if found else None
        for rel in found:
            if tracked is not None and rel not in tracked:
                with contextlib.suppress(OSError):  # gone, or not ours to remove
                    os.unlink(self.root / rel)
        if not found or tracked is not None:  # else: swept again at the next open
            with contextlib.suppress(OSError):  # read-only: sweep again next time
                marker.touch()

    def _tracked_paths(self) -> set[str] | None:
        """Paths the staging area names; None when it cannot be read (then nothing is
        removed: fsck and the next command report the damage)."""
        try:
            state = self.load_state()
        except (IntegrityError, ValueError, OSError):
            return None
        return set(state.entries) | set(state.conflicts)

    def _remove_noted_temp(self, note: Path) -> None:
        """Remove the temp file ``note`` names, if its name is one cof gives temp files
        and it lies inside the working tree: a note damaged on disk, or a directory
        replaced by a symlink since, must not make us delete anything else."""
        try:
            rel = os.fsdecode(note.read_bytes())
        except OSError:
            return
        parts = rel.split("/")
        if rel.startswith("/") or ".." in parts or not is_write_temp(parts[-1]):
            return
        target = self.root / rel
        if target.parent.resolve().is_relative_to(self.root.resolve()):
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                target.unlink()

    def is_current(self) -> bool:
        """Whether ``root`` still holds this repository, not one removed or replaced.

        The lock file is the repository's identity: this object holds it open, so its
        inode cannot be reused while we look. ``rm -rf repo && cof clone ... repo``
        leaves a new lock file at the path (or none), and a daemon that kept using
        the old, unlinked files would read and write a repository nobody can see."""
        if self._lock_fd < 0:
            return False
        try:
            on_disk = os.stat(self.cof_dir / "locks" / "daemon.lock")
        except OSError:
            return False
        held = os.fstat(self._lock_fd)
        return (on_disk.st_dev, on_disk.st_ino) == (held.st_dev, held.st_ino)

    def close(self) -> None:
        self.blocks.close()
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = -1

    # -- worktree state -------------------------------------------------------------

    @property
    def state_path(self) -> Path:
        return self.cof_dir / "worktree"

    def load_state(self) -> WorktreeState:
        """The staging area, decoded once and reused while its file is unchanged.

        Callers get their own dicts, so an operation that fails half-way leaves the
        cached copy as it was on disk (entries themselves are only ever replaced,
        except for stat refreshes, which describe the disk truthfully).
        """
        try:
            st = os.stat(self.state_path)
        except FileNotFoundError:
            return WorktreeState()
        key = (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)
        if self._state_cache is None or self._state_cache[0] != key:
            self._state_cache = (key, WorktreeState.load(self.state_path))
        cached = self._state_cache[1]
        return WorktreeState(
            dict(cached.entries),
            {path: dict(sides) for path, sides in cached.conflicts.items()},
            cached.written_ns,
        )

    def save_state(self, state: WorktreeState) -> None:
        self._state_cache = None
        state.save(self.state_path, time.time_ns())

    # -- identity -------------------------------------------------------------------

    @staticmethod
    def signature(name: str, email: str, when: float | None = None) -> Signature:
        now = time.time() if when is None else when
        offset = time.localtime(now).tm_gmtoff // 60
        return Signature(name, email, int(now), offset)
