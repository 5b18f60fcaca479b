"""``cof init [DIR]``."""

from __future__ import annotations

import click

from cofctl.runner import call


@click.command("init")
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
def command(directory: str | None, quiet: bool) -> None:
    """Create an empty repository in DIRECTORY (default: the current directory)."""
    result = call("init", {"path": directory})
    if quiet:
        return
    verb = "Initialized empty" if result["created"] else "Reinitialized existing"
    click.echo(f"{verb} cof repository in {result['root']}/.cof/")
