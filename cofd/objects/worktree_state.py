"""The worktree state file ``.cof/worktree``: the staging area and the stat cache.

For each tracked path: mode, content id, size, and the stat fields (mtime_ns,
ctime_ns, inode, device) seen when the content id was computed. ``status`` re-reads
only files whose stat changed. A file whose mtime is not older than the moment the
state was written is "racily clean" (it may have changed again within the same
timestamp tick) and is always re-hashed, as git does.

Entries with a non-zero ``stage`` are the sides of an unresolved merge conflict
(1 = base, 2 = ours, 3 = theirs), as in git's index.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cofd.store.ids import ID_LEN, BlockId
from cofd.store.pack import fsync_dir
from protocol.codec import CodecError, pack, unpack
from protocol.errors import IntegrityError

TAG = "worktree"
VERSION = 1
MAX_STATE_BYTES = 512 * 1024 * 1024
# Filesystem timestamps come from a coarse clock (one kernel tick, up to 10 ms).
# A file whose mtime lies within this margin of the state file's own mtime may have
# changed again after it was hashed without its stat changing, so it is re-hashed.
RACY_MARGIN_NS = 20_000_000


@dataclass(slots=True)
class StatInfo:
    mtime_ns: int
    ctime_ns: int
    size: int
    ino: int
    dev: int
    mode: int

    @staticmethod
    def of(st: os.stat_result) -> StatInfo:
        return StatInfo(
            st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino, st.st_dev, st.st_mode
        )


@dataclass(slots=True)
class Entry:
    path: str
    mode: int
    id: BlockId
    size: int
    stat: StatInfo | None  # None: unknown, compare content
    stage: int = 0

    def to_wire(self) -> list[object]:
        st = self.stat
        stat_list = (
            [] if st is None else [st.mtime_ns, st.ctime_ns, st.size, st.ino, st.dev, st.mode]
        )
        return [self.path, self.mode, self.id, self.size, stat_list, self.stage]


def _entry_from_wire(raw: object) -> Entry:
    if not (isinstance(raw, list) and len(raw) == 6):
        raise ValueError("entry is not a 6-list")
    path, mode, block_id, size, stat_list, stage = raw
    if not (
        isinstance(path, str)
        and isinstance(mode, int)
        and isinstance(block_id, bytes)
        and len(block_id) == ID_LEN
        and isinstance(size, int)
        and isinstance(stage, int)
        and isinstance(stat_list, list)
    ):
        raise ValueError("entry has wrong field types")
    st = StatInfo(*stat_list) if len(stat_list) == 6 else None
    return Entry(path, mode, BlockId(block_id), size, st, stage)


class WorktreeState:
    def __init__(
        self,
        entries: dict[str, Entry] | None = None,
        conflicts: dict[str, dict[int, Entry]] | None = None,
        written_ns: int = 0,
    ) -> None:
        self.entries: dict[str, Entry] = entries or {}
        self.conflicts: dict[str, dict[int, Entry]] = conflicts or {}
        self.written_ns = written_ns

    def is_racy(self, st: StatInfo) -> bool:
        return st.mtime_ns >= self.written_ns or st.ctime_ns >= self.written_ns

    @staticmethod
    def stat_matches(cached: StatInfo | None, st: os.stat_result) -> bool:
        return (
            cached is not None
            and cached.mtime_ns == st.st_mtime_ns
            and cached.ctime_ns == st.st_ctime_ns
            and cached.size == st.st_size
            and cached.ino == st.st_ino
            and cached.dev == st.st_dev
            and cached.mode == st.st_mode
        )

    @staticmethod
    def load(path: Path) -> WorktreeState:
        try:
            with path.open("rb") as fh:
                # Racy-clean reference point: when the filesystem says we wrote it.
                written_ns = os.fstat(fh.fileno()).st_mtime_ns - RACY_MARGIN_NS
                data = fh.read()
        except FileNotFoundError:
            return WorktreeState()
        try:
            obj = unpack(data, max_bytes=MAX_STATE_BYTES)
            if not (
                isinstance(obj, list)
                and len(obj) == 4
                and obj[0] == TAG
                and obj[1] == VERSION
                and isinstance(obj[2], int)
                and isinstance(obj[3], list)
            ):
                raise ValueError("bad header")
            entries: dict[str, Entry] = {}
            conflicts: dict[str, dict[int, Entry]] = {}
            for raw in obj[3]:
                entry = _entry_from_wire(raw)
                if entry.stage:
                    conflicts.setdefault(entry.path, {})[entry.stage] = entry
                else:
                    entries[entry.path] = entry
        except (CodecError, ValueError, TypeError) as exc:
            raise IntegrityError(
                f"{path}: corrupt worktree state ({exc}); "
                "`cof restore --staged .` rebuilds it from HEAD"
            ) from exc
        return WorktreeState(entries, conflicts, written_ns)

    def save(self, path: Path, now_ns: int) -> None:
        """Write atomically: temp file, fsync, rename, fsync directory."""
        rows = [e.to_wire() for e in self.entries.values()]
        rows += [e.to_wire() for sides in self.conflicts.values() for e in sides.values()]
        data = pack([TAG, VERSION, now_ns, rows])
        # A temp file of its own: two readers (status, diff) may save at once.
        fd, tmp_name = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        tmp = Path(tmp_name)
        os.fchmod(fd, 0o644)
        try:
            try:
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)  # a full disk leaves no temp file behind
            raise
        fsync_dir(path.parent)
        self.written_ns = path.stat().st_mtime_ns - RACY_MARGIN_NS
