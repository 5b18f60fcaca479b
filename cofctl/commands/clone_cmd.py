"""``cof clone cof://[KEY@]HOST[:PORT]/NAME [DIR] [--key KEY]``."""

from __future__ import annotations

import click

from cofctl.commands.fetch_cmd import print_transfer
from cofctl.render import emit_json, json_option
from cofctl.runner import call


@click.command("clone")
@click.argument("url")
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@click.option("--key", help="The serving daemon's public key (from 'cof peer key' there).")
@click.option(
    "-b", "--branch", help="Check out this branch instead of the one the remote's HEAD names."
)
@click.option("-q", "--quiet", is_flag=True, help="Print only errors and warnings.")
@json_option
def command(
    url: str,
    directory: str | None,
    key: str | None,
    branch: str | None,
    quiet: bool,
    as_json: bool,
) -> None:
    """Copy a shared repository from another daemon and check out its HEAD branch (or
    BRANCH), which then tracks origin/BRANCH.

    Re-running an interrupted clone into the same DIR transfers only what is missing.
    """
    params = {"url": url, "directory": directory, "key": key, "branch": branch}
    result = call("clone", params, progress=not quiet)
    if as_json:
        emit_json(result)
        return
    if not quiet:
        verb = "Resumed cloning" if result["resumed"] else "Cloned"
        click.echo(f"{verb} into '{result['root']}'")
        print_transfer(result["fetch"])
    if result["checkout"] is None:  # kept with -q, as git's empty-repository warning
        click.echo("warning: the remote has no branch to check out", err=True)
