"""``cof stash``: push (the default), list, show, apply, pop, drop, clear, branch."""

from __future__ import annotations

from typing import Any

import click

from cofctl.commands.log_cmd import binary_change, stat_lines
from cofctl.dashdash import DashDashCommand, after_dashdash
from cofctl.render import emit_json, json_option
from cofctl.runner import call
from cofctl.status_text import render
from cofctl.textfmt import quote_path
from protocol.quoting import wire_paths

EXIT_CONFLICTS = 1  # as git (and cof merge): the apply stopped on conflicts


class StashGroup(click.Group):
    """``cof stash [OPTIONS] [-- PATHS]`` is ``cof stash push ...``, as in git."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("-h", "--help")):
            args = ["push", *args]
        return super().parse_args(ctx, args)


@click.group("stash", cls=StashGroup)
def command() -> None:
    """Put local changes aside (push, the default) and bring them back later."""


@command.command("push", cls=DashDashCommand)
@click.argument("paths", nargs=-1)
@click.option("-m", "--message", help="Describe the stash (instead of WIP on BRANCH: ...).")
@click.option(
    "-u", "--include-untracked", "untracked", is_flag=True, help="Stash untracked files too."
)
@click.option("-k", "--keep-index", is_flag=True, help="Keep the staged changes in place.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
def push_command(
    paths: tuple[str, ...], message: str | None, untracked: bool, keep_index: bool, quiet: bool
) -> None:
    """Record staged and unstaged changes (of PATHS only, if given) and reset them."""
    params = {
        "action": "push",
        "message": message,
        "untracked": untracked,
        "keep_index": keep_index,
        "paths": wire_paths([*paths, *(after_dashdash() or [])]),
    }
    result = call("stash", params)
    if quiet:
        return
    if not result["saved"]:
        click.echo("No local changes to save")
    else:
        click.echo(f"Saved working directory and index state {result['message']}")


@command.command("list")
@json_option
def list_command(as_json: bool) -> None:
    """List the stashes, newest first."""
    entries = call("stash", {"action": "list"}, progress=False)["entries"]
    if as_json:
        emit_json(entries)
        return
    for entry in entries:
        click.echo(f"{entry['name']}: {entry['message']}")


@command.command("show")
@click.argument("stash", required=False)
@click.option("-p", "--patch", is_flag=True, help="Show the changes as a patch.")
@click.option("--stat", is_flag=True, help="Summarise the changes per file (the default).")
@json_option
def show_command(stash: str | None, patch: bool, stat: bool, as_json: bool) -> None:
    """Show what a stash (default the newest) changed against the commit it was made on."""
    result = call("stash", {"action": "show", "stash": stash, "patch": patch})
    if as_json:
        emit_json(result)
        return
    changes = result["changes"]
    if stat or not patch:
        for line in stat_lines(changes):
            click.echo(line)
    if not patch:
        return
    for change, text in zip(changes, result["patches"], strict=True):
        if text:
            click.echo(text, nl=False)
        elif change.get("binary"):
            click.echo(f"Binary file {quote_path(change['path'])} differs: {binary_change(change)}")


_INDEX = click.option("--index", is_flag=True, help="Restore the staged changes as staged.")
_QUIET = click.option("-q", "--quiet", is_flag=True, help="Print only conflicts and errors.")


@command.command("apply")
@click.argument("stash", required=False)
@_INDEX
@_QUIET
def apply_command(stash: str | None, index: bool, quiet: bool) -> None:
    """Apply a stash (default the newest) to the working tree; the stash stays."""
    _report(call("stash", {"action": "apply", "stash": stash, "index": index}), index, quiet)


@command.command("pop")
@click.argument("stash", required=False)
@_INDEX
@_QUIET
def pop_command(stash: str | None, index: bool, quiet: bool) -> None:
    """Apply a stash (default the newest) and drop it, unless it conflicted."""
    result = call("stash", {"action": "pop", "stash": stash, "index": index})
    _report(result, index, quiet, pop=True)


@command.command("drop")
@click.argument("stash", required=False)
@_QUIET
def drop_command(stash: str | None, quiet: bool) -> None:
    """Remove a stash (default the newest) from the list."""
    result = call("stash", {"action": "drop", "stash": stash})
    if not quiet:
        _dropped(result["dropped"])


@command.command("clear")
def clear_command() -> None:
    """Remove every stash."""
    call("stash", {"action": "clear"})


@command.command("branch")
@click.argument("name")
@click.argument("stash", required=False)
def branch_command(name: str, stash: str | None) -> None:
    """Create and check out branch NAME at the stash's commit and apply the stash there
    with its staged changes (dropped if that goes cleanly)."""
    result = call("stash", {"action": "branch", "name": name, "stash": stash})
    click.echo(f"Switched to a new branch '{result['branch']}'", err=True)
    _report(result, True, False)


def _report(result: dict[str, Any], index: bool, quiet: bool, pop: bool = False) -> None:
    """git's output: conflicts (even with -q), the status, what became of the stash;
    exit 1 when the apply stopped on conflicts."""
    conflicts = result["conflicts"]
    if result["up_to_date"] and not quiet:
        click.echo("Already up to date.")
    for conflict in conflicts:
        click.echo(conflict["message"])
    if conflicts and index:
        click.echo("Index was not unstashed.", err=True)
    if not quiet:
        click.echo(render(result["status"], False, False), nl=False)
    if conflicts and pop:
        click.echo("The stash entry is kept in case you need it again.")
    if result.get("dropped") and not quiet:
        _dropped(result["dropped"])
    if conflicts:
        raise SystemExit(EXIT_CONFLICTS)


def _dropped(dropped: dict[str, str]) -> None:
    click.echo(f"Dropped {dropped['name']} ({dropped['commit']})")
