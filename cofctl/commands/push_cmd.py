"""``cof push [REMOTE] [NAME] [--force] [-u] [--tags]``, ``cof push REMOTE NAME --delete``."""

from __future__ import annotations

from typing import Any

import click

from cofctl.commands.fetch_cmd import ref_summary, summary_column
from cofctl.render import emit_json, format_bytes, json_option
from cofctl.runner import call
from cofctl.textfmt import upstream_set_line
from protocol.errors import ConflictError

FAILED = ("rejected", "remote-rejected")


@click.command("push")
@click.argument("remote", required=False)
@click.argument("name", required=False)
@click.option("-f", "--force", is_flag=True, help="Allow a non-fast-forward or tag update.")
@click.option(
    "-u", "--set-upstream", is_flag=True, help="Make BRANCH track REMOTE/BRANCH once pushed."
)
@click.option("-d", "--delete", is_flag=True, help="Delete the branch or tag NAME on REMOTE.")
@click.option("--tags", is_flag=True, help="Push every tag (besides NAME, if given).")
@click.option(
    "-q", "--quiet", is_flag=True, help="Print only errors (and the refs, if one is refused)."
)
@json_option
def command(
    remote: str | None,
    name: str | None,
    force: bool,
    set_upstream: bool,
    delete: bool,
    tags: bool,
    quiet: bool,
    as_json: bool,
) -> None:
    """Offer NAME, a branch or a tag (default: the current branch), to REMOTE (default:
    the branch's upstream's, else origin); the remote daemon pulls what it lacks. A tag
    the remote has at another commit is replaced only with --force. With --delete,
    delete REMOTE's branch or tag NAME."""
    if delete and (not name or force or set_upstream or tags):
        raise click.UsageError("usage: cof push REMOTE NAME --delete (no -f, -u or --tags)")
    params = {
        "remote": remote,
        "branch": name,
        "force": force,
        "set_upstream": set_upstream,
        "delete": delete,
        "tags": tags,
    }
    result = call("push", params, progress=not quiet)
    error = result.get("error")
    if as_json:
        emit_json(result)
    elif quiet:
        if error:  # as git's push -q: the ref lines, on stderr, once one is refused
            _print_refs(result, err=True)
    elif result.get("deleted"):
        click.echo(f"To {result['url']}")
        click.echo(f"{summary_column('-', '[deleted]')}{result['branch']}")
    elif result.get("up_to_date"):
        click.echo("Everything up-to-date")
        _upstream_line(result)
    else:
        _print_refs(result)
        _upstream_line(result)
    if error:
        # git's "failed to push some refs", or why when no ref went.
        raise ConflictError(error)


def _print_refs(result: dict[str, Any], err: bool = False) -> None:
    """git's lines: the refs that moved first, then those refused (up-to-date ones are
    not shown); on stdout, else (``-q``) on stderr as git's; the transfer's size on
    stderr when something was sent and the lines went to stdout."""
    click.echo(f"To {result['url']}", err=err)
    rows = [row for row in result["refs"] if row["status"] != "up-to-date"]
    for row in sorted(rows, key=lambda r: r["status"] in FAILED):  # stable: refs in order
        name = row["ref"].removeprefix("refs/heads/").removeprefix("refs/tags/")
        flag, summary, note = ref_summary(row, row["ref"].startswith("refs/tags/"))
        line = f"{summary_column(flag, summary)}{name} -> {name}"
        click.echo(f"{line} ({note})" if note else line, err=err)
    if err or all(row["status"] in FAILED for row in rows):
        return
    wire = result["wire"]
    click.echo(
        f"sent {format_bytes(wire['sent'])}, received {format_bytes(wire['received'])}", err=True
    )


def _upstream_line(result: dict[str, Any]) -> None:
    if result.get("upstream_set"):
        click.echo(upstream_set_line(result["branch"], result["upstream_set"]))
