"""Configuration: defaults, then user config, then repository config, then COF_* overrides.

Loaded once with ``tomllib`` into frozen dataclasses and passed down; nothing below
this module reads ``os.environ``: callers hand the environment in. A bad key or value
fails with ``file: key: what was expected``.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from protocol.errors import ConfigError


@dataclass(frozen=True, slots=True)
class CoreConfig:
    block_size: int = 4096
    hash_algorithm: str = "blake3"
    cache_size_mb: int = 256


@dataclass(frozen=True, slots=True)
class CompressionConfig:
    warm_threshold: int = 10
    cold_threshold: int = 100
    warm_level: int = 3
    cold_level: int = 19


@dataclass(frozen=True, slots=True)
class NetworkConfig:
    protocol: str = "udp"
    packet_size: int = 1400
    timeout_ms: int = 5000
    max_retries: int = 3


@dataclass(frozen=True, slots=True)
class GcConfig:
    auto_gc: bool = True
    unreachable_days: int = 30


@dataclass(frozen=True, slots=True)
class PeerServeConfig:
    """``[peer]`` (user config): where this daemon listens for peers (loopback by default)."""

    listen: str = "127.0.0.1:7420"


@dataclass(frozen=True, slots=True)
class UserConfig:
    name: str = ""
    email: str = ""


@dataclass(frozen=True, slots=True)
class Config:
    core: CoreConfig = field(default_factory=CoreConfig)
    compression: CompressionConfig = field(default_factory=CompressionConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    gc: GcConfig = field(default_factory=GcConfig)
    user: UserConfig = field(default_factory=UserConfig)
    peer: PeerServeConfig = field(default_factory=PeerServeConfig)


# Per-key validation: (predicate, what the user must supply). Keys absent here are
# unknown and rejected, so a typo never silently falls back to a default.
def _int_range(lo: int, hi: int) -> tuple[Any, str]:
    return (
        lambda v: isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi,
        f"an integer from {lo} to {hi}",
    )


def _power_of_two(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0 and v & (v - 1) == 0


_STR = (lambda v: isinstance(v, str), "a string")
_BOOL = (lambda v: isinstance(v, bool), "true or false")

_RULES: dict[str, dict[str, tuple[Any, str]]] = {
    "core": {
        # 1 KiB..64 KiB keeps a block within one RPC/UDP fragment budget.
        "block_size": (
            lambda v: _power_of_two(v) and 1024 <= v <= 65536,
            "a power of two from 1024 to 65536",
        ),
        "hash_algorithm": (lambda v: v == "blake3", '"blake3"'),
        "cache_size_mb": _int_range(1, 65536),
    },
    "compression": {
        "warm_threshold": _int_range(0, 1 << 30),
        "cold_threshold": _int_range(0, 1 << 30),
        "warm_level": _int_range(1, 22),
        "cold_level": _int_range(1, 22),
    },
    "network": {
        "protocol": (lambda v: v == "udp", '"udp"'),
        # Must hold a 34-byte header plus a useful payload, and stay under an MTU.
        "packet_size": _int_range(576, 1452),
        "timeout_ms": _int_range(10, 3_600_000),
        "max_retries": _int_range(0, 100),
    },
    "gc": {
        "auto_gc": _BOOL,
        "unreachable_days": _int_range(0, 36500),
    },
    "user": {"name": _STR, "email": _STR},
    # HOST:PORT (IPv6 as [ADDR]:PORT); port 0 picks a free port; "" disables serving.
    "peer": {"listen": _STR},
}

# COF_<SECTION>_<KEY> environment overrides, plus the git-like author variables.
_ENV_ALIASES = {"COF_AUTHOR_NAME": ("user", "name"), "COF_AUTHOR_EMAIL": ("user", "email")}


def read_toml(path: Path) -> dict[str, Any]:
    """The TOML file at ``path`` as a dict (empty when there is none); ConfigError when
    it cannot be read or parsed."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc


def _validate(source: str, data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for section, values in data.items():
        rules = _RULES.get(section)
        if rules is None:
            raise ConfigError(
                f"{source}: {section}: unknown section (expected one of {', '.join(_RULES)})"
            )
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: {section}: expected a table")
        for key, value in values.items():
            rule = rules.get(key)
            if rule is None:
                raise ConfigError(
                    f"{source}: {section}.{key}: unknown key (expected one of {', '.join(rules)})"
                )
            check, expected = rule
            if not check(value):
                raise ConfigError(f"{source}: {section}.{key}: expected {expected}, got {value!r}")
            out.setdefault(section, {})[key] = value
    return out


def _coerce_env(section: str, key: str, raw: str) -> Any:
    default = getattr(getattr(Config(), section), key)
    if isinstance(default, bool):
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        return raw
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            return raw
    return raw


def _env_layer(env: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    layer: dict[str, dict[str, Any]] = {}
    for name, value in env.items():
        if name in _ENV_ALIASES:
            section, key = _ENV_ALIASES[name]
        elif name.startswith("COF_") and name.count("_") >= 2:
            rest = name[4:].lower()
            section, _, key = rest.partition("_")
            if section not in _RULES or key not in _RULES[section]:
                continue  # COF_HOME and friends are not configuration keys
        else:
            continue
        layer.setdefault(section, {})[key] = _coerce_env(section, key, value)
    return layer


def load_config(
    repo_config: Path | None = None,
    user_config: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Config:
    """Merge the layers in precedence order and validate every value."""
    merged: dict[str, dict[str, Any]] = {}
    layers: list[tuple[str, Mapping[str, Any]]] = []
    if user_config is not None:
        layers.append((str(user_config), read_toml(user_config)))
    if repo_config is not None:
        layers.append((str(repo_config), read_toml(repo_config)))
    if env:
        layers.append(("environment", _env_layer(env)))
    for source, data in layers:
        for section, values in _validate(source, data).items():
            merged.setdefault(section, {}).update(values)
    config = Config(
        **{
            section: type(getattr(Config(), section))(**values)
            for section, values in merged.items()
        }
    )
    if config.compression.cold_threshold < config.compression.warm_threshold:
        raise ConfigError("compression.cold_threshold: expected a value >= warm_threshold")
    return config


def default_repo_config_text() -> str:
    """The config.toml written by ``cof init``: every repository key with its default."""
    lines: list[str] = []
    defaults = Config()
    for section in ("core", "compression", "network", "gc"):
        lines.append(f"[{section}]")
        for f in dataclasses.fields(getattr(defaults, section)):
            value = getattr(getattr(defaults, section), f.name)
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, str):
                text = f'"{value}"'
            else:
                text = str(value)
            lines.append(f"{f.name} = {text}")
        lines.append("")
    return "\n".join(lines)
