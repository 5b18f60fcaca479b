"""``cof cherry-pick``."""

from __future__ import annotations

import click

from cofctl.pick_text import check_action, report, run_options
from cofctl.runner import call


@click.command("cherry-pick")
@click.argument("rev", required=False)
@click.option("-x", "x", is_flag=True, help="Name the picked commit in the message.")
@run_options
def command(
    rev: str | None, x: bool, no_commit: bool, mainline: int | None, cont: bool, abort: bool
) -> None:
    """Apply the change REV made onto HEAD and commit it with REV's message and author
    (stops on conflicts: resolve, 'cof add', then --continue; or --abort)."""
    check_action(rev, cont, abort)
    params = {
        "rev": rev,
        "x": x,
        "no_commit": no_commit,
        "mainline": mainline,
        "continue": cont,
        "abort": abort,
    }
    report(call("cherry-pick", params), "cherry-pick", "apply")
