"""``cof log`` and ``cof show``: commit history and one commit in detail."""

from __future__ import annotations

import shutil
from typing import Any

import click

from cofctl.dashdash import DashDashCommand, after_dashdash
from cofctl.graph import graph_lines
from cofctl.render import emit_json, format_bytes, json_option
from cofctl.runner import call
from cofctl.textfmt import format_date, quote_path, short
from protocol.quoting import wire_paths


def decoration(
    info: dict[str, Any], refs: dict[str, list[str]], head: str, head_ref: str | None
) -> str:
    names: list[str] = []
    for name in sorted(refs.get(info["id"], [])):
        label = name.removeprefix("refs/heads/").removeprefix("refs/remotes/")
        if name.startswith("refs/tags/"):
            label = "tag: " + name.removeprefix("refs/tags/")
        if name == head_ref:
            names.insert(0, f"HEAD -> {label}")
        else:
            names.append(label)
    if info["id"] == head and head_ref is None:
        names.insert(0, "HEAD")
    return f" ({', '.join(names)})" if names else ""


def binary_change(change: dict[str, Any]) -> str:
    """``1.0 MiB -> 1.0 MiB (1 of 256 blocks changed)`` for a binary file's change."""
    old = format_bytes(change["old_size"] or 0)
    new = format_bytes(change["new_size"] or 0)
    return f"{old} -> {new} ({change['changed_blocks']} of {change['blocks']} blocks changed)"


def _scale(it: int, width: int, max_change: int) -> int:
    """git's ``scale_linear``: at least one column for any change."""
    return 1 + it * (width - 1) // max_change if it else 0


def _graph(added: int, deleted: int, width: int, max_change: int) -> str:
    """The ``+++--`` bar, scaled as git scales it when the counts do not fit."""
    if width <= max_change:
        total = _scale(added + deleted, width, max_change)
        if total < 2 and added and deleted:
            total = 2
        if added < deleted:
            added = _scale(added, width, max_change)
            deleted = total - added
        else:
            deleted = _scale(deleted, width, max_change)
            added = total - deleted
    return "+" * added + "-" * deleted


def _fit_name(name: str, width: int) -> str:
    """The name in ``width`` columns: git keeps its end behind ``...``, from a ``/``."""
    if len(name) <= width:
        return name.ljust(width)
    room = max(width - 3, 0)
    tail = name[len(name) - room :]
    slash = tail.find("/")
    return ("..." + (tail[slash:] if slash >= 0 else tail)).ljust(width)


