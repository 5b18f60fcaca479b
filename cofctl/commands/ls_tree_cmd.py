"""``cof ls-tree``: the entries of a tree, in git's ``ls-tree`` format.

A line is ``MODE TYPE ID<TAB>NAME`` (``-l``: the size before the tab, ``-`` for a
directory), with cof's content ids in place of git's object ids; names are quoted
as git quotes them. ``--name-only``/``--name-status`` (the same, as in git 2.39),
``--object-only`` and ``--format`` (:mod:`cofctl.tree_format`) choose other lines;
``-z`` ends each with NUL and leaves names unquoted.
"""

from __future__ import annotations

import click

from cofctl import tree_format
from cofctl.runner import call
from cofctl.textfmt import SHORT_ID
from protocol.errors import UsageError
from protocol.quoting import wire_paths


class LsTreeCommand(click.Command):
    """A bare ``--abbrev`` is made explicit (``--abbrev=12``): click would take the
    next word (the revision) as its value, git never does (``--abbrev[=N]``)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        end = args.index("--") if "--" in args else len(args)
        args = [f"--abbrev={SHORT_ID}" if a == "--abbrev" else a for a in args[:end]] + args[end:]
        return super().parse_args(ctx, args)


def _line_format(
    fmt: str | None, long: bool, name_only: bool, name_status: bool, object_only: bool
) -> str:
    """The format the options ask for, or git's refusal of two of them together."""
    modes = [
        flag
        for flag, given in (
            ("--long", long),
            ("--name-only", name_only),
            ("--name-status", name_status),
            ("--object-only", object_only),
        )
        if given
    ]
    if len(modes) > 1:
        raise UsageError(f"options '{modes[0]}' and '{modes[1]}' cannot be used together")
    if fmt is not None:
        if modes:
            raise UsageError("--format can't be combined with other format-altering options")
        return fmt
    if long:
        return tree_format.LONG
    if name_only or name_status:
        return tree_format.NAME_ONLY
    return tree_format.OBJECT_ONLY if object_only else tree_format.DEFAULT


@click.command("ls-tree", cls=LsTreeCommand)
@click.argument("rev")
@click.argument("paths", nargs=-1)
@click.option("-r", "recursive", is_flag=True, help="Recurse into directories.")
@click.option("-d", "trees_only", is_flag=True, help="Only directories (not their files).")
@click.option("-t", "show_trees", is_flag=True, help="With -r or paths: list directories too.")
@click.option("-z", "nul", is_flag=True, help="End lines with NUL; names unquoted.")
@click.option("-l", "--long", "long", is_flag=True, help="With each file's size.")
@click.option("--name-only", is_flag=True, help="Only names.")
@click.option("--name-status", is_flag=True, help="Only names (as --name-only, as git).")
@click.option("--object-only", is_flag=True, help="Only ids.")
@click.option("--full-name", is_flag=True, help="Names from the top, not the current directory.")
@click.option(
    "--full-tree",
    is_flag=True,
    help="List the whole tree, PATHs from the top, as if run there (implies --full-name).",
)
@click.option(
    "--format",
    "fmt",
    metavar="FORMAT",
    help="Each line from FORMAT: %(objectmode) %(objecttype) %(objectname) "
    "%(objectsize) %(objectsize:padded) %(path), %% %n %xNN.",
)
@click.option(
    "--abbrev",
    type=int,
    metavar="[=N]",
    help=f"Ids as unique prefixes of at least N digits (default {SHORT_ID}, at least 4; 0: whole).",
)
def command(
    rev: str,
    paths: tuple[str, ...],
    recursive: bool,
    trees_only: bool,
    show_trees: bool,
    nul: bool,
    long: bool,
    name_only: bool,
    name_status: bool,
    object_only: bool,
    full_name: bool,
    full_tree: bool,
    fmt: str | None,
    abbrev: int | None,
) -> None:
    """List the tree REV names (a revision, REV:DIR, REV^{tree} or a tree's id),
    the current directory's part of it, or the PATHs in it."""
    pieces = tree_format.parse(_line_format(fmt, long, name_only, name_status, object_only))
    result = call(
        "ls_tree",
        {
            "rev": rev,
            "paths": wire_paths(paths),
            "recursive": recursive,
            "trees_only": trees_only,
            "show_trees": show_trees,
            "full_name": full_name or full_tree,
            "full_tree": full_tree,
            "abbrev": abbrev,
        },
        progress=False,
    )
    out = b"".join(tree_format.render(pieces, row, nul) for row in result["entries"])
    click.echo(out, nl=False)
