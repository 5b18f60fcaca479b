"""``cof rev-parse``: git's plumbing for scripts, one line per revision or query.

As in git, the output follows the command line: ``--show-toplevel HEAD`` prints the
top level first, ``HEAD --show-toplevel`` the id first; ``--verify``, ``-q``,
``--short``, ``--abbrev-ref`` and ``--symbolic-full-name`` apply to every REV.
"""

from __future__ import annotations

import re

import click

from cofctl.render import emit_json, json_option
from cofctl.runner import call
from cofctl.textfmt import SHORT_ID
from protocol.errors import PathError, RevisionError

# The flags that print a line where they stand on the command line.
QUERIES = ("--show-toplevel", "--show-prefix", "--is-inside-work-tree", "--cof-dir")
_PLAN_KEY = "cof.rev_parse_plan"
_LEADING_DIGITS = re.compile(r"^\d*")
EXIT_INVALID_QUIET = 1  # as git's ``rev-parse -q --verify`` for an invalid revision


class RevParseCommand(click.Command):
    """Records what to print in command-line order (click keeps no order between
    options); a bare ``--short`` is made explicit (``--short=12``), since click
    would take the next word as its value."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        args = [f"--short={SHORT_ID}" if a == "--short" else a for a in args]
        plan: list[tuple[str, str]] = []
        rest = False  # after "--": revisions only
        for arg in args:
            if rest or arg == "-" or not arg.startswith("-"):
                plan.append(("rev", arg))
            elif arg == "--":
                rest = True
            elif arg in QUERIES:
                plan.append(("query", arg))
        ctx.meta[_PLAN_KEY] = plan
        return super().parse_args(ctx, args)


def _query_flag(name: str, text: str) -> click.Option:
    return click.Option([name], is_flag=True, expose_value=False, help=text)


@click.command(
    "rev-parse",
    cls=RevParseCommand,
    params=[
        _query_flag("--show-toplevel", "The working tree's top directory (absolute)."),
        _query_flag("--show-prefix", "The current directory from the top ('d/e/'; empty there)."),
        _query_flag("--is-inside-work-tree", "'true', or 'false' inside .cof."),
        _query_flag(
            "--cof-dir",
            "The absolute path of .cof (git's --git-dir, which prints '.git' "
            "relatively at the top: this is always absolute, as --absolute-git-dir).",
        ),
    ],
)
@click.argument("revs", nargs=-1)
@click.option("--verify", is_flag=True, help="Exactly one REV, which must be valid.")
@click.option(
    "-q", "--quiet", is_flag=True, help="With --verify: an invalid REV exits 1 saying nothing."
)
@click.option(
    "--short",
    metavar="[=N]",
    help=f"As --verify, abbreviated to a unique prefix of at least N digits "
    f"(default {SHORT_ID}, at least 4).",
)
@click.option(
    "--abbrev-ref",
    "names",
    flag_value="abbrev",
    help="The short name of the ref each REV names (HEAD: its branch, or HEAD when detached).",
)
@click.option(
    "--symbolic-full-name",
    "names",
    flag_value="full",
    help="The full name of the ref each REV names (refs/heads/main); nothing for an id.",
)
@json_option
@click.pass_context
def command(
    ctx: click.Context,
    revs: tuple[str, ...],
    verify: bool,
    quiet: bool,
    short: str | None,
    names: str | None,
    as_json: bool,
) -> None:
    """Print the full id of each REV (a tag's name: the tag's own id; REV^{commit}
    peels it), one a line, or what the queries ask, in command-line order.

    With --json: a list in that order, one ``{"arg", "value"}`` per REV or query;
    ``value`` is the line's text, null where no line is printed (--symbolic-full-name
    of an id), and a boolean for --is-inside-work-tree."""
    plan: list[tuple[str, str]] = ctx.meta[_PLAN_KEY]
    params = {
        "revs": [word for kind, word in plan if kind == "rev"],
        "verify": verify or short is not None,
        "names": names,
        "short": _length(short) if short is not None else None,
    }
    try:
        result = call("rev_parse", params, progress=False)
    except RevisionError:
        if params["verify"] and quiet:
            ctx.exit(EXIT_INVALID_QUIET)
        raise
    for warning in result["warnings"]:
        click.echo(f"cof: warning: {warning}", err=True)
    lines = iter(result["revs"])
    answers = [
        {"arg": word, "value": _query_value(result, word) if kind == "query" else next(lines)}
        for kind, word in plan
    ]
    if as_json:
        emit_json(answers)
        return
    out = [_line(answer["value"]) for answer in answers if answer["value"] is not None]
    click.echo("".join(out), nl=False)


def _length(text: str) -> int:
    """``--short=N``'s N as git's strtoul reads it: the leading digits (none: 0, which
    the daemon raises to the minimum)."""
    digits = _LEADING_DIGITS.match(text)
    return int(digits[0]) if digits is not None and digits[0] else 0


def _query_value(result: dict[str, object], flag: str) -> str | bool:
    if flag == "--show-toplevel":
        if result["toplevel"] is None:
            raise PathError("this operation must be run in a work tree (not inside .cof)")
        return str(result["toplevel"])
    if flag == "--show-prefix":
        return str(result["prefix"])
    if flag == "--is-inside-work-tree":
        return bool(result["inside_work_tree"])
    return str(result["cof_dir"])


def _line(value: str | bool) -> str:
    if isinstance(value, bool):
        return ("true" if value else "false") + "\n"
    return value + "\n"
