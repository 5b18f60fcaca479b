"""What ``cof cherry-pick`` and ``cof revert`` print, in git's words."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from cofctl.textfmt import format_date, short

EXIT_CONFLICTS = 1  # as git: the pick stopped and needs resolution
F = TypeVar("F", bound=Callable[..., Any])


def run_options(command: F) -> F:
    """The options cherry-pick and revert share."""
    options = [
        click.option("-n", "--no-commit", is_flag=True, help="Apply the change, do not commit."),
        click.option(
            "-m", "--mainline", type=click.IntRange(min=1), help="Parent number of a merge."
        ),
        click.option("--continue", "cont", is_flag=True, help="Commit the resolved change."),
        click.option("--abort", is_flag=True, help="Cancel: put HEAD's files back."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def check_action(rev: str | None, cont: bool, abort: bool) -> None:
    if sum((bool(rev), cont, abort)) != 1:
        raise click.UsageError("give a commit, or --continue, or --abort")


def report(result: dict[str, Any], command: str, verb: str) -> None:
    """A commit made (``[BRANCH ID] SUMMARY``, with git's Author/Date lines when they
    are not the committer's), or the conflicts that stopped it (exit 1)."""
    if result.get("aborted"):
        return
    if result.get("conflicts"):
        for conflict in result["conflicts"]:
            click.echo(conflict["message"])
        click.echo(
            f"error: could not {verb} {short(result['commit'])}... {result['summary']}", err=True
        )
        click.echo(
            "hint: After resolving the conflicts, mark them with\n"
            'hint: "cof add <pathspec>", then run\n'
            f'hint: "cof {command} --continue".\n'
            f'hint: To abort and get back to the state before "cof {command}",\n'
            f'hint: run "cof {command} --abort".',
            err=True,
        )
        raise SystemExit(EXIT_CONFLICTS)
    if not result.get("committed"):
        return
    where = result["branch"] or "detached HEAD"
    click.echo(f"[{where} {short(result['id'])}] {result['summary']}")
    if result.get("author"):
        click.echo(f" Author: {result['author']}")
    if result.get("date"):
        click.echo(f" Date: {format_date(*result['date'])}")
