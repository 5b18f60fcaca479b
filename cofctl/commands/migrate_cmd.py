"""``cof migrate``: run the tier migration loop now."""

from __future__ import annotations

import click

from cofctl.render import emit_json, format_bytes, json_option
from cofctl.runner import call


@click.command("migrate")
@click.option("--wait", is_flag=True, help="Run until nothing is left to move, then report.")
@json_option
def command(wait: bool, as_json: bool) -> None:
    """Move blocks to the storage tier their age calls for (hot, warm, cold)."""
    result = call("migrate", {"wait": wait})
    if as_json:
        emit_json(result)
        return
    if not result.get("waited"):
        click.echo(f"migration started; {result['pending_blocks']} blocks due to move")
        return
    click.echo(
        f"moved {result['moved_blocks']} blocks "
        f"({format_bytes(result['moved_raw_bytes'])} raw -> "
        f"{format_bytes(result['moved_stored_bytes'])} stored); "
        f"{result['compacted_packs']} packs compacted, {result['deleted_packs']} deleted, "
        f"{format_bytes(result['reclaimed_bytes'])} reclaimed"
    )
    for reason in result["skipped"]:
        click.echo(f"warning: left in place: {reason}", err=True)
