"""``cof reset``."""

from __future__ import annotations

import click

from cofctl.dashdash import DashDashCommand, after_dashdash
from cofctl.runner import call
from cofctl.textfmt import short
from protocol.quoting import wire_paths


@click.command("reset", cls=DashDashCommand)
@click.argument("args", nargs=-1)
@click.option("--soft", "mode", flag_value="soft", help="Move the branch only.")
@click.option(
    "--mixed", "mode", flag_value="mixed", help="Also reset the staging area (the default)."
)
@click.option(
    "--hard",
    "mode",
    flag_value="hard",
    help="Also reset the working tree, discarding changes to tracked files.",
)
@click.option(
    "--merge",
    "mode",
    flag_value="merge",
    help="Reset the staged files and theirs in the working tree, keeping other local "
    "changes; refuse if a reset file has unstaged ones.",
)
@click.option(
    "--keep",
    "mode",
    flag_value="keep",
    help="Update only the files that differ from REV, keeping local changes; refuse "
    "if one of those has any.",
)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
def command(args: tuple[str, ...], mode: str | None, quiet: bool) -> None:
    """Move the current branch to REV (default HEAD), resetting the staging area (and
    with --hard, --merge or --keep the working tree); or, given PATHS, unstage them
    (back to REV's)."""
    dashed = after_dashdash()
    paths = None if dashed is None else wire_paths(dashed)
    result = call("reset", {"args": wire_paths(args), "paths": paths, "mode": mode})
    if quiet:
        return
    if result["unstaged"]:
        click.echo("Unstaged changes after reset:")
        for code, path in result["unstaged"]:
            click.echo(f"{code}\t{path}")
    if result["mode"] == "hard" and result["commit"]:
        click.echo(f"HEAD is now at {short(result['commit'])} {result['summary']}")
