"""``cof add``."""

from __future__ import annotations

import click

from cofctl.render import format_bytes
from cofctl.runner import call
from protocol.quoting import wire_paths


@click.command("add")
@click.argument("paths", nargs=-1)
@click.option(
    "-A",
    "--all",
    "add_all",
    is_flag=True,
    help="Stage every change in the working tree (new, modified, deleted).",
)
@click.option(
    "-u",
    "--update",
    is_flag=True,
    help="Stage modified and deleted tracked files only (under PATHs, if given).",
)
@click.option("-f", "--force", is_flag=True, help="Add files even if .cofignore ignores them.")
@click.option("-v", "--verbose", is_flag=True, help="Report what was stored.")
def command(
    paths: tuple[str, ...], add_all: bool, update: bool, force: bool, verbose: bool
) -> None:
    """Stage files: store their content and record them for the next commit."""
    params = {"paths": wire_paths(paths), "all": add_all, "update": update, "force": force}
    result = call("add", params)
    for repository in result.get("embedded", []):
        # git would record a gitlink (a submodule entry); cof has none, so the
        # repository and all inside it stay untracked. The name raw, as git's warning.
        click.echo(b"warning: not adding embedded repository: " + repository, err=True)
    if verbose:
        click.echo(
            f"added {result['added']}, modified {result['modified']}, removed "
            f"{result['removed']}; read {format_bytes(result['bytes_read'])}, stored "
            f"{result['new_blocks']} new blocks ({format_bytes(result['new_bytes'])})"
        )
