"""``cof remote [list] | add NAME URL [--key KEY] | remove NAME | rename OLD NEW |
set-url NAME URL [--key KEY]``."""

from __future__ import annotations

import click

from cofctl.render import emit_json, json_option
from cofctl.runner import call


@click.group("remote", invoke_without_command=True)
@click.option("-v", "--verbose", is_flag=True, help="With no command: show URLs and keys.")
@click.pass_context
def command(ctx: click.Context, verbose: bool) -> None:
    """Manage the remotes of this repository (stored in .cof/remotes.toml)."""
    if ctx.invoked_subcommand is None:
        _print(call("remote", {"action": "list"})["remotes"], verbose=verbose)
    elif verbose:
        raise click.UsageError("-v goes with 'cof remote' alone or 'cof remote list -v'")


def _print(remotes: list[dict[str, str]], verbose: bool) -> None:
    for remote in remotes:
        click.echo(
            f"{remote['name']}\t{remote['url']}\t{remote['key']}" if verbose else remote["name"]
        )


@command.command("list")
@click.option("-v", "--verbose", is_flag=True, help="Show URL and key.")
@json_option
def list_cmd(verbose: bool, as_json: bool) -> None:
    """List remotes."""
    remotes = call("remote", {"action": "list"})["remotes"]
    if as_json:
        emit_json(remotes)
    else:
        _print(remotes, verbose)


@command.command("add")
@click.argument("name")
@click.argument("url")
@click.option("--key", help="The remote daemon's public key (unless in the URL).")
def add_cmd(name: str, url: str, key: str | None) -> None:
    """Add remote NAME at URL (cof://[KEY@]HOST[:PORT]/SHARE)."""
    call("remote", {"action": "add", "name": name, "url": url, "key": key})


@command.command("remove")
@click.argument("name")
def remove_cmd(name: str) -> None:
    """Remove remote NAME and its remote-tracking branches."""
    call("remote", {"action": "remove", "name": name})


@command.command("rename")
@click.argument("old")
@click.argument("new")
def rename_cmd(old: str, new: str) -> None:
    """Rename remote OLD to NEW.

    Its remote-tracking branches move to NEW/*, and branches that tracked OLD track NEW.
    """
    call("remote", {"action": "rename", "name": old, "new_name": new})


@command.command("set-url")
@click.argument("name")
@click.argument("url")
@click.option("--key", help="The remote daemon's public key (else the URL's, else the old one).")
def set_url_cmd(name: str, url: str, key: str | None) -> None:
    """Point remote NAME at URL (cof://[KEY@]HOST[:PORT]/SHARE)."""
    call("remote", {"action": "set-url", "name": name, "url": url, "key": key})
