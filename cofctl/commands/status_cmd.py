"""``cof status``: git's long format, or ``--porcelain`` (git's v1 short format)."""

from __future__ import annotations

import re

import click

from cofctl.render import emit_json, json_option
from cofctl.runner import call
from cofctl.status_text import UNTRACKED_MODES, render
from protocol.quoting import wire_paths

# Short flags of this command that take no value, so ``-su`` is ``-s -u``.
_SHORT_FLAGS = "sb"
_BARE_SHORT_U = re.compile(rf"^-[{_SHORT_FLAGS}]*u$")


class UntrackedModeCommand(click.Command):
    """git's ``-u[MODE]`` / ``--untracked-files[=MODE]``: the mode is optional but
    only ever attached (``-uno``, ``--untracked-files=no``); a bare ``-u`` means
    ``all``, and a word after it is a path, as in git. click would take that word as
    the mode, so a bare form is made explicit before click parses."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        end = args.index("--") if "--" in args else len(args)
        explicit = [_explicit_mode(arg) for arg in args[:end]]
        return super().parse_args(ctx, explicit + args[end:])


def _explicit_mode(arg: str) -> str:
    if arg == "--untracked-files":
        return "--untracked-files=all"
    return arg + "all" if _BARE_SHORT_U.match(arg) else arg


@click.command("status", cls=UntrackedModeCommand)
@click.argument("paths", nargs=-1)
@click.option("--porcelain", is_flag=True, help="git's stable short format (v1).")
@click.option("-s", "--short", "short_format", is_flag=True, help="Short format.")
@click.option(
    "-b", "--branch", "show_branch", is_flag=True, help="With -s or --porcelain: branch line."
)
@click.option(
    "-u",
    "--untracked-files",
    "untracked",
    type=click.Choice(UNTRACKED_MODES),
    default="normal",
    metavar="[MODE]",
    help="Untracked files: no (none), normal (a new directory as DIR/), all (each file); "
    "-u alone: all.",
)
@json_option
def command(
    paths: tuple[str, ...],
    porcelain: bool,
    short_format: bool,
    show_branch: bool,
    untracked: str,
    as_json: bool,
) -> None:
    """Show staged, unstaged and untracked changes."""
    params = {"paths": wire_paths(paths), "untracked": untracked}
    result = call("status", params, progress=False)
    if as_json:
        # A name that is not UTF-8 comes as bytes: JSON shows it with \x escapes.
        result["untracked"] = [_json_path(p) for p in result["untracked"]]
        emit_json(result)
    else:
        click.echo(render(result, porcelain, short_format, show_branch, untracked), nl=False)


def _json_path(path: str | bytes) -> str:
    if isinstance(path, bytes):
        return path.decode("utf-8", "backslashreplace")
    return path
