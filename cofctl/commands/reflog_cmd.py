"""``cof reflog``."""

from __future__ import annotations

import click

from cofctl.render import emit_json, json_option
from cofctl.runner import call
from cofctl.textfmt import short


@click.command("reflog")
@click.argument("ref", required=False)
@click.option("-n", "--max-count", "limit", type=click.IntRange(min=0), help="At most N.")
@json_option
def command(ref: str | None, limit: int | None, as_json: bool) -> None:
    """Show where a ref (default HEAD) has pointed, newest first: REF@{N}."""
    result = call("reflog", {"ref": ref})
    entries = result["entries"][:limit] if limit is not None else result["entries"]
    if as_json:
        emit_json(entries)
        return
    for n, entry in enumerate(entries):
        shown = short(entry["new"]) if entry["new"] else "0" * 12
        click.echo(f"{shown} {result['ref']}@{{{n}}}: {entry['message']}")
