"""``config``: read and change settings, as ``git config`` does.

Two files hold settings: the user's ``COF_HOME/config.toml`` (``--global``) and the
repository's ``.cof/config.toml`` (``--local``, the default for changes inside a
repository); ``COF_<SECTION>_<KEY>`` variables override both and are shown, never
written. A read without a scope answers what the next command would use: the last
layer that sets the key wins, except the format keys of a repository, which only its
own file decides (see :mod:`cofd.config`). Keys nobody set take their documented
defaults and read as unset (exit 1), as in git.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cofd.config import (
    FORMAT_KEYS,
    REPO_SECTIONS,
    build_config,
    coerce_text,
    env_layer,
    parse_key,
    read_toml,
)
from cofd.config_edit import (
    Check,
    Setting,
    env_settings,
    file_settings,
    format_value,
    set_value,
    unset_value,
)
from cofd.ops.api import OpContext, find_repo_root, op
from cofd.ops.repository import COF_DIR
from protocol.errors import ConfigError, NotARepositoryError, UsageError

USER_FILE = "config.toml"
REPO_FILE = "config.toml"
# Read once, when the daemon starts (peer service) or opens the repository (cache):
# a change to them is told so, since the running daemon keeps the old value.
READ_AT_START = {
    ("peer", "listen"): "when the daemon restarts (cof daemon stop)",
    ("peer", "max_fetches"): "when the daemon restarts (cof daemon stop)",
    ("peer", "listing_page_blocks"): "when the daemon restarts (cof daemon stop)",
    ("core", "cache_size_mb"): "when the daemon next opens the repository (cof daemon stop)",
}
SCOPES = (None, "global", "local")


class _Files:
    """Where this request's settings live."""

    def __init__(self, ctx: OpContext, scope: str | None) -> None:
        self.env = ctx.env
        self.scope = scope
        self.user = ctx.home / USER_FILE
        try:
            self.root: Path | None = find_repo_root(ctx.cwd)
        except NotARepositoryError:
            if scope == "local":
                raise
            self.root = None
        self.repo = None if self.root is None else self.root / COF_DIR / REPO_FILE

    def settings(self) -> list[Setting]:
        """Every setting in scope, in the order they apply (later beats earlier)."""
        out: list[Setting] = []
        if self.scope != "local":
            out += file_settings(self.user, f"file:{self.user}")
        if self.scope != "global" and self.repo is not None:
            out += file_settings(self.repo, f"file:{COF_DIR}/{REPO_FILE}")
        if self.scope is None:
            out += env_settings(self.env)
        return out

    def target(self, section: str, key: str, name: str) -> Path:
        """The file a change to ``section.key`` goes to."""
        if self.scope == "global":
            return self.user
        if self.repo is None:
            raise NotARepositoryError(
                f"not in a cof repository: use --global to set {name} in {self.user}"
            )
        if section not in REPO_SECTIONS:
            raise ConfigError(f"{name} is a per-user setting: use --global")
        if (section, key) in FORMAT_KEYS:
            raise ConfigError(
                f"{name} is fixed when a repository is created (its blocks depend on it)"
            )
        return self.repo

    def check(self, target: Path) -> Check:
        """A validator of ``target``'s new contents together with the other layers."""

        def validate(layer: dict[str, Any]) -> None:
            user = layer if target == self.user else read_toml(self.user)
            repo: dict[str, Any] | None = None
            if self.repo is not None:
                repo = layer if target == self.repo else read_toml(self.repo)
            build_config(user, str(self.user), repo, str(self.repo), env_layer(self.env))

        return validate


def _show(setting: Setting) -> dict[str, str]:
    return {"name": setting.name, "value": format_value(setting.value), "origin": setting.origin}


@op("config", writes=False, needs_repo=False)
def config(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    action = params.get("action")
    scope = params.get("scope")
    if scope not in SCOPES:
        raise UsageError(f"unknown scope {scope!r}")
    files = _Files(ctx, scope)
    if action == "list":
        return {"settings": [_show(s) for s in files.settings()]}
    name = str(params.get("name") or "")
    section, key = parse_key(name)
    if action == "get":
        found = [s for s in files.settings() if (s.section, s.key) == (section, key)]
        if (section, key) in FORMAT_KEYS and files.repo is not None and scope is None:
            # The repository's own file alone decides these (cofd.config).
            found = [s for s in found if s.origin.startswith(f"file:{COF_DIR}")]
        return {"setting": _show(found[-1]) if found else None}
    if action == "set":
        target = files.target(section, key, name)
        value = coerce_text(section, key, str(params.get("value", "")))
        mode = 0o600 if target == files.user else 0o644
        set_value(target, section, key, value, files.check(target), mode)
        return {"file": str(target), "note": _note(section, key)}
    if action == "unset":
        target = files.target(section, key, name)
        removed = unset_value(target, section, key, files.check(target))
        return {"file": str(target), "removed": removed, "note": _note(section, key)}
    raise UsageError(f"unknown config action {action!r}")


def _note(section: str, key: str) -> str | None:
    when = READ_AT_START.get((section, key))
    return None if when is None else f"{section}.{key} takes effect {when}"
