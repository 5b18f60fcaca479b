"""``cof merge``."""

from __future__ import annotations

from typing import Any

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
    help="Merge histories that share no commit (as if from an empty base).",
)
@click.option("-q", "--quiet", is_flag=True, help="Print only conflicts and errors.")
def command(
    rev: str | None,
    no_ff: bool,
    message: str | None,
    abort: bool,
    cont: bool,
    unrelated: bool,
    quiet: bool,
) -> None:
    """Join another branch's history into the current branch ('-': the previous
    branch)."""
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
    stop_on_conflicts(result)
    if not quiet:
        _report(result)


def stop_on_conflicts(result: dict[str, Any]) -> None:
    """A merge that stopped: its conflicts (even with -q, as git) and exit 1."""
    if result.get("up_to_date") or result.get("fast_forward") or result.get("merged"):
        return
    for conflict in result.get("conflicts", []):
        click.echo(conflict["message"])
    click.echo("Automatic merge failed; fix conflicts and then commit the result.")
    raise SystemExit(EXIT_CONFLICTS)


def _report(result: dict[str, Any]) -> None:
    if result.get("up_to_date"):
        click.echo("Already up to date.")
    elif result.get("fast_forward"):
        old, new = result.get("from"), result.get("to") or result.get("commit", "")
        if old:
            click.echo(f"Updating {short(old)}..{short(new)}")
        click.echo("Fast-forward")
    else:
        click.echo(f"Merge made by the 'three-way' strategy: {short(result['commit'])}")
