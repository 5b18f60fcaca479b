"""``cof checkout``."""

from __future__ import annotations

from typing import Any

import click

from cofctl.dashdash import DashDashCommand, after_dashdash
from cofctl.runner import call
from cofctl.status_text import tracking_lines
from cofctl.textfmt import short, upstream_set_line


@click.command("checkout", cls=DashDashCommand)
@click.argument("args", nargs=-1)
@click.option("-b", "new_branch", help="Create branch NEW_BRANCH and switch to it.")
@click.option("-f", "--force", is_flag=True, help="Discard local changes in the way.")
@click.option("--detach", is_flag=True, help="Detach HEAD at the named commit (default: HEAD).")
@click.option("--ours", "side", flag_value="ours", help="Check out our side of conflicts.")
@click.option("--theirs", "side", flag_value="theirs", help="Check out their side.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
def command(
    args: tuple[str, ...],
    new_branch: str | None,
    force: bool,
    detach: bool,
    side: str | None,
    quiet: bool,
) -> None:
    """Switch branches or commits ('-': the previous one), or restore PATHS (after --)
    from the index or REV."""
    target, paths = _split(args, after_dashdash())
    if side:
        if not paths and target:
            paths, target = [target], None
        call("checkout", {"paths": paths, "side": side})
        return
    if paths:
        call("checkout", {"paths": paths, "rev": target})
        return
    result = call(
        "checkout", {"target": target, "new_branch": new_branch, "force": force, "detach": detach}
    )
    if not quiet:
        report(result)


def report(result: dict[str, Any]) -> None:
    """git's messages: where HEAD went on stderr, the upstream's state on stdout (for
    ``switch`` too: a detached HEAD left behind, a branch reset by ``-C``)."""
    previous = result.get("previous")
    if previous:
        click.echo(
            f"Previous HEAD position was {short(previous['commit'])} {previous['summary']}",
            err=True,
        )
    if result.get("reset"):
        verb = "Reset branch" if result.get("current") else "Switched to and reset branch"
        click.echo(f"{verb} '{result['branch']}'", err=True)
    elif result.get("already"):
        click.echo(f"Already on '{result['branch']}'", err=True)
    elif result.get("created"):
        if result.get("upstream"):
            click.echo(upstream_set_line(result["branch"], result["upstream"]))
        click.echo(f"Switched to a new branch '{result['branch']}'", err=True)
    elif result.get("detached"):
        click.echo(f"HEAD is now at {short(result['commit'])} {result['summary']}", err=True)
    elif result.get("branch"):
        click.echo(f"Switched to branch '{result['branch']}'", err=True)
    for line in tracking_lines(result.get("tracking")):  # as git: stdout, existing branches
        click.echo(line)


def _split(args: tuple[str, ...], after: list[str] | None) -> tuple[str | None, list[str]]:
    """``REV -- PATHS`` / ``-- PATHS`` / ``REV PATHS`` / ``TARGET``."""
    if after is None:
        if len(args) > 1:
            return args[0], list(args[1:])
        return (args[0] if args else None), []
    if len(args) > 1:
        raise click.UsageError("only one revision may come before --")
    if not after:
        raise click.UsageError("no paths after --")
    return (args[0] if args else None), after