def _stat_widths(changes: list[dict[str, Any]], names: list[str]) -> tuple[int, int, int, int]:
    """git's ``show_stats`` layout: (name, number, graph widths, largest count). The
    line fits the terminal (80 columns when not one); the graph takes at most 3/8 of
    it when something must give. A binary file's detail counts as git's ``Bin ...``."""
    counts = [c["added_lines"] + c["deleted_lines"] for c in changes if not c.get("binary")]
    bins = [len(binary_change(c)) + len("Bin ") for c in changes if c.get("binary")]
    max_change, bin_width = max(counts, default=0), max(bins, default=0)
    number = max(len(str(max_change)), len("Bin") if bins else 0)
    width = max(shutil.get_terminal_size().columns, 16 + 6 + number)
    graph = max_change if max_change + 4 > bin_width else bin_width - 4
    name = max(len(n) for n in names)
    if name + number + 6 + graph > width:
        if graph > width * 3 // 8 - number - 6:
            graph = max(width * 3 // 8 - number - 6, 6)
        if name > width - number - 6 - graph:
            name = width - number - 6 - graph
        else:
            graph = width - number - 6 - name
    return name, number, graph, max_change


def stat_lines(changes: list[dict[str, Any]]) -> list[str]:
    """git's ``--stat`` lines and summary; a binary file shows cof's own detail
    (sizes and blocks changed) where git shows ``Bin X -> Y bytes``."""
    if not changes:
        return []
    changes = [{"added_lines": 0, "deleted_lines": 0, **c} for c in changes]
    names = [quote_path(c["path"]) for c in changes]
    name_width, number, graph, max_change = _stat_widths(changes, names)
    out = []
    for c, name in zip(changes, names, strict=True):
        left = f" {_fit_name(name, name_width)} | "
        if c.get("binary"):
            out.append(f"{left}{'Bin':>{number}} {binary_change(c)}")
            continue
        a, d = c["added_lines"], c["deleted_lines"]
        bar = _graph(a, d, graph, max_change)
        out.append(f"{left}{a + d:>{number}}{' ' if a + d else ''}{bar}")
    added = sum(c["added_lines"] for c in changes if not c.get("binary"))
    deleted = sum(c["deleted_lines"] for c in changes if not c.get("binary"))
    return [*out, _stat_summary(len(changes), added, deleted)]


def _stat_summary(files: int, added: int, deleted: int) -> str:
    """git's ``print_stat_summary``: a zero count is left out, unless both are."""
    summary = f" {files} file{'s' if files != 1 else ''} changed"
    if added or not deleted:
        summary += f", {added} insertion{'s' if added != 1 else ''}(+)"
    if deleted or not added:
        summary += f", {deleted} deletion{'s' if deleted != 1 else ''}(-)"
    return summary


def header_lines(info: dict[str, Any], deco: str) -> list[str]:
    lines = [f"commit {info['id']}{deco}"]
    if len(info["parents"]) > 1:
        lines.append("Merge: " + " ".join(short(p) for p in info["parents"]))
    lines.append(f"Author: {info['author']}")
    lines.append(f"Date:   {format_date(info['author_time'], info['author_tz'])}")
    lines.append("")
    # Indented as git's medium format: a blank line of the message is four spaces.
    lines += [f"    {line.rstrip()}" for line in info["message"].rstrip("\n").split("\n")]
    return lines


@click.command("log", cls=DashDashCommand)
@click.argument("rev", required=False)
@click.option(
    "-n", "--max-count", "limit", type=click.IntRange(min=0), help="Show at most N commits."
)
@click.option("--oneline", is_flag=True, help="One line per commit.")
@click.option("--stat", is_flag=True, help="List the files each commit changed.")
@click.option("--graph", is_flag=True, help="Draw the history as a graph.")
@json_option
def command(
    rev: str | None, limit: int | None, oneline: bool, stat: bool, graph: bool, as_json: bool
) -> None:
    """Show the commit history, newest first (REV, A..B; -- PATH limits to a path)."""
    # With --graph, -n counts commits in graph order, which needs the whole history
    # first (as git's --topo-order does): the daemon lists everything, we cut.
    whole = graph and not as_json
    query = {"rev": rev, "n": None if whole else limit, "stat": stat}
    result = call("log", {**query, "paths": wire_paths(after_dashdash() or [])})
    if as_json:
        emit_json(result["commits"])
        return
    if graph:
        _print_graph(result, oneline, stat, limit)
        return
    first = True
    for info in result["commits"]:
        deco = decoration(info, result["refs"], result["head"], result["head_ref"])
        if oneline:
            summary = info["message"].split("\n", 1)[0]
            click.echo(f"{short(info['id'])}{deco} {summary}")
            lines = stat_lines(info.get("changes", []))
        else:
            if not first:
                click.echo("")
            lines = header_lines(info, deco)
            if stat and info.get("changes"):
                lines += ["", *stat_lines(info["changes"])]
        first = False
        if lines:
            click.echo("\n".join(lines))


def topo_order(commits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """git's order for ``--graph`` (``--topo-order``): no parent before all its
    children, and one line of history at a time, the last parent's line first.
    ``commits`` come newest first; among tips the newest goes first."""
    by_id = {c["id"]: c for c in commits}
    indegree = dict.fromkeys(by_id, 1)
    for c in commits:
        for p in c["parents"]:
            if p in indegree:
                indegree[p] += 1
    stack = [c["id"] for c in reversed(commits) if indegree[c["id"]] == 1]
    out = []
    while stack:
        info = by_id[stack.pop()]
        out.append(info)
        for p in info["parents"]:
            if p in indegree:
                indegree[p] -= 1
                if indegree[p] == 1:
                    stack.append(p)
    return out


def _print_graph(result: dict[str, Any], oneline: bool, stat: bool, limit: int | None) -> None:
    """``log --graph``: the graph rows beside each commit's text, and its stat (none
    for a merge, as git) under it, beside the lanes that continue."""
    commits = topo_order(result["commits"])
    by_id = {c["id"]: c for c in commits}
    rows = graph_lines([(c["id"], [p for p in c["parents"] if p in by_id]) for c in commits])
    order = iter(commits[:limit] if limit is not None else commits)
    for prefix, is_commit in rows:
        if not is_commit:
            click.echo(prefix)
            continue
        info = next(order, None)
        if info is None:  # -n reached: git stops drawing at the last commit shown
            return
        deco = decoration(info, result["refs"], result["head"], result["head_ref"])
        # Every lane open at this row continues beside the commit's text.
        pad = prefix.replace("*", "|" if info["parents"] else " ") + " "
        if oneline:
            click.echo(f"{prefix} {short(info['id'])}{deco} {info['message'].split(chr(10))[0]}")
        else:
            lines = header_lines(info, deco)
            click.echo(f"{prefix} {lines[0]}")
            for line in lines[1:]:
                click.echo(f"{pad}{line}".rstrip())
        changes = info.get("changes") or []
        if stat and changes and len(info["parents"]) < 2:
            for line in ([] if oneline else [""]) + stat_lines(changes):
                click.echo(f"{pad}{line}".rstrip())


@click.command("show")
@click.argument("rev", required=False)
@click.option("--stat", "stat_only", is_flag=True, help="Only the list of changed files.")
@json_option
def show_command(rev: str | None, stat_only: bool, as_json: bool) -> None:
    """Show a commit (default HEAD): its message and what it changed."""
    info = call("show", {"rev": rev})
    if as_json:
        emit_json(info)
        return
    lines = header_lines(info, "")
    lines += ["", *stat_lines(info["changes"])]
    if not stat_only:
        for change, patch in zip(info["changes"], info["patches"], strict=True):
            if patch:
                lines += ["", patch.rstrip("\n")]
            elif change.get("binary"):
                lines += ["", f"Binary file {quote_path(change['path'])} differs"]
    click.echo("\n".join(lines))
