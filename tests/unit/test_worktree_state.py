"""The worktree state file: round trip, corruption, and the racy-clean rule."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from cofd.objects.worktree_state import (
    RACY_MARGIN_NS,
    Entry,
    StatInfo,
    WorktreeState,
)
from cofd.store.ids import BlockId
from protocol.codec import pack
from protocol.errors import IntegrityError

ID_A, ID_B, ID_C = (BlockId(bytes([n]) * 32) for n in (10, 11, 12))


def stat(mtime_ns: int, ctime_ns: int | None = None) -> StatInfo:
    return StatInfo(mtime_ns, mtime_ns if ctime_ns is None else ctime_ns, 5, 77, 3, 0o100644)


def sample_state() -> WorktreeState:
    entries = {
        "a.bin": Entry("a.bin", 0o100644, ID_A, 5, stat(1_000)),
        "dir/b": Entry("dir/b", 0o100755, ID_B, 2**40, None),
        "dir/é": Entry("dir/é", 0o120000, ID_C, 9, stat(5, 6)),
    }
    conflicts = {
        "c": {
            1: Entry("c", 0o100644, ID_A, 1, None, 1),
            2: Entry("c", 0o100644, ID_B, 2, None, 2),
            3: Entry("c", 0o100644, ID_C, 3, stat(1), 3),
        }
    }
    return WorktreeState(entries, conflicts)


def test_missing_file_is_an_empty_state(tmp_path: Path) -> None:
    state = WorktreeState.load(tmp_path / "worktree")
    assert state.entries == {} and state.conflicts == {}


def test_save_load_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "worktree"
    state = sample_state()
    state.save(path, time.time_ns())
    assert not path.with_name("worktree.tmp").exists()
    loaded = WorktreeState.load(path)
    assert loaded.entries == state.entries
    assert loaded.conflicts == state.conflicts
    assert loaded.written_ns == path.stat().st_mtime_ns - RACY_MARGIN_NS
    assert state.written_ns == loaded.written_ns
    loaded.entries.pop("a.bin")
    loaded.save(path, time.time_ns())
    assert set(WorktreeState.load(path).entries) == {"dir/b", "dir/é"}


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xc1garbage",
        b"not msgpack at all",
        pack(["worktree", 1, 0, [["a", 0o100644, b"\x01" * 32, 1, []]]])[:-3],
        pack(["notworktree", 1, 0, []]),
        pack(["worktree", 2, 0, []]),
        pack(["worktree", 1, 0]),
        pack(["worktree", 1, 0, [["a", 0o100644, b"short", 1, [], 0]]]),
        pack(["worktree", 1, 0, [["a", "mode", b"\x01" * 32, 1, [], 0]]]),
        pack(["worktree", 1, 0, [["a", 0o100644, b"\x01" * 32, 1, [], 0, "extra"]]]),
        pack(["worktree", 1, 0, [["a", 0o100644, b"\x01" * 32, 1, "stat", 0]]]),
        pack(["worktree", 1, 0, ["entry"]]),
        pack({"worktree": 1}),
    ],
)
def test_corrupt_file_is_an_integrity_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "worktree"
    path.write_bytes(data)
    with pytest.raises(IntegrityError) as info:
        WorktreeState.load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: corrupt worktree state (")
    assert "cof restore --staged ." in message  # tells the user how to recover


def test_racy_clean_rule(tmp_path: Path) -> None:
    path = tmp_path / "worktree"
    WorktreeState().save(path, time.time_ns())
    written = 1_700_000_000_000_000_000
    os.utime(path, ns=(written, written))
    state = WorktreeState.load(path)
    limit = written - RACY_MARGIN_NS
    assert state.written_ns == limit
    assert state.is_racy(stat(written))  # same tick as the state file
    assert state.is_racy(stat(written + 10**9))  # newer
    assert state.is_racy(stat(limit))  # exactly at the margin: not older
    assert not state.is_racy(stat(limit - 1))  # older than state mtime minus margin
    assert not state.is_racy(stat(limit - 10**9))
    assert state.is_racy(stat(limit - 10**9, ctime_ns=limit))  # ctime counts too


def test_file_written_just_before_save_is_racy(tmp_path: Path) -> None:
    work = tmp_path / "f"
    work.write_bytes(b"hello")
    path = tmp_path / "worktree"
    state = WorktreeState({"f": Entry("f", 0o100644, ID_A, 5, StatInfo.of(work.stat()))})
    state.save(path, time.time_ns())
    loaded = WorktreeState.load(path)
    cached = loaded.entries["f"].stat
    assert cached is not None
    assert loaded.is_racy(cached)
    assert WorktreeState.stat_matches(cached, work.stat())
    old = work.stat().st_mtime_ns - 10 * 10**9
    os.utime(work, ns=(old, old))
    assert not WorktreeState.stat_matches(cached, work.stat())
    assert not loaded.is_racy(StatInfo(old, old - 10**12, 5, 1, 1, 0o100644))
