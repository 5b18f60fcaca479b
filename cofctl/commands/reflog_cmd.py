"""``cof reflog [show] [REF]``, ``cof reflog expire``, ``cof reflog delete``."""

from __future__ import annotations

from typing import Any

import click

from cofctl.render import emit_json, json_option
from cofctl.runner import call
from cofctl.textfmt import short


class _ShowByDefault(click.Group):
    """As git: ``cof reflog``, ``cof reflog main`` and ``cof reflog -n 3`` mean ``show``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("-h", "--help")):
            args = ["show", *args]
        return super().parse_args(ctx, args)


@click.group("reflog", cls=_ShowByDefault)
def command() -> None:
    """Show where a ref (default HEAD) has pointed, newest first: REF@{N}; expire or
    delete entries (reflogs keep what they name from gc)."""


@command.command("show")
@click.argument("ref", required=False)
@click.option("-n", "--max-count", "limit", type=click.IntRange(min=0), help="At most N.")
@json_option
def show(ref: str | None, limit: int | None, as_json: bool) -> None:
    """Show where REF (default HEAD) has pointed, newest first: REF@{N}."""
    result = call("reflog", {"ref": ref})
    if as_json:
        entries = result["entries"]
        emit_json(entries[:limit] if limit is not None else entries)
        return
    # As git: a line that left the ref pointing at nothing (the first half of a
    # current branch's rename) is not shown, but it keeps its number.
    shown = [(n, e) for n, e in enumerate(result["entries"]) if e["new"]]
    for n, entry in shown[:limit] if limit is not None else shown:
        click.echo(f"{short(entry['new'])} {result['ref']}@{{{n}}}: {entry['message']}")


@command.command("expire")
@click.argument("refs", nargs=-1)
@click.option("--all", "all_refs", is_flag=True, help="Every reflog, also of deleted refs.")
@click.option(
    "--expire",
    metavar="TIME",
    help="Drop entries older than TIME: now, never, N.days.ago, YYYY-MM-DD "
    "(default: gc.reflog_expire_days, 90).",
)
@click.option(
    "--expire-unreachable",
    metavar="TIME",
    help="Drop entries older than TIME whose commit the ref no longer reaches "
    "(default: gc.reflog_expire_unreachable_days, 30).",
)
@click.option("-n", "--dry-run", is_flag=True, help="Only say what would be dropped.")
@json_option
def expire(
    refs: tuple[str, ...],
    all_refs: bool,
    expire: str | None,
    expire_unreachable: str | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Drop old reflog entries of REFS (or --all), so gc can delete what only they kept."""
    params: dict[str, Any] = {
        "refs": list(refs),
        "all": all_refs,
        "expire": expire,
        "expire_unreachable": expire_unreachable,
        "dry_run": dry_run,
    }
    result = call("reflog_expire", params)
    if as_json:
        emit_json(result)
    elif dry_run:
        for name, count in sorted(result["expired"].items()):
            click.echo(f"would prune {count} entries of {name}")


@command.command("delete")
@click.argument("entries", nargs=-1, required=True)
@json_option
def delete(entries: tuple[str, ...], as_json: bool) -> None:
    """Delete the reflog entries REF@{N} (numbered as `cof reflog REF` lists them)."""
    result = call("reflog_delete", {"entries": list(entries)})
    if as_json:
        emit_json(result)
