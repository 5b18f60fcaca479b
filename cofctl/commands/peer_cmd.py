"""``cof peer key | info | grant KEY SHARE --read|--write | revoke KEY SHARE``."""

from __future__ import annotations

import click

from cofctl.render import emit_json, json_option
from cofctl.runner import call


@click.group("peer")
def command() -> None:
    """This daemon's peer identity and the grants other daemons hold."""


@command.command("key")
def key_cmd() -> None:
    """Print this daemon's public key (give it to peers: cof remote add --key)."""
    click.echo(call("peer", {"action": "key"})["key"])


@command.command("info")
@json_option
def info_cmd(as_json: bool) -> None:
    """Key, listen address, shares and grants."""
    info = call("peer", {"action": "info"})
    if as_json:
        emit_json(info)
        return
    click.echo(f"key:    {info['key']}")
    click.echo(f"listen: {info['listen'] or '(not serving)'}")
    for share in info["shares"]:
        click.echo(f"share {share['name']}: {share['path']}")
        for grant in share["grants"]:
            click.echo(f"  {grant['right']:5} {grant['key']}")


@command.command("grant")
@click.argument("key")
@click.argument("share")
@click.option("--read", is_flag=True, help="List, fetch and clone.")
@click.option("--write", is_flag=True, help="Also push.")
def grant_cmd(key: str, share: str, read: bool, write: bool) -> None:
    """Give the peer with KEY read or write access to SHARE (a new grant replaces
    the old one)."""
    if read == write:  # neither, or both: which one was meant is a guess
        raise click.UsageError("give one of --read or --write")
    right = "write" if write else "read"
    call("peer", {"action": "grant", "key": key, "share": share, "right": right})


@command.command("revoke")
@click.argument("key")
@click.argument("share")
def revoke_cmd(key: str, share: str) -> None:
    """Remove the peer's access to SHARE."""
    call("peer", {"action": "revoke", "key": key, "share": share})
