"""``cof checkout``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from cofctl.dashdash import DashDashCommand, after_dashdash
from cofctl.runner import call
from cofctl.status_text import tracking_lines
from cofctl.textfmt import quote_path, short, upstream_set_line
from protocol.quoting import wire_path, wire_paths

F = TypeVar("F", bound=Callable[..., Any])

# git's warning on leaving a detached HEAD whose commits no ref reaches (its advice
# included, with cof's command).
_LEAVING = "Warning: you are leaving {count} behind, not connected to\nany of your branches:\n"
_KEEP_ADVICE = """\
If you want to keep {them} by creating a new branch, this may be a good time
to do so with:

 cof branch <new-branch-name> {commit}
"""


def tracking_options(command: F) -> F:
    """``-t/--track``, ``--no-track``, ``--guess/--no-guess`` and ``-m/--merge``, as
    switch and checkout both take them."""
    for option in (
        click.option(
            "-m", "--merge", is_flag=True, help="Merge local changes in the way into the target."
        ),
        click.option(
            "--guess/--no-guess",
            default=True,
            help="Make NAME tracking R/NAME when only the remote R has it (default).",
        ),
        click.option("--no-track", "track", flag_value=False, help="Set no upstream."),
        click.option(
            "-t",
            "--track",
            "track",
            flag_value=True,
            default=None,
            help="Make the new branch track START (a remote-tracking branch); alone, "
            "create the branch origin/NAME names.",
        ),
    ):
        command = option(command)
    return command


@click.command("checkout", cls=DashDashCommand)
@click.argument("args", nargs=-1)
@click.option("-b", "new_branch", metavar="NEW", help="Create branch NEW and switch to it.")
@click.option("-B", "reset_branch", metavar="NEW", help="As -b, resetting NEW if it exists.")
@click.option("--orphan", metavar="NEW", help="Switch to NEW, a branch with no commit yet.")
@click.option("-f", "--force", is_flag=True, help="Discard local changes in the way.")
@click.option("--detach", is_flag=True, help="Detach HEAD at the named commit (default: HEAD).")
@tracking_options
@click.option("--ours", "side", flag_value="ours", help="Check out our side of conflicts.")
@click.option("--theirs", "side", flag_value="theirs", help="Check out their side.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
def command(
    args: tuple[str, ...],
    new_branch: str | None,
    reset_branch: str | None,
    orphan: str | None,
    force: bool,
    detach: bool,
    merge: bool,
    guess: bool,
    track: bool | None,
    side: str | None,
    quiet: bool,
) -> None:
    """Switch branches or commits ('-': the previous one), create one (-b/-B NEW
    [START], --orphan NEW [START]), or restore PATHS (after --) from the index or REV."""
    target, paths, rev_only = _split(args, after_dashdash())
    switching = (new_branch, reset_branch, orphan, detach, merge, track is not None)
    if (side or paths) and any(switching):
        raise click.UsageError("paths cannot be given with branch options")
    if side:
        if not paths and target:
            paths, target = [target], None
        if not paths:
            raise click.UsageError("'--ours/--theirs' cannot be used with switching branches")
        call("checkout", {"paths": wire_paths(paths), "side": side})
        return
    if paths:
        call("checkout", {"paths": wire_paths(paths), "rev": target})
        return
    run_switch(
        "checkout",
        target,
        quiet,
        create=new_branch,
        reset=reset_branch,
        orphan=orphan,
        detach=detach,
        force=force,
        merge=merge,
        track=track,
        guess=guess,
        rev_only=rev_only,
    )


def run_switch(command: str, target: str | None, quiet: bool, **options: Any) -> None:
    """The ``switch`` operation as checkout and switch ask for it, and its report (a
    target that is not UTF-8 goes as its bytes: checkout may take it as a path)."""
    wire_target = wire_path(target) if target is not None else None
    result = call("switch", {"command": command, "target": wire_target, "quiet": quiet, **options})
    if not quiet:
        report(result)


def report(result: dict[str, Any]) -> None:
    """git's messages: where HEAD went on stderr; the local changes carried along, a
    new upstream and the upstream's state on stdout (for ``switch`` too)."""
    left = result.get("left_behind")
    previous = result.get("previous")
    if left:
        click.echo(_left_behind_text(left), err=True)
    elif previous:
        click.echo(
            f"Previous HEAD position was {short(previous['commit'])} {previous['summary']}",
            err=True,
        )
    for code, path in result.get("local_changes") or ():
        click.echo(f"{code}\t{quote_path(path)}")
    if result.get("upstream"):
        click.echo(upstream_set_line(result["branch"], result["upstream"]))
    if result.get("reset"):
        verb = "Reset branch" if result.get("current") else "Switched to and reset branch"
        click.echo(f"{verb} '{result['branch']}'", err=True)
    elif result.get("already"):
        click.echo(f"Already on '{result['branch']}'", err=True)
    elif result.get("created"):
        click.echo(f"Switched to a new branch '{result['branch']}'", err=True)
    elif result.get("detached"):
        click.echo(f"HEAD is now at {short(result['commit'])} {result['summary']}", err=True)
    elif result.get("branch"):
        click.echo(f"Switched to branch '{result['branch']}'", err=True)
    for line in tracking_lines(result.get("tracking")):  # as git: stdout, existing branches
        click.echo(line)


def _left_behind_text(left: dict[str, Any]) -> str:
    """git's block: the count, up to five commits (or four and "... and N more."),
    then how to keep them; a blank line ends it."""
    count = left["count"]
    lines = [_LEAVING.format(count=f"{count} commit" if count == 1 else f"{count} commits")]
    lines += [f"  {short(c['commit'])} {c['summary']}" for c in left["listed"]]
    if left["more"]:
        lines.append(f" ... and {left['more']} more.")
    newest = short(left["listed"][0]["commit"])
    lines.append("\n" + _KEEP_ADVICE.format(them="it" if count == 1 else "them", commit=newest))
    return "\n".join(lines)


def _split(args: tuple[str, ...], after: list[str] | None) -> tuple[str | None, list[str], bool]:
    """``REV -- PATHS`` / ``-- PATHS`` / ``REV PATHS`` / ``TARGET`` / ``REV --``;
    the flag: the target came before ``--``, so it is a revision, never paths."""
    if after is None:
        if len(args) > 1:
            return args[0], list(args[1:]), False
        return (args[0] if args else None), [], False
    if len(args) > 1:
        raise click.UsageError("only one revision may come before --")
    if not after and not args:
        raise click.UsageError("no paths after --")
    return (args[0] if args else None), after, True
