"""Temp files of working-file writes that a kill left: the ``.<name>.cof-<pid>.tmp``
files older versions wrote beside working files are removed when the daemon opens the
repository (not a tracked one, nor one in a nested repository), and the note naming a
temp file written beside its destination reaches the disk before that file does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cofd.objects.model import MODE_FILE
from cofd.objects.worktree_state import Entry, WorktreeState
from cofd.ops import materialize, repository
from cofd.ops.repository import Repository, create_layout
from cofd.ops.trees import FlatEntry
from cofd.store.ids import BlockId
from tests.integration.conftest import CofRunner, CofSandbox

AUTHOR = {"COF_AUTHOR_NAME": "T", "COF_AUTHOR_EMAIL": "t@e"}


def test_old_style_temps_are_removed_when_the_repository_is_opened(
    sandbox: CofSandbox, cof: CofRunner
) -> None:
    sandbox.env.update(AUTHOR)
    work = sandbox.work
    cof("init")
    (work / "d").mkdir()
    (work / "a.bin").write_bytes(b"a")
    cof("add", "a.bin")
    cof("commit", "-q", "-m", "base")
    cof("init", "nested")
    stale = [".a.bin.cof-123.tmp", "d/.b c.cof-99999999.tmp", f"d/.x.cof-{os.getpid()}.tmp"]
    others = ["nested/.n.cof-5.tmp", ".cof-5.tmp", ".a.bin.cof-12.tmp~", "d/a.cof-1.tmp"]
    for rel in stale + others:
        (work / rel).write_bytes(b"x")
    # A repository an older cof used has no marker: this one's first open swept it.
    marker = work / ".cof" / "LEGACY_TEMPS_SWEPT"
    assert marker.exists()
    marker.unlink()
    sandbox.stop_daemon()  # the next command opens the repository again
    listed = "?? .a.bin.cof-12.tmp~\n?? .cof-5.tmp\n?? d/\n?? nested/\n"
    assert cof("status", "--porcelain").stdout == listed
    for rel in stale:
        assert not (work / rel).exists(), rel
    for rel in others:
        assert (work / rel).exists(), rel
    # Once swept, later opens do not walk the working tree again.
    assert marker.exists()
    (work / stale[0]).write_bytes(b"x")
    sandbox.stop_daemon()
    cof("status")
    assert (work / stale[0]).exists()


def test_a_tracked_file_of_a_temp_name_is_kept(tmp_path: Path) -> None:
    """Such a name cannot be added, but an old cof could commit it."""
    create_layout(tmp_path)
    repo = Repository.open(tmp_path)
    entry = Entry(".k.cof-1.tmp", MODE_FILE, BlockId(bytes(32)), 1, None)
    repo.save_state(WorktreeState({entry.path: entry}))
    repo.close()
    for name in (".k.cof-1.tmp", ".j.cof-1.tmp"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / ".cof" / "LEGACY_TEMPS_SWEPT").unlink()  # as an older cof left it
    Repository.open(tmp_path).close()
    assert (tmp_path / ".k.cof-1.tmp").exists()
    assert not (tmp_path / ".j.cof-1.tmp").exists()


def test_a_beside_note_is_on_disk_before_its_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_layout(tmp_path)
    repo = Repository.open(tmp_path)
    events: list[str] = []
    real_fsync, real_open = os.fsync, os.open

    def fsync(fd: int) -> None:
        events.append(f"fsync {os.readlink(f'/proc/self/fd/{fd}')}")
        real_fsync(fd)

    def opening(path: str | os.PathLike[str], flags: int, mode: int = 0o777) -> int:
        if os.fspath(path).endswith(".tmp"):
            events.append(f"create {os.fspath(path)}")
        return real_open(path, flags, mode)

    def fsync_dir(path: Path) -> None:
        events.append(f"fsync {path}")

    monkeypatch.setattr(materialize, "_temp_device", lambda repo: -1)  # write beside
    monkeypatch.setattr(repository, "fsync_dir", fsync_dir)
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "open", opening)
    try:
        with repo.blocks.transaction() as txn:
            writer = repo.objects.content_writer(txn)
            writer.write(b"data\n")
            content_id, size = writer.finish()
        materialize.write_entry(repo, "f.bin", FlatEntry(MODE_FILE, content_id, size))
    finally:
        repo.close()
    note_fsync = next(i for i, e in enumerate(events) if e.endswith(".beside"))
    dir_fsync = events.index(f"fsync {repo.temp_dir}")
    created = next(i for i, e in enumerate(events) if e.startswith("create "))
    assert note_fsync < dir_fsync < created, events
    assert (tmp_path / "f.bin").read_bytes() == b"data\n"
