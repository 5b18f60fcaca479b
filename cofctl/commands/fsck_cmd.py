"""``cof fsck``: verify the repository."""

from __future__ import annotations

from typing import Any

import click

from cofctl.render import emit_json, format_bytes, json_option
from cofctl.runner import call
from protocol.errors import IntegrityError


@click.command("fsck")
@click.option("--full", is_flag=True, help="Read and re-hash every block in every pack.")
@click.option("--repair-index", is_flag=True, help="Rebuild the block index from the packs first.")
@json_option
@click.pass_context
def command(ctx: click.Context, full: bool, repair_index: bool, as_json: bool) -> None:
    """Check commits, trees, manifests and blocks, and the index against the packs.

    Exits with status 10 when anything is wrong, listing each problem.
    """
    report: dict[str, Any] = call("fsck", {"full": full, "repair_index": repair_index})
    if as_json:
        emit_json(report)
    else:
        _render(report)
    if not report["ok"]:
        ctx.exit(IntegrityError.exit_code)


def _render(report: dict[str, Any]) -> None:
    repaired = report.get("repaired")
    if repaired:
        click.echo(
            f"index rebuilt: {repaired['blocks']} blocks in {repaired['packs']} packs, "
            f"{repaired['corrupt_blocks']} corrupt blocks skipped, "
            f"{repaired['commit_ages_restored']} commit ages restored"
        )
    click.echo(
        f"checked {report['commits']} commits, {report['trees']} trees, "
        f"{report['contents']} contents, {report['reachable_blocks']} reachable blocks, "
        f"{report['packs']} packs ({report['records']} records"
        + (f", {report['blocks_rehashed']} blocks re-hashed)" if report["full"] else ")")
    )
    click.echo(f"unreferenced pack bytes: {format_bytes(report['unreferenced_bytes'])}")
    for path in report["orphan_files"]:
        click.echo(f"unreferenced pack file: {path}")
    for problem in report["problems"]:
        click.echo(f"error: {problem}")
    hidden = report["problem_count"] - len(report["problems"])
    if hidden > 0:
        click.echo(f"... and {hidden} more problems")
    click.echo("ok" if report["ok"] else f"{report['problem_count']} problems found")
