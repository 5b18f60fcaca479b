"""Peer keys in URLs, ``--key`` and remotes.toml: low-order X25519 points are refused
when parsed (no handshake could use them), with a one-line usage error."""

from __future__ import annotations

from pathlib import Path

import pytest

from cofd.sync.registry import load_remote_config, parse_key, parse_url
from protocol.errors import ConfigError, UsageError
from protocol.peer.crypto import Identity

ZERO = "00" * 32
ONE = "01" + "00" * 31


@pytest.mark.parametrize("key", [ZERO, ONE, "ec" + "ff" * 30 + "7f"])
def test_low_order_keys_are_refused(key: str) -> None:
    with pytest.raises(UsageError, match=f"peer key {key} is not a valid X25519 public key"):
        parse_key(key)
    with pytest.raises(UsageError, match="is not a valid X25519 public key"):
        parse_url(f"cof://{key}@127.0.0.1:47911/proj")


def test_real_keys_still_parse() -> None:
    key = Identity.generate().public
    assert parse_key(key.hex().upper()) == key
    url = parse_url(f"cof://{key.hex()}@host:1234/proj")
    assert (url.host, url.port, url.name, url.key) == ("host", 1234, "proj", key)
    assert parse_url("cof://host/proj").key is None


def test_a_low_order_key_in_remotes_toml_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "remotes.toml").write_text(
        f'[remote.z]\nurl = "cof://host/x"\nkey = "{ZERO}"\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"remote\.z: peer key 0+ is not a valid X25519"):
        load_remote_config(tmp_path)
