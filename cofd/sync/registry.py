"""Files that configure peer sync: identity, shares and grants (COF_HOME), remotes (repo).

- ``COF_HOME/peer_identity.key``: the daemon's raw 32-byte X25519 private key, mode 0600.
- ``COF_HOME/shares.toml``: ``[shares."NAME"]`` with ``path`` and a ``grants`` table
  mapping a peer's hex public key to ``"read"`` or ``"write"``.
- ``REPO/.cof/remotes.toml``: ``[remote."NAME"]`` with ``url`` and ``key`` (hex), and
  ``[branch."NAME"]`` with ``remote`` and ``merge``: the local branch's upstream, the
  branch ``merge`` of that remote (git's ``branch.NAME.remote`` / ``.merge``).

Writers take an flock next to the file and replace it atomically, so concurrent
``cof peer grant`` calls never lose an update and a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cofd.config import read_toml
from cofd.files import locked, write_atomic
from cofd.objects.refs import ref_name_problem
from protocol.errors import ConfigError, UsageError
from protocol.peer.crypto import Identity, is_valid_public_key

IDENTITY_FILE = "peer_identity.key"
SHARES_FILE = "shares.toml"
REMOTES_FILE = "remotes.toml"
DEFAULT_PORT = 7420
READ, WRITE = "read", "write"
RIGHTS = (READ, WRITE)
KEY_HEX_LEN = 64
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")  # share and remote names


# -- identity -----------------------------------------------------------------------


def load_identity(home: Path) -> Identity:
    """This daemon's identity, created (mode 0600, atomically) on first use."""
    path = home / IDENTITY_FILE
    with contextlib.suppress(FileNotFoundError):
        return _read_identity(path)
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    identity = Identity.generate()
    tmp = path.with_name(f"{IDENTITY_FILE}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, identity.private_bytes())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # fails if another process created it first: use theirs
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return _read_identity(path)


def _read_identity(path: Path) -> Identity:
    raw = path.read_bytes()
    if len(raw) != 32:
        raise ConfigError(f"{path}: expected a 32-byte private key, found {len(raw)} bytes")
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)
    return Identity.from_private_bytes(raw)


def parse_key(text: str) -> bytes:
    """A peer's public key from its 64 hex digits (what ``cof peer key`` prints).

    A low-order point (all zeros, for one) is refused: no handshake can use it.
    """
    text = text.strip().lower()
    if len(text) != KEY_HEX_LEN or not all(c in "0123456789abcdef" for c in text):
        raise UsageError(f"'{text[:80]}' is not a peer key (expected 64 hex digits)")
    key = bytes.fromhex(text)
    if not is_valid_public_key(key):
        raise UsageError(f"peer key {text} is not a valid X25519 public key (a low-order point)")
    return key


def check_name(name: str, what: str) -> str:
    if not _NAME.match(name):
        raise UsageError(
            f"'{name}' is not a valid {what} name "
            "(letters, digits, '.', '_', '-'; at most 128; not starting with a symbol)"
        )
    return name


# -- TOML files -------------------------------------------------------------------


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a TOML basic string


# -- shares ---------------------------------------------------------------------------


@dataclass(slots=True)
class Share:
    name: str
    path: Path
    grants: dict[str, str] = field(default_factory=dict)  # hex key -> "read" | "write"

    def allows(self, peer_key: bytes, right: str) -> bool:
        granted = self.grants.get(peer_key.hex())
        return granted == WRITE or (granted == READ and right == READ)


def load_shares(home: Path) -> dict[str, Share]:
    path = home / SHARES_FILE
    data = read_toml(path).get("shares", {})
    shares: dict[str, Share] = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: shares: expected a table")
    for name, entry in data.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise ConfigError(f"{path}: shares.{name}: expected a table with a path")
        grants = entry.get("grants", {})
        if not isinstance(grants, dict) or any(v not in RIGHTS for v in grants.values()):
            raise ConfigError(f"{path}: shares.{name}.grants: expected key = read|write")
        shares[name] = Share(name, Path(entry["path"]), dict(grants))
    return shares


def _dump_shares(shares: dict[str, Share]) -> str:
    lines = ["# cof shared repositories and peer grants (edit with cof share / cof peer)"]
    for name in sorted(shares):
        share = shares[name]
        lines += ["", f"[shares.{_quote(name)}]", f"path = {_quote(str(share.path))}"]
        lines.append(f"[shares.{_quote(name)}.grants]")
        lines += [f"{_quote(k)} = {_quote(v)}" for k, v in sorted(share.grants.items())]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def editing_shares(home: Path) -> Iterator[dict[str, Share]]:
    """Read-modify-write of the share registry under its lock."""
    path = home / SHARES_FILE
    with locked(path):
        shares = load_shares(home)
        yield shares
        write_atomic(path, _dump_shares(shares))


