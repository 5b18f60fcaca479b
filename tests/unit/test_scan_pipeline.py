"""The pipelined reader (add) and the serial one (status) must name content alike."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cofd.ops import scan
from cofd.ops.repository import Repository, create_layout

MiB = 1024 * 1024


@pytest.mark.parametrize(
    "size", [8 * MiB, 8 * MiB + 1, 8 * MiB + 4095, 12 * MiB + 17, 9 * MiB + 4096]
)
def test_pipelined_and_serial_reads_agree(tmp_path: Path, size: int) -> None:
    create_layout(tmp_path)
    repo = Repository.open(tmp_path)
    try:
        data = os.urandom(size)
        (tmp_path / "f.bin").write_bytes(data)
        assert size >= scan.PIPELINE_MIN_BYTES
        with repo.blocks.transaction() as txn:
            stored = scan.read_content(repo.objects, txn, tmp_path, "f.bin")
        hashed = scan.read_content(repo.objects, None, tmp_path, "f.bin")
        assert (stored.id, stored.size) == (hashed.id, hashed.size) == (stored.id, size)
        assert b"".join(repo.objects.iter_content(stored.id, size)) == data
    finally:
        repo.close()


def test_pipelined_read_failure_stops_the_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_layout(tmp_path)
    repo = Repository.open(tmp_path)
    try:
        (tmp_path / "f.bin").write_bytes(os.urandom(16 * MiB))

        def failing_read(fd: int, n: int) -> bytes:
            raise OSError(5, "Input/output error")

        monkeypatch.setattr(scan.os, "read", failing_read)
        with pytest.raises(Exception, match="Input/output error"), repo.blocks.transaction() as txn:
            scan.read_content(repo.objects, txn, tmp_path, "f.bin")
        assert repo.blocks.stats().blocks == 0  # rolled back, nothing stored
    finally:
        repo.close()
