"""``cof tag``."""

from __future__ import annotations

import click

from cofctl.render import emit_json, json_option
from cofctl.runner import call
from cofctl.textfmt import short


@click.command("tag")
@click.argument("name", required=False)
@click.argument("rev", required=False)
@click.option("-a", "--annotate", is_flag=True, help="Make an annotated tag (needs -m).")
@click.option("-m", "--message", help="The annotated tag's message.")
@click.option("-d", "--delete", is_flag=True, help="Delete tag NAME.")
@click.option("-f", "--force", is_flag=True, help="Replace an existing tag.")
@json_option
def command(
    name: str | None,
    rev: str | None,
    annotate: bool,
    message: str | None,
    delete: bool,
    force: bool,
    as_json: bool,
) -> None:
    """List tags, or create (lightweight or -a annotated) or delete (-d) one."""
    if delete:
        if not name:
            raise click.UsageError("tag name required")
        result = call("tag", {"action": "delete", "name": name})
        click.echo(f"Deleted tag '{name}' (was {short(result['was'])})")
        return
    if name:
        call(
            "tag",
            {
                "action": "create",
                "name": name,
                "rev": rev,
                "annotate": annotate,
                "message": message,
                "force": force,
            },
        )
        return
    result = call("tag", {"action": "list"})
    if as_json:
        emit_json(result["tags"])
        return
    for tag in result["tags"]:
        click.echo(tag["name"])
