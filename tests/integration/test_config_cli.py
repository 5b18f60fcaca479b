"""Configuration layers through the real CLI and daemon: the user config applies to
repositories created by ``cof init``, a repository's own setting beats it, and the
block size is fixed at init from the effective configuration."""

from __future__ import annotations

import json
import os
import re
import time
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conftest import CofSandbox

AUTHOR = {"COF_AUTHOR_NAME": "Tess Ter", "COF_AUTHOR_EMAIL": "tess@example.com"}
PINNED = {"block_size", "hash_algorithm"}


def write_user_config(sandbox: CofSandbox, text: str) -> None:
    sandbox.home.mkdir(parents=True, exist_ok=True)
    (sandbox.home / "config.toml").write_text(text)


def commit_file(sandbox: CofSandbox, repo: Path, data: bytes, name: str = "data.bin") -> None:
    (repo / name).write_bytes(data)
    sandbox.cof("add", name, cwd=repo)
    sandbox.cof("commit", "-q", "-m", name, cwd=repo)


def stats(sandbox: CofSandbox, repo: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(sandbox.cof("dedup-stats", "--json", cwd=repo).stdout)
    return result


def uncommented_keys(config: Path) -> set[str]:
    return set(re.findall(r"(?m)^(\w+) = ", config.read_text()))


def test_user_config_applies_to_new_repositories_unless_they_override_it(
    sandbox: CofSandbox,
) -> None:
    sandbox.env.update(AUTHOR)
    # A block moves once its age exceeds a threshold: one commit later, to cold.
    write_user_config(sandbox, "[compression]\nwarm_threshold = 0\ncold_threshold = 0\n")
    data = os.urandom(40_000)
    follows, overrides = sandbox.work / "follows", sandbox.work / "overrides"
    for repo in (follows, overrides):
        sandbox.cof("init", repo.name)
    config = overrides / ".cof" / "config.toml"
    text = config.read_text()
    for key in ("warm_threshold", "cold_threshold"):
        assert f"\n# {key} = " in text  # the default is listed, commented out
        text = re.sub(rf"(?m)^# {key} = \d+$", f"{key} = 1000000", text)
    config.write_text(text)

    for repo in (follows, overrides):
        commit_file(sandbox, repo, data)
        (repo / "next.bin").write_bytes(b"next")
        sandbox.cof("add", "next.bin", cwd=repo)
        sandbox.cof("commit", "-q", "-m", "next", cwd=repo)
        sandbox.cof("migrate", "--wait", cwd=repo)
    cold = stats(sandbox, follows)["tier_blocks"]
    assert cold.get("cold", 0) >= 10, cold  # the 10 data blocks of the first commit
    hot = stats(sandbox, overrides)["tier_blocks"]
    assert hot.get("cold", 0) == hot.get("warm", 0) == 0 and hot["hot"] >= 10, hot


def test_block_size_is_taken_from_the_user_config_at_init_and_then_fixed(
    sandbox: CofSandbox,
) -> None:
    sandbox.env.update(AUTHOR)
    write_user_config(sandbox, "[core]\nblock_size = 8192\n")
    data, one_block = os.urandom(64 * 1024), os.urandom(3000)
    big, small = sandbox.work / "big", sandbox.work / "small"
    sandbox.cof("init", big.name)
    # The environment of the init request beats the user config.
    sandbox.env["COF_CORE_BLOCK_SIZE"] = "4096"
    sandbox.cof("init", small.name)
    for repo in (big, small):
        commit_file(sandbox, repo, data)

    for repo, size in ((big, 8192), (small, 4096)):
        config = repo / ".cof" / "config.toml"
        parsed = tomllib.loads(config.read_text())
        assert parsed["core"] == {"block_size": size, "hash_algorithm": "blake3"}
        assert all(parsed[s] == {} for s in ("compression", "network", "gc")), parsed
        assert uncommented_keys(config) == PINNED
    # 64 KiB of random data: 8 data blocks of 8 KiB instead of 16 of 4 KiB.
    assert stats(sandbox, small)["blocks"] - stats(sandbox, big)["blocks"] == 8

    # Later settings, even in the environment the daemon starts with, do not change
    # the block size of an existing repository: its content still reads back (a
    # one-block file read with a smaller block size would be taken for a manifest).
    for repo in (big, small):
        commit_file(sandbox, repo, one_block, "small.bin")
    sandbox.stop_daemon()
    write_user_config(sandbox, "[core]\nblock_size = 2048\n")
    sandbox.env["COF_CORE_BLOCK_SIZE"] = "1024"
    for repo in (big, small):
        for name, content in (("data.bin", data), ("small.bin", one_block)):
            (repo / name).unlink()
            sandbox.cof("restore", "--source", "HEAD", name, cwd=repo)
            assert (repo / name).read_bytes() == content
        assert sandbox.cof("fsck", "--full", cwd=repo).stdout.strip().endswith("ok")


def test_an_edited_block_size_is_refused_not_misread(sandbox: CofSandbox) -> None:
    """The store records the block size its blocks were cut with: a config.toml edited
    to another one is a one-line config error (exit 6), and nothing is misread or
    written; putting it back makes the repository whole again."""
    sandbox.env.update(AUTHOR)
    repo = sandbox.work / "repo"
    sandbox.cof("init", repo)
    data = os.urandom(20_000)
    commit_file(sandbox, repo, data)
    config = repo / ".cof" / "config.toml"
    original = config.read_text()
    config.write_text(original.replace("block_size = 4096", "block_size = 8192"))
    sandbox.cof("daemon", "stop")
    refused = sandbox.cof("status", cwd=repo, check=False)
    assert refused.returncode == 6, refused.stderr
    assert "core.block_size: expected 4096" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    config.write_text(original)
    assert sandbox.cof("status", "--porcelain", cwd=repo).stdout == ""
    assert sandbox.cof("fsck", cwd=repo).returncode == 0
    assert (repo / "data.bin").read_bytes() == data


def test_background_migration_follows_the_daemons_environment(sandbox: CofSandbox) -> None:
    """The migration loop has no client: it uses the environment the daemon was started
    with, as the repository itself does (before, it ignored it)."""
    sandbox.env.update(AUTHOR)
    sandbox.env.update(COF_COMPRESSION_WARM_THRESHOLD="0", COF_COMPRESSION_COLD_THRESHOLD="0")
    repo = sandbox.work / "repo"
    sandbox.cof("init", repo)  # starts the daemon with this environment
    commit_file(sandbox, repo, os.urandom(40_000))
    commit_file(sandbox, repo, b"next", "next.bin")
    deadline = time.monotonic() + 30
    tiers: dict[str, int] = {}
    while time.monotonic() < deadline:
        tiers = stats(sandbox, repo)["tier_blocks"]
        if tiers.get("cold", 0) >= 10:
            break
        time.sleep(0.2)
    assert tiers.get("cold", 0) >= 10, tiers  # moved without `cof migrate`
