"""gc and fsck through the real CLI and daemon in a repository with annotated tags:
tags are gc roots, their tag objects and the commits they name survive a prune."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.integration.treekit import commit, write

if TYPE_CHECKING:
    from conftest import CofRunner, CofSandbox

AUTHOR = {"COF_AUTHOR_NAME": "Tag Ger", "COF_AUTHOR_EMAIL": "tag@example.com"}


@pytest.fixture
def repo(sandbox: CofSandbox, cof: CofRunner) -> Path:
    sandbox.env.update(AUTHOR)
    cof("init")
    return sandbox.work


def write_random(path: Path, size: int) -> str:
    data = os.urandom(size)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def test_gc_keeps_what_only_tags_reach(repo: Path, cof: CofRunner) -> None:
    write(repo, "a.txt", "main\n")
    commit(cof, "main")
    # Commits only tags will reach: an annotated tag, and a lightweight one.
    cof("checkout", "-b", "side")
    digest = write_random(repo / "big.bin", 50_000)  # several blocks and a manifest
    tagged = commit(cof, "tagged")
    cof("tag", "-a", "t1", "-m", "annotated")
    write(repo, "light.txt", "light\n")
    light = commit(cof, "light")
    cof("tag", "t2")
    # A garbage commit no tag names: gc must delete it (the walk ran and swept).
    write_random(repo / "junk.bin", 40_000)
    commit(cof, "junk")
    cof("checkout", "main")
    cof("branch", "-D", "side")
    cof("reflog", "expire", "--expire-unreachable=now", "--all")

    before = cof("fsck")
    assert before.returncode == 0 and before.stdout.strip().endswith("ok"), before.stdout
    gc = json.loads(cof("gc", "--prune=now", "--json").stdout)
    assert gc["deleted_blocks"] >= 10, gc  # the junk commit's 40 000 random bytes

    after = cof("fsck", "--full", "--json")
    report = json.loads(after.stdout)
    assert after.returncode == 0 and report["ok"] and report["problems"] == [], report
    assert report["tags"] == 1

    # The tag object survived (show reads it), and so did its commit's blocks.
    shown = cof("show", "t1").stdout
    assert tagged in shown and "tagged" in shown, shown
    assert json.loads(cof("tag", "--json").stdout) == [
        {"name": "t1", "commit": tagged, "annotated": True},
        {"name": "t2", "commit": light, "annotated": False},
    ]
    assert not (repo / "big.bin").exists()
    cof("checkout", "t1", "--", "big.bin")
    assert hashlib.sha256((repo / "big.bin").read_bytes()).hexdigest() == digest
    cof("checkout", "t2", "--", "light.txt")
    assert (repo / "light.txt").read_text() == "light\n"
