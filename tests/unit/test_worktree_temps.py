"""Temp files of working-file writes: under ``.cof/tmp``, beside the destination only
where a rename from there cannot work, and removed when the repository is opened.

Before, every file was written to ``.<name>.cof-<pid>.tmp`` beside its destination,
and a daemon killed mid-write left those in the working tree for status and
``add -A`` to pick up.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from cofd.objects.ignore import IgnoreRules, is_write_temp
from cofd.objects.model import MODE_FILE
from cofd.ops import materialize
from cofd.ops.repository import Repository, create_layout
from cofd.ops.scan import walk
from cofd.ops.trees import FlatEntry

DATA = bytes(range(256)) * 40  # a few blocks


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repository]:
    root = tmp_path / "repo"
    root.mkdir()
    create_layout(root)
    opened = Repository.open(root)
    yield opened
    opened.close()


def stored(repo: Repository, data: bytes = DATA) -> FlatEntry:
    with repo.blocks.transaction() as txn:
        writer = repo.objects.content_writer(txn)
        writer.write(data)
        content_id, size = writer.finish()
    return FlatEntry(MODE_FILE, content_id, size)


def everything_under(root: Path) -> set[str]:
    """Every path under ``root`` but ``.cof``, relative, as ``ls -aR`` would list."""
    found = set()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".cof"]
        for name in dirnames + filenames:
            found.add(Path(dirpath, name).relative_to(root).as_posix())
    return found


class TempSpy:
    """Records where ``_write_regular`` writes, and the notes in ``.cof/tmp`` then."""

    def __init__(self, repo: Repository, monkeypatch: pytest.MonkeyPatch) -> None:
        self.temps: list[Path] = []
        self.notes: list[dict[str, bytes]] = []
        real = materialize._write_regular

        def spying(*args: object) -> None:
            tmp = args[1]
            assert isinstance(tmp, Path)
            self.temps.append(tmp)
            self.notes.append(
                {p.name: p.read_bytes() for p in repo.temp_dir.iterdir() if p.suffix == ".beside"}
            )
            real(*args)  # type: ignore[arg-type]

        monkeypatch.setattr(materialize, "_write_regular", spying)


def test_temp_names() -> None:
    temps = [".cof-123-4.tmp", ".big.bin.cof-123.tmp", ".a b.cof-1.tmp"]  # now, before
    others = ["cof-123-4.tmp", ".cof-123.tmp", ".cof-12a-4.tmp", ".a.cof-1.tmp~", "n.tmp"]
    assert [name for name in temps + others if is_write_temp(name)] == temps


def test_a_file_is_written_through_cof_tmp(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = TempSpy(repo, monkeypatch)
    materialize.write_entry(repo, "dir/f.bin", stored(repo))
    assert [t.parent for t in spy.temps] == [repo.temp_dir]
    assert (repo.root / "dir" / "f.bin").read_bytes() == DATA
    assert everything_under(repo.root) == {"dir", "dir/f.bin"}
    assert list(repo.temp_dir.iterdir()) == []


def test_on_another_file_system_the_temp_is_beside_and_noted(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A directory of the working tree on another device than ``.cof``: the temp
    goes beside the file, and a note names it for as long as it exists."""
    monkeypatch.setattr(materialize, "_temp_device", lambda repo: -1)
    spy = TempSpy(repo, monkeypatch)
    materialize.write_entry(repo, "dir/f.bin", stored(repo))
    [tmp] = spy.temps
    assert tmp.parent == repo.root / "dir" and is_write_temp(tmp.name)
    [notes] = spy.notes
    assert list(notes.values()) == [f"dir/{tmp.name}".encode()]
    assert (repo.root / "dir" / "f.bin").read_bytes() == DATA
    assert everything_under(repo.root) == {"dir", "dir/f.bin"}
    assert list(repo.temp_dir.iterdir()) == []


def test_a_rename_refused_across_mounts_is_written_again_beside(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same device, yet rename fails with EXDEV (a bind mount): the file is written
    again beside its destination, and progress counts its bytes once."""
    real = os.rename

    def no_crossing(src: Path, dst: Path) -> None:
        if Path(src).parent == repo.temp_dir:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real(src, dst)

    monkeypatch.setattr(os, "rename", no_crossing)
    spy = TempSpy(repo, monkeypatch)
    reported: list[int] = []
    materialize.write_entry(repo, "f.bin", stored(repo), reported.append)
    assert [t.parent for t in spy.temps] == [repo.temp_dir, repo.root]
    assert sum(reported) == len(DATA)
    assert (repo.root / "f.bin").read_bytes() == DATA
    assert everything_under(repo.root) == {"f.bin"}
    assert list(repo.temp_dir.iterdir()) == []


def test_opening_removes_what_killed_writes_left(tmp_path: Path) -> None:
    """Everything in ``.cof/tmp`` goes, and each noted temp beside a working file,
    but only one with a temp file's name inside the working tree."""
    root = tmp_path / "repo"
    outside = tmp_path / "outside"
    for directory in (root / "sub", outside):
        directory.mkdir(parents=True)
    create_layout(root)
    (root / "link").symlink_to(outside)
    temp_dir = root / ".cof" / "tmp"
    (temp_dir / "77-1").write_bytes(b"half a file")
    (temp_dir / "77-2").symlink_to("half a symlink")
    notes = {
        "77-3": "sub/.cof-77-3.tmp",  # removed
        "77-4": "precious.txt",  # not a temp file's name
        "77-5": "../outside/.cof-77-5.tmp",  # outside the working tree
        "77-6": "link/.cof-77-6.tmp",  # through a symlink to outside
    }
    for number, rel in notes.items():
        (temp_dir / f"{number}.beside").write_text(rel)
        (root / rel).write_bytes(b"x")
    Repository.open(root).close()
    assert list(temp_dir.iterdir()) == []
    assert not (root / notes["77-3"]).exists()
    for number in ("77-4", "77-5", "77-6"):
        assert (root / notes[number]).read_bytes() == b"x"


def test_opening_a_repository_made_before_cof_tmp_creates_it(tmp_path: Path) -> None:
    create_layout(tmp_path)
    (tmp_path / ".cof" / "tmp").rmdir()
    repo = Repository.open(tmp_path)
    try:
        materialize.write_entry(repo, "f.bin", stored(repo))
        assert (tmp_path / "f.bin").read_bytes() == DATA
        assert (tmp_path / ".cof" / "tmp").is_dir()
    finally:
        repo.close()


def test_the_walk_skips_untracked_temp_files(tmp_path: Path) -> None:
    """Neither status nor add lists a temp file a kill left beside a working file,
    unless it is tracked (committed by an older cof, say)."""
    for rel in ("a.bin", ".a.bin.cof-12.tmp", "d/.cof-12-3.tmp", "d/b", ".t.cof-9.tmp"):
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    rules = IgnoreRules(tmp_path)
    found = {f.path for f in walk(tmp_path, rules, {"d"}, {".t.cof-9.tmp"})}
    assert found == {"a.bin", "d/b", ".t.cof-9.tmp"}
    (tmp_path / ".cofignore").write_text("*.log\n")  # the walk's other branch
    found = {f.path for f in walk(tmp_path, IgnoreRules(tmp_path), {"d"}, set())}
    assert found == {"a.bin", "d/b", ".cofignore"}
    assert rules.is_ignored("d/.cof-12-3.tmp", False)
