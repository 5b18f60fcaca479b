"""``cof push [REMOTE] [BRANCH] [--force]``."""

from __future__ import annotations

import click

from cofctl.render import emit_json, format_bytes, json_option
from cofctl.runner import call
from cofctl.textfmt import short


@click.command("push")
@click.argument("remote", required=False)
@click.argument("branch", required=False)
@click.option("-f", "--force", is_flag=True, help="Allow a non-fast-forward update.")
@json_option
def command(remote: str | None, branch: str | None, force: bool, as_json: bool) -> None:
    """Offer BRANCH (default: current) to REMOTE (default origin); it pulls what it lacks."""
    result = call("push", {"remote": remote, "branch": branch, "force": force})
    if as_json:
        emit_json(result)
        return
    if result.get("up_to_date"):
        click.echo("Everything up-to-date")
        return
    click.echo(f"To {result['url']}")
    old = short(result["old"]) if result["old"] else "(new)"
    click.echo(f"  {old}..{short(result['new'])}  {result['branch']}")
    wire = result["wire"]
    click.echo(
        f"sent {format_bytes(wire['sent'])}, received {format_bytes(wire['received'])}", err=True
    )
