"""``cof rm``."""

from __future__ import annotations

import click

from cofctl.runner import call
from cofctl.textfmt import quote_path


@click.command("rm")
@click.argument("paths", nargs=-1, required=True)
@click.option("--cached", is_flag=True, help="Unstage only; keep the files on disk.")
@click.option("-f", "--force", is_flag=True, help="Remove even with local changes.")
@click.option("-r", "recursive", is_flag=True, help="Allow removing directories.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing.")
def command(
    paths: tuple[str, ...], cached: bool, force: bool, recursive: bool, quiet: bool
) -> None:
    """Remove files from the staging area (and, without --cached, from disk)."""
    result = call(
        "rm", {"paths": list(paths), "cached": cached, "force": force, "recursive": recursive}
    )
    if not quiet:
        for path in result["removed"]:
            click.echo(f"rm '{quote_path(path, quote_space=False)}'")
