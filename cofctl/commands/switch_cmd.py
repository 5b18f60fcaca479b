"""``cof switch``."""

from __future__ import annotations

from typing import Any

import click

from cofctl.runner import call
from cofctl.status_text import tracking_lines
from cofctl.textfmt import short, upstream_set_line


@click.command("switch")
@click.argument("args", nargs=-1)
@click.option("-c", "--create", "create", metavar="NEW", help="Create branch NEW and switch to it.")
@click.option(
    "-C", "--force-create", "force_create", metavar="NEW", help="As -c, resetting NEW if it exists."
)
@click.option("-d", "--detach", is_flag=True, help="Detach HEAD at the commit (default: HEAD).")
@click.option(
    "-f", "--force", "--discard-changes", "force", is_flag=True, help="Discard local changes."
)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
def command(
    args: tuple[str, ...],
    create: str | None,
    force_create: str | None,
    detach: bool,
    force: bool,
    quiet: bool,
) -> None:
    """Switch to branch BRANCH ('-': the previous one), or create one (-c NEW [START]),
    or detach HEAD at a commit (--detach [REV])."""
    if len(args) > 1:
        raise click.UsageError("only one reference expected")
    if create and force_create:
        raise click.UsageError("-c and -C are mutually exclusive")
    if detach and (create or force_create):
        raise click.UsageError("'--detach' cannot be used with '-c/-C'")
    params = {
        "target": args[0] if args else None,
        "create": create or force_create,
        "force_create": bool(force_create),
        "detach": detach,
        "force": force,
    }
    result = call("switch", params)
    if not quiet:
        _report(result)


def _report(result: dict[str, Any]) -> None:
    """git's messages: where HEAD went on stderr, the upstream's state on stdout."""
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
