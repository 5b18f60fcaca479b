"""The ``cof`` / ``cofctl`` command line: the root group and error handling.

Adding commands: write ``cofctl/commands/<name>_cmd.py`` defining a module-level
``command`` (a ``click.Command`` or ``click.Group``; its name is the subcommand's
name), then map the command name to the module in :data:`COMMANDS` below (modules
are imported only when their command runs).
A command parses its arguments, makes one RPC with ``cofctl.runner.call``, and
renders the result (``cofctl.render.json_option`` / ``emit_json`` for ``--json``).

Errors: a ``CofError`` escaping a command is printed as ``cof: <message>`` (one line,
on stderr) and the process exits with the error's ``exit_code``; click's usage errors
are one line too (exit 2); Ctrl-C exits 130.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from protocol.errors import CofError

# Subcommand name -> module in cofctl.commands defining ``command``. Modules are
# imported only when their command runs: start-up time is part of every command's
# latency (``cof status`` must answer in well under 150 ms).
COMMANDS: dict[str, str] = {
    "init": "init_cmd",
    "add": "add_cmd",
    "rm": "rm_cmd",
    "status": "status_cmd",
    "commit": "commit_cmd",
    "log": "log_cmd",
    "show": "show_cmd",
    "restore": "restore_cmd",
    "reset": "reset_cmd",
    "mv": "mv_cmd",
    "clean": "clean_cmd",
    "branch": "branch_cmd",
    "checkout": "checkout_cmd",
    "switch": "switch_cmd",
    "cherry-pick": "cherry_pick_cmd",
    "revert": "revert_cmd",
    "merge": "merge_cmd",
    "stash": "stash_cmd",
    "tag": "tag_cmd",
    "diff": "diff_cmd",
    "reflog": "reflog_cmd",
    "dedup-stats": "dedup_stats_cmd",
    "migrate": "migrate_cmd",
    "gc": "gc_cmd",
    "fsck": "fsck_cmd",
    "daemon": "daemon_cmd",
    "clone": "clone_cmd",
    "fetch": "fetch_cmd",
    "pull": "pull_cmd",
    "push": "push_cmd",
    "remote": "remote_cmd",
    "peer": "peer_cmd",
    "share": "share_cmd",
    "config": "config_cmd",
    "rev-parse": "rev_parse_cmd",
    "ls-files": "ls_files_cmd",
    "ls-tree": "ls_tree_cmd",
    "archive": "archive_cmd",
}
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C
RESUMABLE_COMMANDS = frozenset({"clone", "fetch", "pull", "push"})  # stop early, keep what came


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from importlib import metadata

    try:
        version = metadata.version("cof")
    except metadata.PackageNotFoundError:
        version = "unknown"
    click.echo(f"cof, version {version}")
    ctx.exit()


def _one_line(message: str) -> str:
    """click's sentence ("No such option '-x'.") in the style of cof's other errors."""
    text = " ".join(message.split()).rstrip(".")
    return text[:1].lower() + text[1:]


def _invoked_path() -> str:
    """``cof COMMAND`` as typed, for errors click raises without a context."""
    words = [w for w in sys.argv[1:] if not w.startswith("-")]
    return f"cof {words[0]}" if words and words[0] in COMMANDS else "cof"


class CofGroup(click.Group):
    """A group that loads subcommands lazily and turns expected failures into one
    line and an exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module_name = COMMANDS.get(cmd_name)
        if module_name is None:
            return None
        module = importlib.import_module(f"cofctl.commands.{module_name}")
        command: click.Command = module.command
        return command

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Run the CLI; click's own errors (unknown option, missing argument) become
        one line too, naming the help to read, with click's exit code (2 for usage)."""
        kwargs["standalone_mode"] = False
        try:
            result = super().main(*args, **kwargs)
        except click.UsageError as exc:
            path = exc.ctx.command_path if exc.ctx is not None else _invoked_path()
            click.echo(f"cof: {_one_line(exc.format_message())} (see '{path} --help')", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"cof: {_one_line(exc.format_message())}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("cof: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        sys.exit(result if isinstance(result, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CofError as exc:
            message = " ".join(exc.message.split()) or exc.code
            click.echo(f"cof: {message}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            if ctx.invoked_subcommand in RESUMABLE_COMMANDS:
                # cofd stops the transfer when we go; what arrived is committed.
                click.echo(
                    "cof: interrupted; what was transferred is kept: "
                    "run the same command again to move only the rest",
                    err=True,
                )
            else:
                click.echo("cof: interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)


@click.group(cls=CofGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and exit.",
)
def main() -> None:
    """cof: version control for binary-heavy projects."""
