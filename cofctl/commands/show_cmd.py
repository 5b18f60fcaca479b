"""``cof show``: a commit (rendered beside ``log``, which shares the rendering), or,
for ``REV:PATH`` / ``:PATH``, a file's bytes from a commit or the staging area
(streamed to stdout, binary-safe) or a directory's listing, as git's ``show``."""

from __future__ import annotations

import click

from cofctl.commands.log_cmd import show_command
from cofctl.render import json_option
from cofctl.stream_out import (
    BrokenOutputError,
    call_streaming,
    quiet_exit_after_broken_pipe,
    stdout_writer,
)


@click.command("show")
@click.argument("rev", required=False)
@click.option("--stat", "stat_only", is_flag=True, help="Only the list of changed files.")
@json_option
@click.pass_context
def command(ctx: click.Context, rev: str | None, stat_only: bool, as_json: bool) -> None:
    """Show a commit (default HEAD): its message and what it changed.

    REV:PATH (or :PATH, the staging area's version) writes that file's bytes to
    stdout; for a directory, its names (subdirectories with a trailing /).
    """
    if rev is None or ":" not in rev:
        assert show_command.callback is not None
        show_command.callback(rev=rev, stat_only=stat_only, as_json=as_json)
        return
    try:
        result = call_streaming("show_blob", {"spec": rev}, stdout_writer())
    except BrokenOutputError:
        ctx.exit(quiet_exit_after_broken_pipe())
    if result["kind"] == "tree":
        click.echo("".join(f"{line}\n" for line in [f"tree {rev}", "", *result["names"]]), nl=False)
