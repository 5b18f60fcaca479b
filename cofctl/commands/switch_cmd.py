"""``cof switch``."""

from __future__ import annotations

import click

from cofctl.commands.checkout_cmd import report
from cofctl.runner import call


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
        report(result)
