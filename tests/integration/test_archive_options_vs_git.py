"""Differential tests: ``cof archive``'s compression levels, commit stamps and tree
arguments against ``git archive`` (2.39).

git commits at the second cof did (``GIT_COMMITTER_DATE``), so the archives can be
compared on bytes: a zip must be git's byte for byte but for its comment, the commit's
id (64 digits in cof, 40 in git), which is how git lays out members, picks stored or
deflated per file, sets the text bit and dates members (the MS-DOS time in local time:
both run in a time zone that is not UTC, half an hour off the hour, the daemon started
in it). A tar starts with git's pax global header, from which ``git get-tar-commit-id``
reads cof's id; a tar.gz is zlib's gzip stream of the tar at the level given, with the
header git's built-in gzip writes. A tree (``REV:DIR``, ``REV^{tree}``) carries no id
and is dated the time it is archived, as in git.
"""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import tarfile
import time
import zipfile
import zlib

from tests.integration.conftest import CofSandbox
from tests.integration.gitpair import GitPair
from tests.integration.test_archive_vs_git import archive_both, tar_members
from tests.integration.test_merge_conflicts import apply

TZ = "XST-9:30"  # UTC+09:30 in POSIX form: no zone file needed
FILES = {
    "comp": b"hello, archive " * 80_000,  # 1.2 MB: read twice, deflated
    "noise": random.Random(5).randbytes(1_100_000),  # read twice, stored (deflate grows it)
    "small": b"hi\n" * 100,
    "tiny-noise": random.Random(6).randbytes(300),  # stored
    "bin": b"\0" * 5000,  # deflated, no text bit
    "empty": b"",
    "c:d/x": b"colon\n",
    "d/e/f": b"f\n",
    "run": b"#!/bin/sh\n",
    "\u00e9t\u00e9": b"x\n",
}
EOCD_COMMENT_LENGTH = 2  # the comment's length field ends the end record


def zip_parts(data: bytes, id_digits: int) -> tuple[bytes, bytes]:
    """(the zip up to its comment's length field, its comment of ``id_digits``)."""
    assert int.from_bytes(data[-id_digits - EOCD_COMMENT_LENGTH : -id_digits], "little") == (
        id_digits
    )
    return data[: -id_digits - EOCD_COMMENT_LENGTH], data[-id_digits:]


def ut_mtimes(data: bytes) -> set[int]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {int.from_bytes(i.extra[5:9], "little") for i in archive.infolist()}


def test_archive_levels_commit_ids_and_trees_as_git(sandbox: CofSandbox) -> None:
    sandbox.env["TZ"] = TZ  # before the daemon starts: its local time is the one used
    pair = GitPair(sandbox, "z")
    pair.git_env["TZ"] = TZ
    apply(pair, FILES)
    for root in (pair.git_root, pair.cof_root):
        os.chmod(root / "run", 0o755)
        os.symlink("d/e/f", root / "link")
    pair.both(["add", "-A"])
    pair.cof("commit", "-q", "-m", "one")
    shown = json.loads(pair.cof("show", "--json", "HEAD").stdout)
    cof_id, when = shown["id"], shown["commit_time"]
    pair.git_env["GIT_COMMITTER_DATE"] = f"@{when} +0000"
    pair.git("commit", "-q", "-m", "one")
    git_id = pair.git("rev-parse", "HEAD").stdout.strip()

    for level in ([], ["-0"]):
        git, cof = archive_both(pair, "--format=zip", *level, "HEAD")
        git_body, git_comment = zip_parts(git, 40)
        cof_body, cof_comment = zip_parts(cof, 64)
        assert cof_body == git_body, level
        assert (git_comment, cof_comment) == (git_id.encode(), cof_id.encode())
    assert all(
        i.compress_type == zipfile.ZIP_STORED for i in zipfile.ZipFile(io.BytesIO(cof)).infolist()
    )

    git_tar, cof_tar = archive_both(pair, "HEAD")
    read_id = subprocess.run(
        ["git", "get-tar-commit-id"], input=cof_tar, capture_output=True, check=True
    )
    assert read_id.stdout == f"{cof_id}\n".encode()
    # The global header block is git's but for the records' size and the checksum.
    size_and_sum = [*range(124, 136), *range(148, 156)]
    masked = [
        bytes(b for i, b in enumerate(t[:512]) if i not in size_and_sum) for t in (git_tar, cof_tar)
    ]
    assert masked[0] == masked[1]
    assert tar_members(cof_tar, when) == tar_members(git_tar, when)

    git, cof = archive_both(pair, "--format=tar.gz", "-1", "HEAD")
    assert cof[:10] == git[:10]  # time 0, the level's XFL, OS Unix
    gzip_1 = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    assert cof == gzip_1.compress(cof_tar) + gzip_1.flush()

    before = int(time.time())
    git, cof = archive_both(pair, "--format=zip", "HEAD:c:d")  # REV:PATH at the first colon
    git_tree_tar, cof_tree_tar = archive_both(pair, "HEAD^{tree}")
    after = time.time()
    with zipfile.ZipFile(io.BytesIO(git)) as g, zipfile.ZipFile(io.BytesIO(cof)) as c:
        assert (c.comment, [(i.filename, c.read(i)) for i in c.infolist()]) == (
            g.comment,
            [(i.filename, g.read(i)) for i in g.infolist()],
        )
    assert all(before <= t <= after for t in ut_mtimes(cof))
    for data in (git_tree_tar, cof_tree_tar):
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            assert tar.pax_headers == {}  # no commit, no global header
            assert all(before <= m.mtime <= after for m in tar.getmembers())
    assert [m[:3] + m[4:] for m in tar_members(cof_tree_tar, 0)] == [
        m[:3] + m[4:] for m in tar_members(git_tree_tar, 0)
    ]

    for bad in (["-0", "HEAD"], ["--format=zip", "-10", "HEAD"]):  # plain tar takes no level
        git_run, cof_run = pair.both_bytes(["archive", *bad])
        assert git_run.returncode != 0 and cof_run.returncode != 0, bad
        assert cof_run.stdout == b"" and len(cof_run.stderr.splitlines()) == 1, cof_run.stderr
