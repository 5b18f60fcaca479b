"""Configuration: defaults, layer precedence, format keys, validation messages, round trip."""

from __future__ import annotations

import asyncio
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from cofd.config import (
    CompressionConfig,
    Config,
    CoreConfig,
    GcConfig,
    NetworkConfig,
    load_config,
    repo_config_text,
)
from cofd.daemon.repos import RepositoryCache
from cofd.ops.repository import Repository, create_layout
from protocol.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_defaults_equal_the_design_card() -> None:
    config = load_config()
    assert config.core == CoreConfig(block_size=4096, hash_algorithm="blake3", cache_size_mb=256)
    assert config.compression == CompressionConfig(
        warm_threshold=10, cold_threshold=100, warm_level=3, cold_level=19
    )
    assert config.network == NetworkConfig(
        protocol="udp", packet_size=1400, timeout_ms=5000, max_retries=3
    )
    assert config.gc == GcConfig(auto_gc=True, unreachable_days=30)
    assert (config.user.name, config.user.email) == ("", "")


def test_missing_files_mean_defaults(tmp_path: Path) -> None:
    config = load_config(tmp_path / "nope.toml", tmp_path / "none.toml", {})
    assert config == Config()


def test_precedence_user_then_repo_then_env(tmp_path: Path) -> None:
    user = write(
        tmp_path / "user.toml",
        "[core]\ncache_size_mb = 10\nblock_size = 8192\n"
        '[network]\ntimeout_ms = 111\n[user]\nname = "U"\nemail = "u@x"\n',
    )
    repo = write(
        tmp_path / "repo.toml", "[core]\ncache_size_mb = 20\n[network]\ntimeout_ms = 222\n"
    )
    env = {"COF_NETWORK_TIMEOUT_MS": "333", "COF_AUTHOR_NAME": "E", "COF_HOME": "/ignored"}

    only_user = load_config(None, user, {})
    assert only_user.core.cache_size_mb == 10
    assert only_user.network.timeout_ms == 111

    both = load_config(repo, user, {})
    assert both.core.cache_size_mb == 20  # repo beats user
    assert both.network.timeout_ms == 222
    assert both.compression == CompressionConfig()  # keys neither file sets: defaults

    everything = load_config(repo, user, env)
    assert everything.network.timeout_ms == 333  # env beats repo
    assert everything.core.cache_size_mb == 20
    assert everything.user.name == "E"  # COF_AUTHOR_NAME beats [user] name
    assert everything.user.email == "u@x"


def test_env_bool_and_int_coercion() -> None:
    config = load_config(env={"COF_GC_AUTO_GC": "off", "COF_CORE_CACHE_SIZE_MB": "64"})
    assert config.gc.auto_gc is False
    assert config.core.cache_size_mb == 64


def test_bad_env_value_names_the_environment() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(env={"COF_CORE_CACHE_SIZE_MB": "lots"})
    assert str(info.value).startswith("environment: core.cache_size_mb: expected ")


SHAPE = re.compile(r"^(?P<file>.+?): (?P<section>[a-z_]+)\.(?P<key>[a-z_]+): expected .+")


