"""Configuration: defaults, layer precedence, validation messages, round trip."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cofd.config import (
    CompressionConfig,
    Config,
    CoreConfig,
    GcConfig,
    NetworkConfig,
    default_repo_config_text,
    load_config,
)
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
    assert both.core.block_size == 8192  # keys the repo leaves alone stay the user's
    assert both.network.timeout_ms == 222

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


def test_default_repo_config_text_round_trips(tmp_path: Path) -> None:
    text = default_repo_config_text()
    path = write(tmp_path / "config.toml", text)
    assert load_config(path) == Config()
    # Every repository key is spelled out, so a user sees what they may change.
    for section in ("core", "compression", "network", "gc"):
        assert f"[{section}]" in text
    for key in ("block_size", "cold_level", "packet_size", "unreachable_days", "auto_gc"):
        assert re.search(rf"^{key} = ", text, re.MULTILINE)
    assert "[user]" not in text
