"""``cof merge``."""

from __future__ import annotations

import click

from cofctl.runner import call
from cofctl.textfmt import short

EXIT_CONFLICTS = 1  # as git: the merge stopped and needs resolution


@click.command("merge")
@click.argument("rev", required=False)
@click.option("--no-ff", is_flag=True, help="Always create a merge commit.")
@click.option("-m", "--message", help="The merge commit's message.")
@click.option("--abort", is_flag=True, help="Abandon a conflicted merge.")
@click.option("--continue", "cont", is_flag=True, help="Commit a resolved merge.")
@click.option(
    "--allow-unrelated-histories",
    "unrelated",
    is_flag=True,
    help="Merge histories that share no commit.",
)
def command(
    rev: str | None, no_ff: bool, message: str | None, abort: bool, cont: bool, unrelated: bool
) -> None:
    """Join another branch's history into the current branch."""
    if sum((bool(rev), abort, cont)) != 1:
        raise click.UsageError("give a revision, or --abort, or --continue")
    result = call(
        "merge",
        {
            "rev": rev,
            "no_ff": no_ff,
            "message": message,
            "abort": abort,
            "continue": cont,
            "allow_unrelated": unrelated,
        },
    )
    if result.get("aborted"):
        return
    if result.get("up_to_date"):
        click.echo("Already up to date.")
    elif result.get("fast_forward"):
        old, new = result.get("from"), result.get("to") or result.get("commit", "")
        if old:
            click.echo(f"Updating {short(old)}..{short(new)}")
        click.echo("Fast-forward")
    elif result.get("merged"):
        click.echo(f"Merge made by the 'three-way' strategy: {short(result['commit'])}")
    else:
        for conflict in result["conflicts"]:
            click.echo(conflict["message"])
        click.echo("Automatic merge failed; fix conflicts and then commit the result.")
        raise SystemExit(EXIT_CONFLICTS)
