"""``cof push [REMOTE] [BRANCH] [--force]``."""

from __future__ import annotations

from typing import Any

import click

from cofctl.render import emit_json, format_bytes, json_option
from cofctl.runner import call
from cofctl.textfmt import short, upstream_set_line


@click.command("push")
@click.argument("remote", required=False)
@click.argument("branch", required=False)
@click.option("-f", "--force", is_flag=True, help="Allow a non-fast-forward update.")
@click.option(
    "-u", "--set-upstream", is_flag=True, help="Make BRANCH track REMOTE/BRANCH once pushed."
)
@click.option("-d", "--delete", is_flag=True, help="Delete BRANCH on REMOTE.")
@json_option
def command(
    remote: str | None,
    branch: str | None,
    force: bool,
    set_upstream: bool,
    delete: bool,
    as_json: bool,
) -> None:
    """Offer BRANCH (default: current) to REMOTE (default: the branch's upstream's, else
    origin); the remote daemon pulls what it lacks. With --delete, delete REMOTE's BRANCH."""
    if delete and (not branch or force or set_upstream):
        raise click.UsageError("usage: cof push REMOTE BRANCH --delete (no -f or -u)")
    params = {
        "remote": remote,
        "branch": branch,
        "force": force,
        "set_upstream": set_upstream,
        "delete": delete,
    }
    result = call("push", params)
    if as_json:
        emit_json(result)
        return
    if result.get("deleted"):
        click.echo(f"To {result['url']}")
        click.echo(f" - [deleted]         {result['branch']}")
        return
    if result.get("up_to_date"):
        click.echo("Everything up-to-date")
        _upstream_line(result)
        return
    click.echo(f"To {result['url']}")
    old = short(result["old"]) if result["old"] else "(new)"
    click.echo(f"  {old}..{short(result['new'])}  {result['branch']}")
    wire = result["wire"]
    click.echo(
        f"sent {format_bytes(wire['sent'])}, received {format_bytes(wire['received'])}", err=True
    )
    _upstream_line(result)


def _upstream_line(result: dict[str, Any]) -> None:
    if result.get("upstream_set"):
        click.echo(upstream_set_line(result["branch"], result["upstream_set"]))
