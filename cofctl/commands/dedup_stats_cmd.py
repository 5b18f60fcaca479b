"""``cof dedup-stats``."""

from __future__ import annotations

import click

from cofctl.render import emit_json, format_bytes, json_option
from cofctl.runner import call


@click.command("dedup-stats")
@json_option
def command(as_json: bool) -> None:
    """How much space block-level deduplication and compression save."""
    s = call("dedup_stats", {})
    if as_json:
        emit_json(s)
        return
    rows = [
        ("commits", f"{s['commits']}"),
        ("file versions", f"{s['file_versions']}"),
        ("logical size", format_bytes(s["logical_bytes"])),
        ("unique blocks", f"{s['blocks']} ({format_bytes(s['unique_bytes'])})"),
        ("stored on disk", format_bytes(s["stored_bytes"])),
        ("dedup ratio", f"{s['dedup_ratio']:.2f}x"),
        ("space saved", f"{s['savings_percent']:.1f}%"),
    ]
    for tier in ("hot", "warm", "cold"):
        ratio = s["compression_ratio"][tier]
        rows.append(
            (
                f"  {tier}",
                f"{s['tier_blocks'][tier]} blocks, "
                f"{format_bytes(s['tier_raw_bytes'][tier])} raw, "
                f"{format_bytes(s['tier_live_bytes'][tier])} live in "
                f"{format_bytes(s['tier_bytes'][tier])} of packs"
                + (f", compression {ratio:.2f}x" if ratio else ""),
            )
        )
    pending = s["pending_migration"]
    rows.append(
        (
            "pending migration",
            f"{pending['blocks']} blocks ({format_bytes(pending['raw_bytes'])} raw)",
        )
    )
    rows.append(("projected size", format_bytes(s["projected_stored_bytes"])))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        click.echo(f"{key:<{width}}  {value}")