# -- remotes --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PeerUrl:
    host: str
    port: int
    name: str
    key: bytes | None = None

    def text(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"cof://{host}:{self.port}/{self.name}"


_URL = re.compile(
    r"^cof://(?:(?P<key>[0-9a-fA-F]{64})@)?(?P<host>\[[^\]]+\]|[^:/@\[\]]+)(?::(?P<port>\d{1,5}))?/(?P<name>[^/]+)/?$"
)


def parse_url(text: str) -> PeerUrl:
    """``cof://[KEYHEX@]HOST[:PORT]/NAME`` (port 7420 by default)."""
    match = _URL.match(text.strip())
    if match is None:
        raise UsageError(f"'{text}' is not a cof URL (expected cof://[KEY@]HOST[:PORT]/NAME)")
    port = int(match["port"] or DEFAULT_PORT)
    if not 0 < port < 65536:
        raise UsageError(f"'{text}': port out of range")
    key = parse_key(match["key"]) if match["key"] else None
    return PeerUrl(match["host"].strip("[]"), port, check_name(match["name"], "share"), key)


@dataclass(frozen=True, slots=True)
class Remote:
    name: str
    url: PeerUrl
    key: bytes

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "url": self.url.text(), "key": self.key.hex()}


@dataclass(frozen=True, slots=True)
class Upstream:
    """Where a local branch is pulled from and compared with: ``remote``'s ``branch``."""

    remote: str
    branch: str

    @property
    def tracking_ref(self) -> str:
        return f"refs/remotes/{self.remote}/{self.branch}"

    def text(self) -> str:
        return f"{self.remote}/{self.branch}"

    def to_dict(self) -> dict[str, str]:
        return {"remote": self.remote, "branch": self.branch, "ref": self.tracking_ref}


@dataclass(slots=True)
class RemoteConfig:
    """The contents of ``remotes.toml``: remotes by name, upstreams by local branch."""

    remotes: dict[str, Remote] = field(default_factory=dict)
    upstreams: dict[str, Upstream] = field(default_factory=dict)


def load_remote_config(cof_dir: Path) -> RemoteConfig:
    path = cof_dir / REMOTES_FILE
    data = read_toml(path)
    config = RemoteConfig()
    remotes, branches = data.get("remote", {}), data.get("branch", {})
    if not isinstance(remotes, dict) or not isinstance(branches, dict):
        raise ConfigError(f"{path}: remote and branch must be tables")
    for name, entry in remotes.items():
        try:
            check_name(name, "remote")
            config.remotes[name] = Remote(name, parse_url(entry["url"]), parse_key(entry["key"]))
        except (KeyError, TypeError, UsageError) as exc:
            raise ConfigError(f"{path}: remote.{name}: {exc}") from exc
    for name, entry in branches.items():
        table = entry if isinstance(entry, dict) else {}
        remote, merge = table.get("remote"), table.get("merge")
        if not isinstance(remote, str) or not isinstance(merge, str):
            raise ConfigError(f"{path}: branch.{name}: expected a table with remote and merge")
        problem = ref_name_problem(name) or ref_name_problem(merge)
        if problem is not None or _NAME.match(remote) is None:
            raise ConfigError(f"{path}: branch.{name}: not a valid upstream ({problem or remote})")
        config.upstreams[name] = Upstream(remote, merge)
    return config


def load_remotes(cof_dir: Path) -> dict[str, Remote]:
    return load_remote_config(cof_dir).remotes


def _dump_remote_config(config: RemoteConfig) -> str:
    lines = ["# cof remotes and upstreams (edit with cof remote, cof branch -u, cof push -u)"]
    for name in sorted(config.remotes):
        remote = config.remotes[name]
        lines += ["", f"[remote.{_quote(name)}]", f"url = {_quote(remote.url.text())}"]
        lines.append(f"key = {_quote(remote.key.hex())}")
    for name in sorted(config.upstreams):
        upstream = config.upstreams[name]
        lines += ["", f"[branch.{_quote(name)}]", f"remote = {_quote(upstream.remote)}"]
        lines.append(f"merge = {_quote(upstream.branch)}")
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def editing_remote_config(cof_dir: Path) -> Iterator[RemoteConfig]:
    """Read-modify-write of ``remotes.toml`` under its lock: concurrent edits (a
    ``cof push -u`` during a ``cof remote add``) never lose one another's update."""
    path = cof_dir / REMOTES_FILE
    with locked(path):
        config = load_remote_config(cof_dir)
        yield config
        write_atomic(path, _dump_remote_config(config))
