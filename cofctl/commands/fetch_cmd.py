"""``cof fetch [REMOTE] [--prune] [--force]``, and git's ref lines for fetch and push.

Each ref a fetch or push changes gets git's line (``builtin/fetch.c``,
``transport.c``): a flag (``*`` new, `` `` fast-forward, ``+`` forced, ``t`` tag
replaced by a fetch, ``!`` rejected, ``-`` deleted), a summary column, then the refs.
The summary column is as wide as git makes it for the ids shown (``2 * abbrev + 3``):
cof abbreviates to 12 digits, so its lines are git's with ``core.abbrev = 12``.
"""

from __future__ import annotations

import shutil
from typing import Any

import click

from cofctl.render import emit_json, format_bytes, json_option
from cofctl.runner import call
from cofctl.textfmt import SHORT_ID, short
from protocol.errors import ConflictError, IntegrityError

SUMMARY_WIDTH = 2 * SHORT_ID + 3  # git's: two abbreviated ids and "..."
REF_WIDTH = 10  # git's narrowest remote-ref column in fetch lines
# git widens that column for a ref only when the line fits the terminal, estimating
# the flag and summary at 21 columns (builtin/fetch.c, adjust_refcol_width).
LINE_ESTIMATE = 21
TAGS, REMOTES = "refs/tags/", "refs/remotes/"
TAG_CLOBBER = "would clobber existing tag"  # the reason of a tag a fetch kept


def ref_summary(row: dict[str, Any], tag: bool) -> tuple[str, str, str]:
    """git's flag, summary and parenthesised note for a row of a fetch or a push."""
    status = row["status"]
    if status == "new":
        return "*", "[new tag]" if tag else "[new branch]", ""
    old, new = short(row["old"] or ""), short(row["new"])
    if status == "fast-forward":
        return " ", f"{old}..{new}", ""
    if status == "forced":
        return "+", f"{old}...{new}", "forced update"
    if status == "remote-rejected":
        return "!", "[remote rejected]", row["reason"]
    return "!", "[rejected]", row["reason"]


def summary_column(flag: str, summary: str) -> str:
    return f" {flag} {summary:<{SUMMARY_WIDTH}} "


def _names(row: dict[str, Any], remote: str) -> tuple[str, str]:
    """(the remote's ref, the local ref) as git shows them: ``main``, ``origin/main``."""
    local = row["ref"]
    theirs = local.removeprefix(f"{REMOTES}{remote}/").removeprefix(TAGS)
    return theirs, local.removeprefix(REMOTES).removeprefix(TAGS)


def _ref_width(fetched: dict[str, Any]) -> int:
    """The remote-ref column of a fetch's lines, as git sizes it."""
    columns = shutil.get_terminal_size().columns
    width = REF_WIDTH
    for row in fetched["updated"] + fetched["rejected"]:
        theirs, ours = _names(row, fetched["remote"])
        if LINE_ESTIMATE + len(theirs) + len(" -> ") + len(ours) < columns:
            width = max(width, len(theirs))
    return width


def _fetch_line(row: dict[str, Any], remote: str, width: int) -> str:
    theirs, ours = _names(row, remote)
    tag = row["ref"].startswith(TAGS)
    flag, summary, note = ref_summary(row, tag)
    if tag and row["status"] == "forced":  # a tag moved by fetch --force
        flag, summary, note = "t", "[tag update]", ""
    line = f"{summary_column(flag, summary)}{theirs:<{width}} -> {ours}"
    return f"{line}  ({note})" if note else line


def print_transfer(fetched: dict[str, Any]) -> None:
    """The transfer summary on stderr (progress), ref lines on stdout; nothing at all
    when nothing changed (as git)."""
    stats = fetched["stats"]
    if stats["listed"] or fetched["updated"]:
        rate = format_bytes(stats["rate"]) + "/s"
        click.echo(
            f"Received {stats['blocks']} blocks ({format_bytes(stats['bytes'])}) in "
            f"{stats['seconds']:.2f} s, {rate}; {stats['skipped']} of {stats['listed']} "
            "listed were already here",
            err=True,
        )
    width = _ref_width(fetched)
    rows = fetched["updated"] + fetched["rejected"]
    # Branches in the daemon's order (git's: the upstream first), then tags by name.
    for row in sorted(rows, key=lambda r: r["ref"] if r["ref"].startswith(TAGS) else ""):
        click.echo(_fetch_line(row, fetched["remote"], width))