@pytest.mark.parametrize(
    ("text", "section", "key"),
    [
        ("[core]\nblock_size = 4095\n", "core", "block_size"),
        ("[core]\nblock_size = 131072\n", "core", "block_size"),
        ('[core]\nblock_size = "4096"\n', "core", "block_size"),
        ('[core]\nhash_algorithm = "sha1"\n', "core", "hash_algorithm"),
        ("[core]\ncache_size_mb = 0\n", "core", "cache_size_mb"),
        ("[compression]\nwarm_level = 23\n", "compression", "warm_level"),
        ("[compression]\ncold_threshold = -1\n", "compression", "cold_threshold"),
        ("[compression]\nwarm_threshold = true\n", "compression", "warm_threshold"),
        ('[network]\nprotocol = "tcp"\n', "network", "protocol"),
        ("[network]\npacket_size = 9000\n", "network", "packet_size"),
        ("[network]\nmax_retries = 1.5\n", "network", "max_retries"),
        ('[gc]\nauto_gc = "yes"\n', "gc", "auto_gc"),
        ("[gc]\nunreachable_days = 1\nauto_gc = 1\n", "gc", "auto_gc"),
        ("[gc]\nauto_gc_min_new_blocks = 0\n", "gc", "auto_gc_min_new_blocks"),
        ("[gc]\nauto_gc_quiet_seconds = -1\n", "gc", "auto_gc_quiet_seconds"),
        ("[user]\nname = 5\n", "user", "name"),
    ],
)
def test_wrong_types_and_ranges_are_shaped(
    tmp_path: Path, text: str, section: str, key: str
) -> None:
    path = write(tmp_path / "config.toml", text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    match = SHAPE.match(message)
    assert match is not None, message
    assert match["file"] == str(path)
    assert (match["section"], match["key"]) == (section, key)


@pytest.mark.parametrize("pages", [512, 65537, "1024"])
def test_listing_page_blocks_is_bounded(tmp_path: Path, pages: object) -> None:
    """Below 1024 ids a page, or above the served-ids memory's reach (65 536)."""
    value = f'"{pages}"' if isinstance(pages, str) else pages
    user = write(tmp_path / "user.toml", f"[peer]\nlisting_page_blocks = {value}\n")
    with pytest.raises(ConfigError, match=r"peer\.listing_page_blocks: expected"):
        load_config(None, user)
    ok = write(tmp_path / "ok.toml", "[peer]\nlisting_page_blocks = 1024\n")
    assert load_config(None, ok).peer.listing_page_blocks == 1024


def test_unknown_key_is_shaped(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", "[core]\nblock_sise = 4096\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: core.block_sise: ")
    assert "expected one of block_size, hash_algorithm, cache_size_mb" in message


def test_unknown_section_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", "[colour]\nui = true\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: colour: ")
    assert "expected one of core, compression, network, gc, user" in message


def test_section_that_is_not_a_table(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", "core = 5\n")
    with pytest.raises(ConfigError, match=r": core: expected a table$"):
        load_config(path)


def test_error_in_user_file_names_the_user_file(tmp_path: Path) -> None:
    repo = write(tmp_path / "repo.toml", "[core]\ncache_size_mb = 20\n")
    user = write(tmp_path / "user.toml", "[core]\ncache_size_mb = -3\n")
    with pytest.raises(ConfigError) as info:
        load_config(repo, user)
    assert str(info.value).startswith(f"{user}: core.cache_size_mb: expected an integer")


def test_bad_toml(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", "[core\nblock_size = \n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: not valid TOML: ")


def test_unreadable_config_is_a_config_error(tmp_path: Path) -> None:
    directory = tmp_path / "config.toml"
    directory.mkdir()
    with pytest.raises(ConfigError, match=r"cannot read"):
        load_config(directory)


def test_cold_threshold_below_warm_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", "[compression]\nwarm_threshold = 50\ncold_threshold = 40\n")
    with pytest.raises(ConfigError, match="cold_threshold"):
        load_config(path)


REPO_KEYS = {
    "core": ("cache_size_mb",),
    "compression": ("warm_threshold", "cold_threshold", "warm_level", "cold_level"),
    "network": ("protocol", "packet_size", "timeout_ms", "max_retries"),
    "gc": ("auto_gc", "unreachable_days"),
}


def test_repo_config_text_pins_only_the_format_keys(tmp_path: Path) -> None:
    text = repo_config_text(load_config(env={"COF_CORE_BLOCK_SIZE": "8192"}))
    assert tomllib.loads(text) == {
        "core": {"block_size": 8192, "hash_algorithm": "blake3"},
        "compression": {},
        "network": {},
        "gc": {},
    }
    # Every other repository key is listed, commented out with its default.
    for section, keys in REPO_KEYS.items():
        assert f"\n[{section}]\n" in text
        for key in keys:
            assert re.search(rf"^# {key} = \S", text, re.MULTILINE), key
    assert "[user]" not in text and "[peer]" not in text
    assert load_config(write(tmp_path / "config.toml", text)).core.block_size == 8192


def test_repo_config_text_uncommented_is_the_defaults(tmp_path: Path) -> None:
    text = repo_config_text()
    uncommented = re.sub(r"(?m)^# (\w+ = )", r"\1", text)
    assert load_config(write(tmp_path / "config.toml", uncommented)) == Config()
    assert load_config(write(tmp_path / "plain.toml", text)) == Config()


def test_user_config_applies_to_a_new_repository(tmp_path: Path) -> None:
    user = write(
        tmp_path / "user.toml",
        "[compression]\nwarm_threshold = 0\ncold_threshold = 1\n"
        "[network]\ntimeout_ms = 400\n[gc]\nauto_gc = false\n[core]\ncache_size_mb = 7\n",
    )
    repo = write(tmp_path / "repo.toml", repo_config_text())
    config = load_config(repo, user, {})
    assert (config.compression.warm_threshold, config.compression.cold_threshold) == (0, 1)
    assert config.network.timeout_ms == 400
    assert config.gc.auto_gc is False
    assert config.core.cache_size_mb == 7
    # A key the repository sets beats the user's; the environment beats both.
    repo.write_text(repo.read_text().replace("# timeout_ms = 5000", "timeout_ms = 900"))
    assert load_config(repo, user, {}).network.timeout_ms == 900
    assert load_config(repo, user, {"COF_NETWORK_TIMEOUT_MS": "50"}).network.timeout_ms == 50


def test_old_repository_files_keep_their_explicit_values(tmp_path: Path) -> None:
    """Repositories created before format keys were pinned spell out every key."""
    old = (
        '[core]\nblock_size = 4096\nhash_algorithm = "blake3"\ncache_size_mb = 256\n'
        "[compression]\nwarm_threshold = 10\ncold_threshold = 100\n"
        "[network]\ntimeout_ms = 5000\n[gc]\nauto_gc = true\n"
    )
    repo = write(tmp_path / "repo.toml", old)
    user = write(tmp_path / "user.toml", "[network]\ntimeout_ms = 400\n[gc]\nauto_gc = false\n")
    config = load_config(repo, user, {})
    assert config.network.timeout_ms == 5000
    assert config.gc.auto_gc is True


def test_format_keys_come_from_the_repository_file_alone(tmp_path: Path) -> None:
    user = write(tmp_path / "user.toml", "[core]\nblock_size = 8192\ncache_size_mb = 9\n")
    env = {"COF_CORE_BLOCK_SIZE": "16384", "COF_CORE_CACHE_SIZE_MB": "11"}
    # Creating a repository (no repository file yet): every layer may set them.
    assert load_config(None, user, {}).core.block_size == 8192
    assert load_config(None, user, env).core.block_size == 16384
    # An existing repository: its file decides, absent meaning the default.
    pinned = write(tmp_path / "pinned.toml", "[core]\nblock_size = 2048\n")
    config = load_config(pinned, user, env)
    assert (config.core.block_size, config.core.cache_size_mb) == (2048, 11)
    silent = write(tmp_path / "silent.toml", "[gc]\nauto_gc = true\n")
    assert load_config(silent, user, env).core.block_size == 4096
    # The other layers are still validated.
    with pytest.raises(ConfigError, match=r"environment: core\.block_size: expected"):
        load_config(pinned, user, {"COF_CORE_BLOCK_SIZE": "1000"})


def test_repository_open_layers_user_config_and_environment(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    assert create_layout(root, load_config(env={"COF_CORE_BLOCK_SIZE": "8192"}))
    user = write(tmp_path / "user.toml", "[core]\ncache_size_mb = 3\nblock_size = 1024\n")
    repo = Repository.open(root, user, {"COF_CORE_BLOCK_SIZE": "65536"})
    try:
        assert repo.blocks.block_size == 8192  # pinned at creation
        assert repo.blocks.cache._capacity == 3 * 1024 * 1024  # the user's
    finally:
        repo.close()
    repo = Repository.open(root, user, {"COF_CORE_CACHE_SIZE_MB": "5"})
    try:
        assert repo.blocks.cache._capacity == 5 * 1024 * 1024  # environment beats user
    finally:
        repo.close()


def test_repository_cache_opens_with_the_daemons_home_and_environment(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    create_layout(root)
    write(tmp_path / "config.toml", "[core]\ncache_size_mb = 3\n")

    async def run_blocking(fn: Any, *args: Any) -> Any:
        return fn(*args)

    async def main(env: dict[str, str]) -> int:
        cache = RepositoryCache(run_blocking, home=tmp_path, env=env)
        try:
            return int((await cache.get(root)).repo.blocks.cache._capacity)
        finally:
            await cache.close_all()

    assert asyncio.run(main({})) == 3 * 1024 * 1024
    assert asyncio.run(main({"COF_CORE_CACHE_SIZE_MB": "4"})) == 4 * 1024 * 1024
