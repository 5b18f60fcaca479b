"""``cof mv``."""

from __future__ import annotations

import click

from cofctl.runner import call
from protocol.quoting import path_bytes, wire_paths


@click.command("mv")
@click.argument("paths", nargs=-1, required=True)
@click.option("-f", "--force", is_flag=True, help="Replace an existing destination file.")
@click.option("-n", "--dry-run", is_flag=True, help="Only show what would be renamed.")
@click.option("-k", "skip_errors", is_flag=True, help="Skip sources that cannot be moved.")
@click.option("-v", "--verbose", is_flag=True, help="Report each file renamed.")
def command(
    paths: tuple[str, ...], force: bool, dry_run: bool, skip_errors: bool, verbose: bool
) -> None:
    """Move or rename tracked files and directories: SOURCE DEST, or SOURCE... DIR."""
    params = {
        "paths": wire_paths(paths),
        "force": force,
        "dry_run": dry_run,
        "skip_errors": skip_errors,
    }
    result = call("mv", params)
    # As git: the names raw (never quoted), written as their bytes.
    lines = []
    if dry_run:
        for src, dst in result["checked"]:
            lines.append(b"Checking rename of '%s' to '%s'\n" % (path_bytes(src), path_bytes(dst)))
    if dry_run or verbose:
        for src, dst in result["moved"]:
            lines.append(b"Renaming %s to %s\n" % (path_bytes(src), path_bytes(dst)))
    click.echo(b"".join(lines), nl=False)
