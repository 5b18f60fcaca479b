"""``cof restore``."""

from __future__ import annotations

import click

from cofctl.runner import call
from protocol.quoting import wire_paths


@click.command("restore")
@click.argument("paths", nargs=-1, required=True)
@click.option("-s", "--source", help="Restore from this revision instead of the staging area.")
@click.option("-S", "--staged", is_flag=True, help="Restore the staging area (from HEAD).")
@click.option(
    "-W",
    "--worktree",
    is_flag=True,
    help="Restore the working tree (the default; with --staged, both).",
)
def command(paths: tuple[str, ...], source: str | None, staged: bool, worktree: bool) -> None:
    """Restore files in the working tree or the staging area."""
    call(
        "restore",
        {"paths": wire_paths(paths), "source": source, "staged": staged, "worktree": worktree},
    )
