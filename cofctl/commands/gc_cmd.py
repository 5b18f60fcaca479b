"""``cof gc``: delete unreachable blocks and compact packs."""

from __future__ import annotations

import click

from cofctl.render import emit_json, format_bytes, json_option
from cofctl.runner import call
from protocol.errors import UsageError


def parse_prune(value: str | None) -> int | str | None:
    if value is None or value == "now":
        return value
    if value.isdigit():
        return int(value)
    raise UsageError(f"--prune expects a number of days or 'now', got {value!r}")


@click.command("gc")
@click.option(
    "--prune",
    metavar="DAYS|now",
    help="Delete unreachable blocks older than DAYS days, or all of them with 'now' "
    "(default: gc.unreachable_days).",
)
@json_option
def command(prune: str | None, as_json: bool) -> None:
    """Expire old reflog entries (gc.reflog_expire_days, gc.reflog_expire_unreachable_days);
    mark everything reachable from refs, tags, reflogs and the staging area; sweep the
    rest; compact packs."""
    result = call("gc", {"prune": parse_prune(prune)})
    if as_json:
        emit_json(result)
        return
    expired = result.get("expired_reflog_entries", 0)
    click.echo(
        (f"expired {expired} reflog entries; " if expired else "")
        + f"{result['live_blocks']} reachable blocks; deleted {result['deleted_blocks']} "
        f"({format_bytes(result['deleted_raw_bytes'])} raw); kept "
        f"{result['kept_young_blocks']} unreachable but recent; "
        f"store {format_bytes(result['stored_bytes_before'])} -> "
        f"{format_bytes(result['stored_bytes_after'])}"
    )
