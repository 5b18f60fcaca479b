"""Configuration: defaults, then user config, then repository config, then COF_* overrides.

Loaded once with ``tomllib`` into frozen dataclasses and passed down; nothing below
this module reads ``os.environ``: callers hand the environment in. A bad key or value
fails with ``file: key: what was expected``.

Terms:
    format keys: ``[core] block_size`` and ``hash_algorithm``, which the store's
        content layout depends on. ``cof init`` takes them from the effective
        configuration and pins them in the repository's ``config.toml`` (a clone
        takes the origin's block size, which the peer protocol carries); from
        then on that file alone decides them, so a user config or environment set
        later cannot make the daemon read a repository with another block size.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from protocol.errors import ConfigError
from protocol.peer import limits


@dataclass(frozen=True, slots=True)
class CoreConfig:
    block_size: int = limits.DEFAULT_BLOCK_SIZE
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
    # git's gc.reflogExpire / gc.reflogExpireUnreachable: reflogs are gc roots, so
    # these bound how long a deleted branch or a replaced commit keeps its blocks.
    reflog_expire_days: int = 90
    reflog_expire_unreachable_days: int = 30
    # Auto gc is due once this many blocks were stored since the last gc (and the
    # store grew by half): git's gc.auto, counted in blocks (16384 = 64 MiB of 4 KiB).
    auto_gc_min_new_blocks: int = 16384
    # ... and runs once no command has touched the repository for this long, so it
    # does not hold the writer lock over a user's next command.
    auto_gc_quiet_seconds: int = 10


DEFAULT_MAX_FETCHES = 16
DEFAULT_LISTING_PAGE = 65_536


@dataclass(frozen=True, slots=True)
class PeerServeConfig:
    """``[peer]`` (user config): where this daemon listens for peers (loopback by default)."""

    listen: str = "127.0.0.1:7420"
    # Peers fetching (or cloning) from this daemon at once; each costs up to ~36 MiB
    # while its session lasts (docs/protocol.md, "Bounded memory"). Like git daemon's
    # --max-connections: one more is told to try again.
    max_fetches: int = DEFAULT_MAX_FETCHES
    # Block ids per page of a listing this daemon serves: one page is held per listing
    # session (65 536 ids: 2.1 MiB, and the bulk of its memory); fewer mean more round
    # trips (16 384 cost a 512 MiB clone 0.3-0.45 s). At most the default: a client
    # has a page plus 16 384 ids outstanding, which the served-ids memory must cover.
    listing_page_blocks: int = DEFAULT_LISTING_PAGE


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
            lambda v: _power_of_two(v) and limits.MIN_BLOCK_BYTES <= v <= limits.MAX_BLOCK_BYTES,
            f"a power of two from {limits.MIN_BLOCK_BYTES} to {limits.MAX_BLOCK_BYTES}",
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
        "reflog_expire_days": _int_range(0, 36500),
        "reflog_expire_unreachable_days": _int_range(0, 36500),
        "auto_gc_min_new_blocks": _int_range(1, 1 << 40),
        "auto_gc_quiet_seconds": _int_range(0, 86400),
    },
    "user": {"name": _STR, "email": _STR},
    # HOST:PORT (IPv6 as [ADDR]:PORT); port 0 picks a free port; "" disables serving.
    "peer": {
        "listen": _STR,
        "max_fetches": _int_range(1, 1024),
        "listing_page_blocks": _int_range(1024, DEFAULT_LISTING_PAGE),
    },
}

# Sections a repository's config.toml may set ([user] and [peer] are per user).
REPO_SECTIONS = ("core", "compression", "network", "gc")
# Fixed for a repository's life: blocks already stored were cut and named with them.
FORMAT_KEYS = (("core", "block_size"), ("core", "hash_algorithm"))

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


def coerce_text(section: str, key: str, raw: str) -> Any:
    """A setting given as text (an environment variable, ``cof config KEY VALUE``) as
    the type its default has: booleans as git spells them, integers in decimal; text
    that does not parse stays text, for validation to report."""
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


def env_key(name: str) -> tuple[str, str] | None:
    """The setting an environment variable overrides (``COF_CORE_CACHE_SIZE_MB``:
    ``("core", "cache_size_mb")``), or None for other variables (``COF_HOME``)."""
    if name in _ENV_ALIASES:
        return _ENV_ALIASES[name]
    if not name.startswith("COF_") or name.count("_") < 2:
        return None
    section, _, key = name[4:].lower().partition("_")
    if section not in _RULES or key not in _RULES[section]:
        return None
    return section, key


def env_layer(env: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    layer: dict[str, dict[str, Any]] = {}
    for name, value in env.items():
        setting = env_key(name)
        if setting is not None:
            section, key = setting
            layer.setdefault(section, {})[key] = coerce_text(section, key, value)
    return layer


def parse_key(name: str) -> tuple[str, str]:
    """``"section.key"`` as a known (section, key); ConfigError naming what exists."""
    section, dot, key = name.partition(".")
    if not dot or not section or not key:
        raise ConfigError(f"{name}: a key is SECTION.KEY (sections: {', '.join(_RULES)})")
    rules = _RULES.get(section)
    if rules is None:
        raise ConfigError(f"{name}: unknown section (expected one of {', '.join(_RULES)})")
    if key not in rules:
        raise ConfigError(f"{name}: unknown key (expected one of {', '.join(rules)})")
    return section, key


def load_config(
    repo_config: Path | None = None,
    user_config: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Config:
    """Merge the layers in precedence order and validate every value.

    With ``repo_config`` the format keys come from that file alone (their defaults
    when it leaves them out: what the repository was created with); without it
    (``cof init``, clone) every layer may set them.
    """
    user = {} if user_config is None else read_toml(user_config)
    repo = None if repo_config is None else read_toml(repo_config)
    return build_config(
        user, str(user_config), repo, str(repo_config), env_layer(env) if env else {}
    )


def build_config(
    user: Mapping[str, Any],
    user_source: str,
    repo: Mapping[str, Any] | None,
    repo_source: str,
    environment: Mapping[str, Any],
) -> Config:
    """:func:`load_config` over layers already read (``repo`` None: outside a
    repository); each ``*_source`` names its layer in error messages."""
    layers = [_validate(user_source, user)]
    if repo is not None:
        layers.append(_validate(repo_source, repo))
    layers.append(_validate("environment", environment))
    merged: dict[str, dict[str, Any]] = {}
    for layer in layers:
        for section, values in layer.items():
            merged.setdefault(section, {}).update(values)
    if repo is not None:
        for section, key in FORMAT_KEYS:
            default = getattr(getattr(Config(), section), key)
            merged.setdefault(section, {})[key] = layers[1].get(section, {}).get(key, default)
    config = Config(
        **{
            section: type(getattr(Config(), section))(**values)
            for section, values in merged.items()
        }
    )
    if config.compression.cold_threshold < config.compression.warm_threshold:
        raise ConfigError("compression.cold_threshold: expected a value >= warm_threshold")
    return config


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


_REPO_CONFIG_HEADER = """\
# cof repository configuration (see README.md, "Configuration").
# block_size and hash_algorithm were fixed when this repository was created: the
# stored blocks depend on them, so do not change them here.
# The other keys are commented out and show their defaults; a key set here beats
# COF_HOME/config.toml and is beaten by COF_<SECTION>_<KEY> environment variables.
"""


def repo_config_text(config: Config | None = None) -> str:
    """The config.toml written by ``cof init`` and clone.

    Args:
        config: the effective configuration at creation (defaults when None); its
            format keys are pinned, every other repository key is listed commented
            out with its default, so later user settings are not shadowed.
    """
    pinned = config if config is not None else Config()
    defaults = Config()
    lines = [_REPO_CONFIG_HEADER]
    for section in REPO_SECTIONS:
        lines.append(f"[{section}]")
        for f in dataclasses.fields(getattr(defaults, section)):
            if (section, f.name) in FORMAT_KEYS:
                value = getattr(getattr(pinned, section), f.name)
                lines.append(f"{f.name} = {_toml_value(value)}")
            else:
                value = getattr(getattr(defaults, section), f.name)
                lines.append(f"# {f.name} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)
