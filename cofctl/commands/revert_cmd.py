"""``cof revert``."""

from __future__ import annotations

import click

from cofctl.pick_text import check_action, report, run_options
from cofctl.runner import call


@click.command("revert")
@click.argument("rev", required=False)
@click.option("--no-edit", is_flag=True, help="Accepted for git's sake: cof never opens an editor.")
@run_options
def command(
    rev: str | None, no_edit: bool, no_commit: bool, mainline: int | None, cont: bool, abort: bool
) -> None:
    """Commit the inverse of the change REV made, as 'Revert "<summary>"' (stops on
    conflicts: resolve, 'cof add', then --continue; or --abort)."""
    check_action(rev, cont, abort)
    params = {
        "rev": rev,
        "no_commit": no_commit,
        "mainline": mainline,
        "continue": cont,
        "abort": abort,
    }
    report(call("revert", params), "revert", "revert")
