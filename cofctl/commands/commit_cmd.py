"""``cof commit``."""

from __future__ import annotations

import click

from cofctl.runner import call


@click.command("commit")
@click.option(
    "-m",
    "--message",
    "messages",
    multiple=True,
    required=True,
    help="The commit message; several -m are joined as paragraphs.",
)
@click.option("--author", help="Override the author: 'Name <email>'.")
@click.option("--allow-empty", is_flag=True, help="Commit even if nothing changed.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the commit id.")
def command(messages: tuple[str, ...], author: str | None, allow_empty: bool, quiet: bool) -> None:
    """Record the staged changes as a new commit and print its id."""
    result = call(
        "commit", {"message": "\n\n".join(messages), "author": author, "allow_empty": allow_empty}
    )
    if quiet:
        click.echo(result["id"])
        return
    where = result["branch"] or "detached HEAD"
    root = " (root-commit)" if result["root"] else ""
    click.echo(f"[{where}{root} {result['id']}] {result['summary']}")
