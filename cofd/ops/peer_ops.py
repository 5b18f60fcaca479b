"""``peer`` and ``share``: this daemon's identity, what it shares, and who may access it.

A share names a repository for peers (``cof://HOST:PORT/NAME``); a grant gives one
peer key ``read`` (list, fetch, clone) or ``write`` (also push) on one share. Both
live in ``COF_HOME/shares.toml``; the daemon reads them on every request, so changes
apply at once.
"""

from __future__ import annotations

from typing import Any

from cofd.ops.api import OpContext, find_repo_root, op
from cofd.sync.registry import (
    RIGHTS,
    Share,
    check_name,
    editing_shares,
    load_identity,
    load_shares,
    parse_key,
)
from protocol.errors import UsageError

LISTEN_FILE = "peer_listen"  # written by the daemon: the address it actually listens on


def _share_dict(share: Share) -> dict[str, Any]:
    return {
        "name": share.name,
        "path": str(share.path),
        "grants": [{"key": k, "right": v} for k, v in sorted(share.grants.items())],
    }


def listen_address(ctx: OpContext) -> str | None:
    try:
        return (ctx.home / LISTEN_FILE).read_text().strip() or None
    except FileNotFoundError:
        return None


@op("peer", writes=False, needs_repo=False)
def peer(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    action = params.get("action") or "info"
    if action == "key":
        return {"key": load_identity(ctx.home).public.hex()}
    if action == "info":
        shares = load_shares(ctx.home)
        return {
            "key": load_identity(ctx.home).public.hex(),
            "listen": listen_address(ctx),
            "shares": [_share_dict(shares[n]) for n in sorted(shares)],
        }
    key = parse_key(str(params.get("key") or "")).hex()
    name = check_name(str(params.get("share") or ""), "share")
    with editing_shares(ctx.home) as shares:
        share = shares.get(name)
        if share is None:
            raise UsageError(f"nothing is shared under '{name}' (see cof share --list)")
        if action == "grant":
            right = params.get("right")
            if right not in RIGHTS:
                raise UsageError("grant needs --read or --write")
            share.grants[key] = str(right)
        elif action == "revoke":
            if share.grants.pop(key, None) is None:
                raise UsageError(f"peer {key[:16]}… has no grant on '{name}'")
        else:
            raise UsageError(f"unknown peer action {action!r}")
        return _share_dict(share)


@op("share", writes=False, needs_repo=False)
def share(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    action = params.get("action") or "list"
    if action == "list":
        shares = load_shares(ctx.home)
        return {"shares": [_share_dict(shares[n]) for n in sorted(shares)]}
    name = check_name(str(params.get("name") or ""), "share")
    with editing_shares(ctx.home) as shares:
        if action == "remove":
            if shares.pop(name, None) is None:
                raise UsageError(f"nothing is shared under '{name}'")
            return {"removed": name}
        if action != "add":
            raise UsageError(f"unknown share action {action!r}")
        root = find_repo_root(ctx.cwd)
        for other in shares.values():
            if other.path == root and other.name != name:
                raise UsageError(f"this repository is already shared as '{other.name}'")
        existing = shares.get(name)
        if existing is not None and existing.path != root:
            raise UsageError(f"'{name}' already shares {existing.path}")
        shares[name] = existing or Share(name, root)
        return {**_share_dict(shares[name]), "listen": listen_address(ctx)}
