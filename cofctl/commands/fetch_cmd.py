"""``cof fetch [REMOTE] [--prune]``."""

from __future__ import annotations

from typing import Any

import click

from cofctl.render import emit_json, format_bytes, json_option
from cofctl.runner import call
from cofctl.textfmt import short


def print_transfer(fetched: dict[str, Any]) -> None:
    """The transfer summary on stderr (progress), ref updates on stdout; nothing at
    all when there was nothing to fetch (as git)."""
    stats = fetched["stats"]
    if not stats["listed"] and not fetched["updated"]:
        return
    rate = format_bytes(stats["rate"]) + "/s"
    click.echo(
        f"Received {stats['blocks']} blocks ({format_bytes(stats['bytes'])}) in "
        f"{stats['seconds']:.2f} s, {rate}; {stats['skipped']} of {stats['listed']} "
        "listed were already here",
        err=True,
    )
    for row in fetched["updated"]:
        old = short(row["old"]) if row["old"] else "(new)"
        click.echo(f"  {old}..{short(row['new'])}  {row['ref']}")


def print_pruned(fetched: dict[str, Any]) -> None:
    """git's lines for deleted remote-tracking branches, in its columns (the summary
    column as wide as git's at its default 7-digit abbreviation, the ref column its
    minimum)."""
    for row in fetched["pruned"]:
        name = row["ref"].removeprefix("refs/remotes/")
        click.echo(f" - {'[deleted]':<17} {'(none)':<10} -> {name}")


@click.command("fetch")
@click.argument("remote", required=False)
@click.option(
    "-p",
    "--prune",
    is_flag=True,
    help="Delete the remote-tracking branches of branches the remote no longer has.",
)
@json_option
def command(remote: str | None, prune: bool, as_json: bool) -> None:
    """Download new commits and blocks from REMOTE (default: the current branch's
    upstream's, else origin)."""
    result = call("fetch", {"remote": remote, "prune": prune})
    if as_json:
        emit_json(result)
        return
    if result["stats"]["listed"] or result["updated"] or result["pruned"]:
        click.echo(f"From {result['url']}")
    print_pruned(result)
    print_transfer(result)
