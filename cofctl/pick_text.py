"""What ``cof cherry-pick`` and ``cof revert`` print, in git's words."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from cofctl.runner import call
from cofctl.status_text import render
from cofctl.textfmt import format_date, short
from protocol.errors import error_from_wire

EXIT_STOPPED = 1  # as git: the pick stopped and needs resolution (or skipping)
F = TypeVar("F", bound=Callable[..., Any])
ACTIONS = ("cont", "skip", "abort", "quit")
_VERBS = {"cherry-pick": "apply", "revert": "revert"}


def run_options(command: F) -> F:
    """The options cherry-pick and revert share."""
    options = [
        click.option("-n", "--no-commit", is_flag=True, help="Apply the changes, do not commit."),
        click.option(
            "-m", "--mainline", type=click.IntRange(min=1), help="Parent number of a merge."
        ),
        click.option(
            "-s", "--signoff", is_flag=True, help="Add a Signed-off-by trailer (the committer)."
        ),
        click.option("--continue", "cont", is_flag=True, help="Commit the resolved pick, go on."),
        click.option("--skip", is_flag=True, help="Drop the stopped pick, go on."),
        click.option("--abort", is_flag=True, help="Cancel: back to HEAD before it all."),
        click.option("--quit", is_flag=True, help="Forget the series, keep files and HEAD."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def action_of(revs: tuple[str, ...], **flags: bool) -> str | None:
    """The action asked for (None: start with ``revs``); exactly one is allowed."""
    chosen = [name for name in ACTIONS if flags[name]]
    if len(chosen) + bool(revs) != 1:
        raise click.UsageError("give commits, or one of --continue, --skip, --abort, --quit")
    if not chosen:
        return None
    return "continue" if chosen[0] == "cont" else chosen[0]


def report(result: dict[str, Any]) -> None:
    """The commits made (``[BRANCH ID] SUMMARY``, with git's Author/Date lines when
    they are not the committer's), then why it stopped (exit 1) or failed."""
    if result.get("warning"):
        click.echo(f"warning: {result['warning']}", err=True)
    for made in result.get("picked") or []:
        _commit_lines(made)
    stop = result.get("stop")
    if stop is not None:
        if stop["reason"] == "conflicts":
            _conflicts(stop)
        else:
            _empty(stop)
        raise SystemExit(EXIT_STOPPED)
    error = result.get("error")
    if error is not None:
        raise error_from_wire(error["code"], error["message"])


def _commit_lines(made: dict[str, Any]) -> None:
    where = made["branch"] or "detached HEAD"
    click.echo(f"[{where} {short(made['id'])}] {made['summary']}")
    if made.get("author"):
        click.echo(f" Author: {made['author']}")
    if made.get("date"):
        click.echo(f" Date: {format_date(*made['date'])}")


def _conflicts(stop: dict[str, Any]) -> None:
    command = stop["command"]
    for conflict in stop["conflicts"]:
        click.echo(conflict["message"])
    verb = _VERBS[command]
    click.echo(f"error: could not {verb} {short(stop['commit'])}... {stop['summary']}", err=True)
    if stop.get("no_commit"):
        click.echo(
            "hint: after resolving the conflicts, mark the corrected paths\n"
            "hint: with 'cof add <paths>' or 'cof rm <paths>'",
            err=True,
        )
        return
    click.echo(
        "hint: After resolving the conflicts, mark them with\n"
        'hint: "cof add <pathspec>", then run\n'
        f'hint: "cof {command} --continue".\n'
        f'hint: You can instead skip this commit with "cof {command} --skip".\n'
        f'hint: To abort and get back to the state before "cof {command}",\n'
        f'hint: run "cof {command} --abort".',
        err=True,
    )


def _empty(stop: dict[str, Any]) -> None:
    """As git: the status, and (cherry-pick) how to record or skip the empty pick."""
    status = call("status", {"paths": [], "untracked": "normal"}, progress=False)
    click.echo(render(status, False, False, False, "normal"), nl=False)
    if stop["command"] == "cherry-pick":
        click.echo(
            "The previous cherry-pick is now empty, possibly due to conflict resolution.\n"
            "If you wish to commit it anyway, use:\n\n"
            "    cof commit --allow-empty\n\n"
            "Otherwise, please use 'cof cherry-pick --skip'",
            err=True,
        )
