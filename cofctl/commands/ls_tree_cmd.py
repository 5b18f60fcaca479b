"""``cof ls-tree``: the entries of a commit's tree, in git's ``ls-tree`` format.

A line is ``MODE TYPE ID<TAB>NAME`` (``-l``: the size before the tab, ``-`` for a
directory), with cof's content ids in place of git's object ids; names are quoted
as git quotes them.
"""

from __future__ import annotations

import click

from cofctl.runner import call
from cofctl.textfmt import quote_path
from protocol.quoting import wire_paths


@click.command("ls-tree")
@click.argument("rev")
@click.argument("paths", nargs=-1)
@click.option("-r", "recursive", is_flag=True, help="Recurse into directories.")
@click.option("-d", "trees_only", is_flag=True, help="Only directories (not their files).")
@click.option("-t", "show_trees", is_flag=True, help="With -r or paths: list directories too.")
@click.option("--name-only", "--name-status", "name_only", is_flag=True, help="Only names.")
@click.option("-l", "--long", "long", is_flag=True, help="With each file's size.")
def command(
    rev: str,
    paths: tuple[str, ...],
    recursive: bool,
    trees_only: bool,
    show_trees: bool,
    name_only: bool,
    long: bool,
) -> None:
    """List REV's tree (the current directory's part of it), or the PATHs in it."""
    result = call(
        "ls_tree",
        {
            "rev": rev,
            "paths": wire_paths(paths),
            "recursive": recursive,
            "trees_only": trees_only,
            "show_trees": show_trees,
        },
        progress=False,
    )
    lines = []
    for mode, kind, object_id, size, name in result["entries"]:
        if name_only:
            lines.append(f"{quote_path(name)}\n")
        elif long:
            shown_size = "-" if size is None else str(size)
            lines.append(f"{mode:06o} {kind} {object_id} {shown_size:>7}\t{quote_path(name)}\n")
        else:
            lines.append(f"{mode:06o} {kind} {object_id}\t{quote_path(name)}\n")
    click.echo("".join(lines), nl=False)
