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
    help="The commit message; several -m are joined as paragraphs.",
)
@click.option(
    "-a",
    "--all",
    "stage_all",
    is_flag=True,
    help="First stage modified and deleted tracked files (new files stay untracked).",
)
@click.option(
    "--amend",
    is_flag=True,
    help="Replace the tip commit (same parents; without -m, same message).",
)
@click.option("--author", help="Override the author: 'Name <email>'.")
@click.option("--allow-empty", is_flag=True, help="Commit even if nothing changed.")
@click.option(
    "-q", "--quiet", is_flag=True, help="Print nothing, as git (errors still go to stderr)."
)
def command(
    messages: tuple[str, ...],
    stage_all: bool,
    amend: bool,
    author: str | None,
    allow_empty: bool,
    quiet: bool,
) -> None:
    """Record the staged changes as a new commit and print [BRANCH ID] SUMMARY
    (nothing with -q, as git; 'cof log -n 1 --json' gives the id)."""
    # cof has no editor: only --amend may go without -m (it keeps the old message).
    if not messages and not amend:
        raise click.UsageError("Missing option '-m' / '--message'.")
    params = {
        "message": "\n\n".join(messages) if messages else None,
        "author": author,
        "allow_empty": allow_empty,
        "all": stage_all,
        "amend": amend,
    }
    result = call("commit", params)
    if quiet:
        return
    where = result["branch"] or "detached HEAD"
    root = " (root-commit)" if result["root"] else ""
    click.echo(f"[{where}{root} {result['id']}] {result['summary']}")
