"""``cof diff``."""

from __future__ import annotations

import click

from cofctl.commands.log_cmd import binary_change, stat_lines
from cofctl.dashdash import DashDashCommand, after_dashdash
from cofctl.render import emit_json, json_option
from cofctl.runner import call
from cofctl.textfmt import quote_path
from protocol.quoting import wire_paths


@click.command("diff", cls=DashDashCommand)
@click.argument("revs", nargs=-1)
@click.option(
    "--cached",
    "--staged",
    "cached",
    is_flag=True,
    help="Compare the staging area with HEAD (or REV).",
)
@click.option("--stat", "stat", is_flag=True, help="Summarise changes per file.")
@click.option("--name-status", is_flag=True, help="Status letter and path per change.")
@click.option("--name-only", is_flag=True, help="Only the changed paths.")
@json_option
def command(
    revs: tuple[str, ...],
    cached: bool,
    stat: bool,
    name_status: bool,
    name_only: bool,
    as_json: bool,
) -> None:
    """Show changes between the working tree, the staging area and revisions."""
    mode = "name-status" if (name_status or name_only) else ("stat" if stat else "patch")
    result = call(
        "diff",
        {
            "revs": list(revs),
            "paths": wire_paths(after_dashdash() or []),
            "cached": cached,
            "mode": mode,
        },
    )
    if as_json:
        emit_json(result)
        return
    changes = result["changes"]
    if name_only:
        for c in changes:
            click.echo(quote_path(c["path"]))
    elif name_status:
        for c in changes:
            click.echo(f"{c['status']}\t{quote_path(c['path'])}")
    elif stat:
        for line in stat_lines(changes):
            click.echo(line)
    else:
        for change, patch in zip(changes, result["patches"], strict=True):
            if patch:
                click.echo(patch, nl=False)
            elif change.get("binary"):
                click.echo(
                    f"Binary file {quote_path(change['path'])} differs: {binary_change(change)}"
                )
