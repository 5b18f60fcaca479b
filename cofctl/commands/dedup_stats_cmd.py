"""``cof dedup-stats``."""

from __future__ import annotations

from typing import Any

import click

from cofctl.render import emit_json, format_bytes, json_option
from cofctl.runner import call


@click.command("dedup-stats")
@json_option
def command(as_json: bool) -> None:
    """How much space block-level deduplication and compression save in the history
    (the commits refs and HEAD reach), and what else the store holds."""
    s = call("dedup_stats", {})
    if as_json:
        emit_json(s)
        return
    outside = s["outside_history"]
    rows = [
        ("commits", f"{s['commits']}"),
        ("file versions", f"{s['file_versions']}"),
        ("logical size", format_bytes(s["logical_bytes"])),
        ("unique data", f"{s['data_blocks']} blocks ({format_bytes(s['data_bytes'])})"),
        ("metadata", format_bytes(s["metadata_bytes"])),
        ("history on disk", format_bytes(s["history_stored_bytes"])),
        ("dedup ratio", f"{s['dedup_ratio']:.2f}x"),
        ("space saved", f"{s['savings_percent']:.1f}%"),
        ("staged only", _group(outside["staged"])),
        ("reflogs only", _group(outside["reflogs"])),
        ("unreferenced", _group(outside["unreferenced"])),
        ("pack overhead", format_bytes(s["pack_overhead_bytes"])),
        ("stored on disk", f"{format_bytes(s['stored_bytes'])} ({s['blocks']} blocks)"),
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


def _group(totals: dict[str, Any]) -> str:
    """Blocks outside the history: how many, raw, and on disk."""
    raw, stored = format_bytes(totals["raw_bytes"]), format_bytes(totals["stored_bytes"])
    return f"{totals['blocks']} blocks ({raw} raw, {stored} on disk)"
