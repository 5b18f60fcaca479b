"""``cof pull [REMOTE] [BRANCH]``."""

from __future__ import annotations

import click

from cofctl.commands.fetch_cmd import print_fetch, refuse_rejected
from cofctl.commands.merge_cmd import stop_on_conflicts
from cofctl.render import emit_json, json_option
from cofctl.runner import call
from cofctl.textfmt import short


@click.command("pull")
@click.argument("remote", required=False)
@click.argument("branch", required=False)
@click.option(
    "--allow-unrelated-histories",
    "unrelated",
    is_flag=True,
    help="Merge a history that shares no commit with ours (as if from an empty base).",
)
@click.option("-q", "--quiet", is_flag=True, help="Print only conflicts and errors.")
@json_option
def command(
    remote: str | None, branch: str | None, unrelated: bool, quiet: bool, as_json: bool
) -> None:
    """Fetch from REMOTE and merge its BRANCH (default: the current branch's upstream,
    else origin and the current branch's name). As git's, nothing is merged when the
    fetch leaves a ref alone (a tag the remote moved: cof fetch --force takes it)."""
    # Two requests, as git's fetch + merge: the fetch runs beside readers of the
    # repository, only the merge excludes them.
    fetched = call("fetch", {"remote": remote}, progress=not quiet)
    if fetched["rejected"]:  # as git's pull: a failed fetch merges nothing
        if as_json:
            emit_json({"fetch": fetched, "merge": None})
        elif not quiet:
            print_fetch(fetched)
        refuse_rejected(fetched, pulling=True)
    merged = call(
        "merge_upstream",
        {"remote": remote, "branch": branch, "allow_unrelated": unrelated},
        progress=not quiet,
    )
    if as_json:
        emit_json({"fetch": fetched, "merge": merged})
        return
    if not quiet:
        print_fetch(fetched)
    stop_on_conflicts(merged)
    if quiet:
        return
    if merged.get("up_to_date"):
        click.echo("Already up to date.")
    elif merged.get("fast_forward"):
        click.echo(f"Fast-forward to {short(merged.get('to') or merged.get('commit', ''))}")
    else:
        click.echo(f"Merge made by the 'three-way' strategy: {short(merged['commit'])}")
