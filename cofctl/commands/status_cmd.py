"""``cof status``: git's long format, or ``--porcelain`` (git's v1 short format)."""

from __future__ import annotations

import click

from cofctl.render import emit_json, json_option
from cofctl.runner import call
from cofctl.status_text import render


@click.command("status")
@click.argument("paths", nargs=-1)
@click.option("--porcelain", is_flag=True, help="git's stable short format (v1).")
@click.option("-s", "--short", "short_format", is_flag=True, help="Short format.")
@click.option(
    "-b", "--branch", "show_branch", is_flag=True, help="With -s or --porcelain: branch line."
)
@json_option
def command(
    paths: tuple[str, ...], porcelain: bool, short_format: bool, show_branch: bool, as_json: bool
) -> None:
    """Show staged, unstaged and untracked changes."""
    result = call("status", {"paths": list(paths)}, progress=False)
    if as_json:
        emit_json(result)
    else:
        click.echo(render(result, porcelain, short_format, show_branch), nl=False)
