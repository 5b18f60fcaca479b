"""``cof clean``."""

from __future__ import annotations

import click

from cofctl.runner import call
from cofctl.textfmt import quote_path
from protocol.quoting import wire_paths

EXIT_NOT_ALL_REMOVED = 1  # as git: some entry could not be removed


@click.command("clean")
@click.argument("paths", nargs=-1)
@click.option("-n", "--dry-run", is_flag=True, help="Only show what would be removed.")
@click.option("-f", "--force", is_flag=True, help="Remove (required unless -n).")
@click.option("-d", "dirs", is_flag=True, help="Remove untracked directories too.")
@click.option("-x", "ignored", is_flag=True, help="Remove ignored files too.")
@click.option("-X", "ignored_only", is_flag=True, help="Remove only ignored files.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
def command(
    paths: tuple[str, ...],
    dry_run: bool,
    force: bool,
    dirs: bool,
    ignored: bool,
    ignored_only: bool,
    quiet: bool,
) -> None:
    """Remove untracked files from the working tree (under PATHS, else the current
    directory). Never .cof, .git or a repository nested in the working tree."""
    params = {
        "paths": wire_paths(paths),
        "dry_run": dry_run,
        "force": force,
        "dirs": dirs,
        "ignored": ignored,
        "ignored_only": ignored_only,
    }
    result = call("clean", params)
    would = result["dry_run"]
    for kind, path in result["lines"]:
        if kind == "cwd":  # as git, even with -q
            refuse = "Would refuse" if would else "Refusing"
            click.echo(f"{refuse} to remove current working directory")
        elif quiet:
            continue
        elif kind == "skip":
            verb = "Would skip" if would else "Skipping"
            click.echo(f"{verb} repository {quote_path(path, quote_space=False)}")
        else:
            verb = "Would remove" if would else "Removing"
            click.echo(f"{verb} {quote_path(path, quote_space=False)}")
    for path, reason in result["failed"]:
        click.echo(f"cof: warning: failed to remove {quote_path(path)}: {reason}", err=True)
    if result["failed"]:
        raise SystemExit(EXIT_NOT_ALL_REMOVED)
