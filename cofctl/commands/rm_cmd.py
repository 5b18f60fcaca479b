"""``cof rm``."""

from __future__ import annotations

import click

from cofctl.runner import call
from protocol.quoting import path_bytes, wire_paths


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
        "rm", {"paths": wire_paths(paths), "cached": cached, "force": force, "recursive": recursive}
    )
    if not quiet:
        # As git: the repository path between single quotes, raw (never quoted as
        # core.quotePath quotes names elsewhere), written as its bytes.
        click.echo(
            b"".join(b"rm '" + path_bytes(path) + b"'\n" for path in result["removed"]), nl=False
        )
