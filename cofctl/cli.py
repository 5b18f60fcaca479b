"""The ``cof`` / ``cofctl`` command line: the root group and error handling.

Adding commands: write ``cofctl/commands/<name>_cmd.py`` defining a module-level
``command`` (a ``click.Command`` or ``click.Group``; its name is the subcommand's
name), then add the module to :data:`COMMAND_MODULES` below. Nothing else changes.
A command parses its arguments, makes one RPC with ``cofctl.runner.call``, and
renders the result (``cofctl.render.json_option`` / ``emit_json`` for ``--json``).

Errors: a ``CofError`` escaping a command is printed as ``cof: <message>`` (one line,
on stderr) and the process exits with the error's ``exit_code``; Ctrl-C exits 130.
"""

from __future__ import annotations

from importlib import metadata
from types import ModuleType
from typing import Any

import click

from cofctl.commands import (
    add_cmd,
    branch_cmd,
    checkout_cmd,
    commit_cmd,
    daemon_cmd,
    dedup_stats_cmd,
    diff_cmd,
    init_cmd,
    log_cmd,
    merge_cmd,
    reflog_cmd,
    restore_cmd,
    rm_cmd,
    show_cmd,
    status_cmd,
    tag_cmd,
)
from protocol.errors import CofError

COMMAND_MODULES: tuple[ModuleType, ...] = (
    init_cmd,
    add_cmd,
    rm_cmd,
    status_cmd,
    commit_cmd,
    log_cmd,
    show_cmd,
    restore_cmd,
    branch_cmd,
    checkout_cmd,
    merge_cmd,
    tag_cmd,
    diff_cmd,
    reflog_cmd,
    dedup_stats_cmd,
    daemon_cmd,
)
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C


def _version() -> str:
    try:
        return metadata.version("cof")
    except metadata.PackageNotFoundError:
        return "unknown"


class CofGroup(click.Group):
    """A group that turns expected failures into one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CofError as exc:
            message = " ".join(exc.message.split()) or exc.code
            click.echo(f"cof: {message}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("cof: interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)


@click.group(cls=CofGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), "--version", prog_name="cof")
def main() -> None:
    """cof: version control for binary-heavy projects."""


for _module in COMMAND_MODULES:
    main.add_command(_module.command)
