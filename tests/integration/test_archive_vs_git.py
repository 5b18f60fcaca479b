"""Differential tests: ``cof archive`` against ``git archive`` of the same commit.

The archives are not byte-identical (each names its own commit's id, and the two
commits are a moment apart: test_archive_options_vs_git compares bytes); what must
agree here is what extracting them gives: member names and order, types, modes,
times (the commit's committer time), owners, link targets and bytes. A file of 3 MiB
travels through several Data frames of 1 MiB; memory stays bounded whatever the
file's size because the tar and zip writers read the file in the store's runs (up
to 1 MiB, one at a time) and write into a 1 MiB buffer in front of ``ctx.output``,
which waits for the socket to take each frame.
"""

from __future__ import annotations

import io
import json
import os
import random
import struct
import tarfile
import time
import zipfile
from pathlib import Path

from tests.integration.gitpair import GitPair
from tests.integration.test_merge_conflicts import apply, commit_both, pair

__all__ = ["pair"]  # a fixture, used by name

BIG = random.Random(11).randbytes(3 * 1024 * 1024 + 7)


def archive_both(pair: GitPair, *args: str, cwd: str = "") -> tuple[bytes, bytes]:
    git, cof = pair.both_bytes(["archive", *args], cwd=cwd)
    assert git.returncode == 0, git.stderr
    assert cof.returncode == 0, cof.stderr
    return git.stdout, cof.stdout


def commit_times(pair: GitPair) -> tuple[dict[str, int], dict[str, int]]:
    """HEAD's and HEAD~1's committer times in git and in cof: the two tools commit a
    moment apart, so each archive is checked against its own commit's time."""
    revs = ("HEAD", "HEAD~1")
    git = pair.git("log", "-2", "--format=%ct").stdout.split()
    cof = [json.loads(pair.cof("show", "--json", rev).stdout) for rev in revs]
    return (
        {rev: int(t) for rev, t in zip(revs, git, strict=True)},
        {rev: int(c["commit_time"]) for rev, c in zip(revs, cof, strict=True)},
    )


def tar_members(data: bytes, mtime: int, mode: str = "r:") -> list[tuple[object, ...]]:
    """Each member's fields; its time as whether it is ``mtime``."""
    with tarfile.open(fileobj=io.BytesIO(data), mode=mode) as tar:
        return [
            (m.name, m.type, oct(m.mode), m.mtime == mtime, m.uname, m.gname, m.uid, m.gid)
            + (m.linkname,)
            + ((tar.extractfile(m).read(),) if m.isfile() else ())  # type: ignore[union-attr]
            for m in tar.getmembers()
        ]


def zip_members(data: bytes, mtime: int) -> list[tuple[object, ...]]:
    """Each member's fields; its MS-DOS time (local) and its UTC time as whether they
    are ``mtime``."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [
            (
                i.filename,
                i.create_system,
                oct(i.external_attr),
                i.date_time == _dos_time(mtime),
                _ut_mtime(i.extra) == mtime,
                archive.read(i),
            )
            for i in archive.infolist()
        ]


def _dos_time(mtime: int) -> tuple[int, ...]:
    """``mtime`` as a zip's MS-DOS time holds it: local time, seconds rounded down to even."""
    local = time.localtime(mtime)
    return (*local[:5], local[5] // 2 * 2)


def _ut_mtime(extra: bytes) -> int | None:
    """The modification time in Info-ZIP's extended timestamp field, if there is one."""
    while len(extra) >= 4:
        tag, size = struct.unpack_from("<HH", extra)
        if tag == 0x5455:
            return int(struct.unpack_from("<I", extra, 5)[0])
        extra = extra[4 + size :]
    return None


def roots(pair: GitPair) -> tuple[Path, Path]:
    return pair.cof_root, pair.git_root


def test_archive_extracts_as_gits(pair: GitPair) -> None:
    apply(pair, {"big.bin": BIG, "a.txt": b"a\n", "d/e/f": b"f\n", "d/g": b"g", "sp ace": b""})
    apply(pair, {"run": b"#!/bin/sh\n", "\u00e9": b"\xff\x00"})
    for root in (pair.git_root, pair.cof_root):
        os.chmod(root / "run", 0o755)
        os.symlink("d/g", root / "link")
    commit_both(pair, "one")
    apply(pair, {"a.txt": b"two\n"})
    commit_both(pair, "two")

    git_at, cof_at = commit_times(pair)
    git, cof = archive_both(pair, "--prefix=P/", "HEAD~1")
    members = tar_members(cof, cof_at["HEAD~1"])
    assert members == tar_members(git, git_at["HEAD~1"])
    assert all(m[3] for m in members)
    assert any(m[0] == "P/big.bin" and m[-1] == BIG for m in members)
    git, cof = archive_both(pair, "--format=zip", "HEAD")
    members = zip_members(cof, cof_at["HEAD"])
    assert members == zip_members(git, git_at["HEAD"])
    assert all(m[3] and m[4] for m in members)
    git, cof = archive_both(pair, "--format=tar.gz", "HEAD", "d/e", "link")
    assert tar_members(cof, cof_at["HEAD"], "r:gz") == tar_members(git, git_at["HEAD"], "r:gz")
    git, cof = archive_both(pair, "HEAD", cwd="d")  # a subdirectory: only it
    assert tar_members(cof, cof_at["HEAD"]) == tar_members(git, git_at["HEAD"])

    # -o FILE: the format from its extension, as git.
    archive_both(pair, "-o", "out.zip", "--prefix=p", "main")
    archive_both(pair, "-o", "out.tgz", "--prefix=p", "main")
    cof_zip, git_zip = (root.joinpath("out.zip").read_bytes() for root in roots(pair))
    assert zip_members(cof_zip, cof_at["HEAD"]) == zip_members(git_zip, git_at["HEAD"])
    cof_tgz, git_tgz = (root.joinpath("out.tgz").read_bytes() for root in roots(pair))
    assert tar_members(cof_tgz, cof_at["HEAD"], "r:gz") == tar_members(
        git_tgz, git_at["HEAD"], "r:gz"
    )

    for bad in (["--format=rar", "HEAD"], ["nosuchrev"], ["HEAD", "nope"]):
        result = pair.sandbox.cof(
            "archive", "-o", "../bad.tar", *bad, cwd=pair.cof_root, check=False
        )
        assert result.returncode != 0 and len(result.stderr.splitlines()) == 1, result
        assert not (pair.cof_root.parent / "bad.tar").exists()
