"""``cof branch``."""

from __future__ import annotations

import click

from cofctl.render import emit_json, json_option
from cofctl.runner import call
from cofctl.textfmt import short


@click.command("branch")
@click.argument("name", required=False)
@click.argument("start", required=False)
@click.option("-d", "--delete", "delete", is_flag=True, help="Delete a merged branch.")
@click.option("-D", "force_delete", is_flag=True, help="Delete a branch even if unmerged.")
@click.option("-m", "--move", "move", is_flag=True, help="Rename branch NAME to START.")
@click.option("-f", "--force", is_flag=True, help="Reset NAME to START if it exists.")
@click.option("-v", "--verbose", is_flag=True, help="Show the commit of each branch.")
@click.option("-r", "--remotes", is_flag=True, help="List remote-tracking branches.")
@click.option("-a", "--all", "list_all", is_flag=True, help="List local and remote-tracking.")
@json_option
def command(
    name: str | None,
    start: str | None,
    delete: bool,
    force_delete: bool,
    move: bool,
    force: bool,
    verbose: bool,
    remotes: bool,
    list_all: bool,
    as_json: bool,
) -> None:
    """List branches, or create, delete (-d/-D) or rename (-m OLD NEW) one."""
    if (remotes or list_all) and (name or delete or force_delete or move):
        raise click.UsageError("-r and -a only list branches")
    if delete or force_delete:
        if not name:
            raise click.UsageError("branch name required")
        result = call("branch", {"action": "delete", "name": name, "force": force_delete})
        click.echo(f"Deleted branch {name} (was {short(result['commit'])}).")
        return
    if move:
        if not name or not start:
            raise click.UsageError("usage: cof branch -m OLD NEW")
        call("branch", {"action": "rename", "name": name, "new_name": start})
        return
    if name:
        call("branch", {"action": "create", "name": name, "start": start, "force": force})
        return
    which = "all" if list_all else "remote" if remotes else "local"
    result = call("branch", {"action": "list", "which": which})
    if as_json:
        emit_json(result)
        return
    if result["detached"] and result["head"] and not remotes:
        click.echo(f"* (HEAD detached at {short(result['head'])})")
    for b in result["branches"]:
        mark = "*" if b["current"] else " "
        # As git: -a shows remote-tracking branches as remotes/NAME, -r as NAME.
        shown = f"remotes/{b['name']}" if b["remote"] and list_all else b["name"]
        extra = f" {short(b['commit'])} {b['summary']}" if verbose else ""
        click.echo(f"{mark} {shown}{extra}")
