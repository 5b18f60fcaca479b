"""``cof cherry-pick``."""

from __future__ import annotations

import click

from cofctl.pick_text import action_of, report, run_options
from cofctl.runner import call


@click.command("cherry-pick")
@click.argument("revs", nargs=-1)
@click.option("-x", "x", is_flag=True, help="Name the picked commit in the message.")
@click.option("--allow-empty", is_flag=True, help="Commit a pick of a commit that changed nothing.")
@click.option(
    "--keep-redundant-commits", "keep_redundant", is_flag=True, help="Commit empty picks too."
)
@run_options
def command(
    revs: tuple[str, ...],
    x: bool,
    allow_empty: bool,
    keep_redundant: bool,
    no_commit: bool,
    mainline: int | None,
    signoff: bool,
    cont: bool,
    skip: bool,
    abort: bool,
    quit: bool,
) -> None:
    """Apply the changes the commits REVS made onto HEAD (REV..., A..B, ^A B; a range
    oldest first), committing each with its message and author. A stop (conflicts,
    an empty pick): resolve, 'cof add', then --continue; or --skip, --abort, --quit."""
    params = {
        "revs": list(revs),
        "action": action_of(revs, cont=cont, skip=skip, abort=abort, quit=quit),
        "x": x,
        "signoff": signoff,
        "allow_empty": allow_empty,
        "keep_redundant": keep_redundant,
        "no_commit": no_commit,
        "mainline": mainline,
    }
    report(call("cherry-pick", params))
