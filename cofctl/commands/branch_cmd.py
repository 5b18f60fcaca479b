"""``cof branch``."""

from __future__ import annotations

from typing import Any

import click

from cofctl.render import emit_json, json_option
from cofctl.runner import call
from cofctl.status_text import detached_label, tracking_counts
from cofctl.textfmt import short, upstream_set_line


@click.command("branch")
@click.argument("name", required=False)
@click.argument("start", required=False)
@click.option("-d", "--delete", "delete", is_flag=True, help="Delete a merged branch.")
@click.option("-D", "force_delete", is_flag=True, help="Delete a branch even if unmerged.")
@click.option("-m", "--move", "move", is_flag=True, help="Rename [OLD] NEW (OLD: current).")
@click.option("-M", "force_move", is_flag=True, help="Rename even over an existing NEW.")
@click.option("-c", "--copy", "copy", is_flag=True, help="Copy [OLD] NEW (OLD: current).")
@click.option("-C", "force_copy", is_flag=True, help="Copy even over an existing NEW.")
@click.option("-f", "--force", is_flag=True, help="Reset NAME to START if it exists.")
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="Show each branch's commit and how far it is from its upstream (-vv: name it).",
)
@click.option("-r", "--remotes", is_flag=True, help="List remote-tracking branches.")
@click.option("-a", "--all", "list_all", is_flag=True, help="List local and remote-tracking.")
@click.option(
    "-u",
    "--set-upstream-to",
    "upstream",
    metavar="REMOTE/BRANCH",
    help="Make NAME (default: the current branch) track this remote-tracking branch.",
)
@click.option("--unset-upstream", is_flag=True, help="Make NAME (default: current) track nothing.")
@click.option(
    "--show-current", is_flag=True, help="Print the current branch's name (nothing if detached)."
)
@json_option
def command(
    name: str | None,
    start: str | None,
    delete: bool,
    force_delete: bool,
    move: bool,
    force_move: bool,
    copy: bool,
    force_copy: bool,
    force: bool,
    verbose: int,
    remotes: bool,
    list_all: bool,
    upstream: str | None,
    unset_upstream: bool,
    show_current: bool,
    as_json: bool,
) -> None:
    """List branches, or create, delete (-d/-D), rename (-m [OLD] NEW) or copy
    (-c [OLD] NEW) one, or set what it tracks (-u REMOTE/BRANCH, --unset-upstream)."""
    if show_current:
        _show_current(name, as_json)
        return
    moving = move or force_move or copy or force_copy
    if (move or force_move) and (copy or force_copy):
        raise click.UsageError("-m/-M and -c/-C cannot be combined")
    if (remotes or list_all) and (name or delete or force_delete or moving):
        raise click.UsageError("-r and -a only list branches")
    if upstream is not None or unset_upstream:
        _edit_upstream(name, start, upstream, unset_upstream)
        return
    if delete or force_delete:
        if not name:
            raise click.UsageError("branch name required")
        result = call("branch", {"action": "delete", "name": name, "force": force_delete})
        click.echo(f"Deleted branch {name} (was {short(result['commit'])}).")
        return
    if moving:
        _move_or_copy(name, start, copying=copy or force_copy, force=force_move or force_copy)
        return
    if name:
        params = {"action": "create", "name": name, "start": start, "force": force}
        created = call("branch", params)
        if created.get("upstream"):
            click.echo(upstream_set_line(name, created["upstream"]))
        return
    which = "all" if list_all else "remote" if remotes else "local"
    result = call("branch", {"action": "list", "which": which, "tracking": verbose > 0})
    if as_json:
        emit_json(result)
        return
    for line in _listing(result, verbose, list_all, remotes):
        click.echo(line)


def _move_or_copy(name: str | None, start: str | None, copying: bool, force: bool) -> None:
    """``-m|-M|-c|-C [OLD] NEW``: with one name, OLD is the current branch (git)."""
    flag = ("-C" if force else "-c") if copying else ("-M" if force else "-m")
    if not name:
        raise click.UsageError(f"branch name required (cof branch {flag} [OLD] NEW)")
    old, new = (name, start) if start else (None, name)
    action = "copy" if copying else "rename"
    call("branch", {"action": action, "name": old, "new_name": new, "force": force})


def _show_current(name: str | None, as_json: bool) -> None:
    """git's ``branch --show-current``: the branch HEAD is on, born or not; nothing
    (and success) when HEAD is detached."""
    if name is not None:
        raise click.UsageError("--show-current takes no branch name")
    result = call("branch", {"action": "current"})
    if as_json:
        emit_json(result)
    elif result["branch"] is not None:
        click.echo(result["branch"])


def _edit_upstream(name: str | None, extra: str | None, upstream: str | None, unset: bool) -> None:
    if extra is not None or (upstream is not None and unset):
        raise click.UsageError("usage: cof branch (-u REMOTE/BRANCH | --unset-upstream) [NAME]")
    if unset:
        call("branch", {"action": "unset_upstream", "name": name})
        return
    result = call("branch", {"action": "set_upstream", "name": name, "upstream": upstream})
    click.echo(upstream_set_line(result["branch"], result["upstream"]))


def _listing(result: dict[str, Any], verbose: int, list_all: bool, remotes: bool) -> list[str]:
    """git branch's lines: with -v, names padded to the longest (the detached HEAD's
    label included), then the short commit, the upstream state and the summary."""
    rows: list[tuple[str, str, str, str, dict[str, Any] | None]] = []
    if result["detached"] and result["head"] and not remotes:
        label = "(no branch)" if result.get("no_branch") else f"({detached_label(result)})"
        rows.append(("*", label, result["head"], result["head_summary"], None))
    for b in result["branches"]:
        # As git: -a shows remote-tracking branches as remotes/NAME, -r as NAME.
        shown = f"remotes/{b['name']}" if b["remote"] and list_all else b["name"]
        rows.append(("*" if b["current"] else " ", shown, b["commit"], b["summary"], b["upstream"]))
    if not verbose:
        return [f"{mark} {shown}" for mark, shown, *_ in rows]
    width = max((len(shown) for _, shown, *_ in rows), default=0)
    return [
        f"{mark} {shown:<{width}} {short(commit)} {_tracking(upstream, verbose)}{summary}"
        for mark, shown, commit, summary, upstream in rows
    ]


def _tracking(upstream: dict[str, Any] | None, verbose: int) -> str:
    """``[ahead 1, behind 2] `` (-v) or ``[origin/main: ahead 1, behind 2] `` (-vv)."""
    if upstream is None:
        return ""
    state = tracking_counts(upstream)
    if verbose > 1:
        return f"[{upstream['name']}: {state}] " if state else f"[{upstream['name']}] "
    return f"[{state}] " if state else ""