def print_fetch(fetched: dict[str, Any]) -> None:
    """What a fetch (or the fetch of a pull) says, as git: ``From URL`` when something
    was listed or changed, the pruned branches, the transfer and the ref lines."""
    if fetched["stats"]["listed"] or any(fetched[k] for k in ("updated", "pruned", "rejected")):
        click.echo(f"From {fetched['url']}")
    print_pruned(fetched)
    print_transfer(fetched)


def print_pruned(fetched: dict[str, Any]) -> None:
    """git's lines for deleted remote-tracking branches."""
    width = _ref_width(fetched)
    for row in fetched["pruned"]:
        name = row["ref"].removeprefix(REMOTES)
        click.echo(f"{summary_column('-', '[deleted]')}{'(none)':<{width}} -> {name}")


def refuse_rejected(fetched: dict[str, Any], pulling: bool = False, quiet: bool = False) -> None:
    """Exit non-zero when a ref was left alone, in one line saying why for each kind:
    a tag kept (as git's ``fetch --tags``: exit 7), a ref naming an object of the
    wrong kind (exit 10, as every integrity error). ``pulling``: nothing is merged,
    as git's pull stops when its fetch fails. The tags kept are named when no ref line
    did (``pulling`` or ``quiet``: git's ``fetch -q`` prints none, not even the
    rejected one, and says nothing at all; cof's one error line names them)."""
    kept = [row for row in fetched["rejected"] if row["reason"] == TAG_CLOBBER]
    wrong = [row for row in fetched["rejected"] if row["reason"] != TAG_CLOBBER]
    parts = []
    if wrong:
        parts.append("not fetched: " + "; ".join(_wrong_kind(row, fetched) for row in wrong))
    if kept:
        names = [row["ref"].removeprefix(TAGS) for row in kept]
        parts.append(_kept_tags(names, pulling or quiet))
    if not parts:
        return
    message = "; ".join(parts) + (" (cof fetch --force takes the remote's)" if kept else "")
    if pulling:
        message = f"nothing merged: {message}"
    raise (IntegrityError if wrong else ConflictError)(message)


def _wrong_kind(row: dict[str, Any], fetched: dict[str, Any]) -> str:
    theirs, _ = _names(row, fetched["remote"])
    full = row["ref"] if row["ref"].startswith(TAGS) else f"refs/heads/{theirs}"
    return f"{full} ({short(row['new'])}) of {fetched['url']} is {row['reason']}"


def _kept_tags(names: list[str], named: bool) -> str:
    if named:
        if len(names) == 1:
            return f"the local tag {names[0]} differs from the remote's and was kept"
        return f"the local tags {', '.join(names)} differ from the remote's and were kept"
    if len(names) == 1:
        return "a local tag differs from the remote's and was kept"
    return f"{len(names)} local tags differ from the remote's and were kept"


@click.command("fetch")
@click.argument("remote", required=False)
@click.option(
    "-p",
    "--prune",
    is_flag=True,
    help="Delete the remote-tracking branches of branches the remote no longer has.",
)
@click.option(
    "-f", "--force", is_flag=True, help="Replace local tags that differ from the remote's."
)
@click.option(
    "-t", "--tags", is_flag=True, help="Fetch every tag (cof always does; as git's flag)."
)
@click.option("-q", "--quiet", is_flag=True, help="Print only errors.")
@json_option
def command(
    remote: str | None, prune: bool, force: bool, tags: bool, quiet: bool, as_json: bool
) -> None:
    """Download new commits and blocks from REMOTE (default: the current branch's
    upstream's, else origin). Tags are created when absent; one that differs from the
    local tag of its name is kept as it is unless --force."""
    params = {"remote": remote, "prune": prune, "force": force}
    result = call("fetch", params, progress=not quiet)
    if as_json:
        emit_json(result)
    elif not quiet:  # as git's fetch -q: not even a kept tag's line, only the error
        print_fetch(result)
    refuse_rejected(result, quiet=quiet and not as_json)
