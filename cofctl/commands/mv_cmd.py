"""``cof mv``."""

from __future__ import annotations

import click

from cofctl.runner import call


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
    params = {"paths": list(paths), "force": force, "dry_run": dry_run, "skip_errors": skip_errors}
    result = call("mv", params)
    if dry_run:
        for src, dst in result["checked"]:
            click.echo(f"Checking rename of '{src}' to '{dst}'")
    if dry_run or verbose:
        for src, dst in result["moved"]:
            click.echo(f"Renaming {src} to {dst}")
