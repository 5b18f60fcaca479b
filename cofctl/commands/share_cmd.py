"""``cof share NAME | --list | --remove NAME``."""

from __future__ import annotations

import click

from cofctl.render import emit_json, json_option
from cofctl.runner import call


@click.command("share")
@click.argument("name", required=False)
@click.option("--list", "list_", is_flag=True, help="List shared repositories.")
@click.option("--remove", is_flag=True, help="Stop sharing NAME.")
@json_option
def command(name: str | None, list_: bool, remove: bool, as_json: bool) -> None:
    """Serve the current repository to granted peers as cof://HOST:PORT/NAME."""
    if remove and name is None:
        raise click.UsageError("--remove needs the NAME of the share to remove")
    if list_ and (remove or name is not None):
        raise click.UsageError("--list takes no NAME and no --remove")
    if list_ or name is None:
        shares = call("share", {"action": "list"})["shares"]
        if as_json:
            emit_json(shares)
        else:
            for share in shares:
                click.echo(f"{share['name']}\t{share['path']}\t{len(share['grants'])} grant(s)")
        return
    result = call("share", {"action": "remove" if remove else "add", "name": name})
    if as_json:
        emit_json(result)
    elif not remove:
        where = result.get("listen") or "(the daemon is not listening)"
        click.echo(f"Sharing {result['path']} as '{name}' on {where}")
