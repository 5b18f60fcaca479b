"""``cof clone cof://[KEY@]HOST[:PORT]/NAME [DIR] [--key KEY] [-b BRANCH|TAG]``."""

from __future__ import annotations

from typing import Any

import click

from cofctl.commands.fetch_cmd import print_transfer, refuse_rejected
from cofctl.render import emit_json, json_option
from cofctl.runner import call

# git's advice for a clone that checks out a tag (``detach_advice``), with cof's
# command: printed on stderr, ``-q`` or not, as git's.
DETACHED_NOTE = """\
Note: switching to '{commit}'.

You are in 'detached HEAD' state. You can look around, make experimental
changes and commit them, and you can discard any commits you make in this
state without impacting any branches by switching back to a branch.

If you want to create a new branch to retain commits you create, you may
do so (now or later) by using -b with the checkout command. Example:

  cof checkout -b <new-branch-name>
"""


@click.command("clone")
@click.argument("url")
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@click.option("--key", help="The serving daemon's public key (from 'cof peer key' there).")
@click.option(
    "-b",
    "--branch",
    help="Check out this branch instead of the one the remote's HEAD names (or this tag, "
    "with HEAD detached at its commit).",
)
@click.option("-q", "--quiet", is_flag=True, help="Print only errors and warnings.")
@json_option
def command(
    url: str,
    directory: str | None,
    key: str | None,
    branch: str | None,
    quiet: bool,
    as_json: bool,
) -> None:
    """Copy a shared repository from another daemon and check out its HEAD branch (or
    BRANCH), which then tracks origin/BRANCH; -b TAG checks out the tag's commit with
    no branch (a detached HEAD), as git.

    Re-running an interrupted clone into the same DIR transfers only what is missing.
    """
    params = {"url": url, "directory": directory, "key": key, "branch": branch}
    result = call("clone", params, progress=not quiet)
    if as_json:
        emit_json(result)
    else:
        _report(result, quiet)
    refuse_rejected(result["fetch"])


def _report(result: dict[str, Any], quiet: bool) -> None:
    if not quiet:
        verb = "Resumed cloning" if result["resumed"] else "Cloned"
        click.echo(f"{verb} into '{result['root']}'")
        print_transfer(result["fetch"])
    checkout = result["checkout"]
    if checkout is None:  # kept with -q, as git's empty-repository warning
        click.echo("warning: the remote has no branch to check out", err=True)
    elif checkout.get("detached"):
        click.echo(DETACHED_NOTE.format(commit=checkout["commit"]), err=True)
