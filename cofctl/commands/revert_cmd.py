"""``cof revert``."""

from __future__ import annotations

import click

from cofctl.pick_text import action_of, report, run_options
from cofctl.runner import call


@click.command("revert")
@click.argument("revs", nargs=-1)
@click.option("--no-edit", is_flag=True, help="Accepted for git's sake: cof never opens an editor.")
@run_options
def command(
    revs: tuple[str, ...],
    no_edit: bool,
    no_commit: bool,
    mainline: int | None,
    signoff: bool,
    cont: bool,
    skip: bool,
    abort: bool,
    quit: bool,
) -> None:
    """Commit the inverse of the changes the commits REVS made, each as 'Revert
    "<summary>"' (REV..., A..B, ^A B; a range newest first). A stop on conflicts:
    resolve, 'cof add', then --continue; or --skip, --abort, --quit."""
    params = {
        "revs": list(revs),
        "action": action_of(revs, cont=cont, skip=skip, abort=abort, quit=quit),
        "signoff": signoff,
        "no_commit": no_commit,
        "mainline": mainline,
    }
    report(call("revert", params))
