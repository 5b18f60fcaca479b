"""``cof fetch [REMOTE]``."""

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


@click.command("fetch")
@click.argument("remote", required=False)
@json_option
def command(remote: str | None, as_json: bool) -> None:
    """Download new commits and blocks from REMOTE (default origin)."""
    result = call("fetch", {"remote": remote})
    if as_json:
        emit_json(result)
        return
    if result["stats"]["listed"] or result["updated"]:
        click.echo(f"From {result['url']}")
    print_transfer(result)
