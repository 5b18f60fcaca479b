"""``cof switch``."""

from __future__ import annotations

import click

from cofctl.commands.checkout_cmd import run_switch, tracking_options


@click.command("switch")
@click.argument("args", nargs=-1)
@click.option("-c", "--create", "create", metavar="NEW", help="Create branch NEW and switch to it.")
@click.option(
    "-C", "--force-create", "force_create", metavar="NEW", help="As -c, resetting NEW if it exists."
)
@click.option("--orphan", metavar="NEW", help="Switch to NEW, a branch with no commit and no file.")
@click.option("-d", "--detach", is_flag=True, help="Detach HEAD at the commit (default: HEAD).")
@click.option(
    "-f", "--force", "--discard-changes", "force", is_flag=True, help="Discard local changes."
)
@tracking_options
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
def command(
    args: tuple[str, ...],
    create: str | None,
    force_create: str | None,
    orphan: str | None,
    detach: bool,
    force: bool,
    merge: bool,
    guess: bool,
    track: bool | None,
    quiet: bool,
) -> None:
    """Switch to branch BRANCH ('-': the previous one), or create one (-c NEW [START]),
    or one with no commit yet (--orphan NEW), or detach HEAD at a commit (--detach
    [REV])."""
    if len(args) > 1:
        raise click.UsageError("only one reference expected")
    run_switch(
        "switch",
        args[0] if args else None,
        quiet,
        create=create,
        reset=force_create,
        orphan=orphan,
        detach=detach,
        force=force,
        merge=merge,
        track=track,
        guess=guess,
    )
