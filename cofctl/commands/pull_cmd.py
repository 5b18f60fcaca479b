"""``cof pull [REMOTE] [BRANCH]``."""

from __future__ import annotations

import click

from cofctl.commands.fetch_cmd import print_transfer
from cofctl.render import emit_json, json_option
from cofctl.runner import call
from cofctl.textfmt import short

EXIT_CONFLICTS = 1  # as cof merge


@click.command("pull")
@click.argument("remote", required=False)
@click.argument("branch", required=False)
@json_option
def command(remote: str | None, branch: str | None, as_json: bool) -> None:
    """Fetch from REMOTE and merge its BRANCH (default: the current branch's upstream,
    else origin and the current branch's name)."""
    # Two requests, as git's fetch + merge: the fetch runs beside readers of the
    # repository, only the merge excludes them.
    fetched = call("fetch", {"remote": remote})
    merged = call("merge_upstream", {"remote": remote, "branch": branch})
    if as_json:
        emit_json({"fetch": fetched, "merge": merged})
        return
    print_transfer(fetched)
    if merged.get("up_to_date"):
        click.echo("Already up to date.")
    elif merged.get("fast_forward"):
        click.echo(f"Fast-forward to {short(merged.get('to') or merged.get('commit', ''))}")
    elif merged.get("merged"):
        click.echo(f"Merge made by the 'three-way' strategy: {short(merged['commit'])}")
    else:
        for conflict in merged.get("conflicts", []):
            click.echo(conflict["message"])
        click.echo("Automatic merge failed; fix conflicts and then commit the result.")
        raise SystemExit(EXIT_CONFLICTS)
