"""``cof ls-files``: git's plumbing listing of tracked, untracked and ignored files."""

from __future__ import annotations

import os
from typing import Any

import click

from cofctl.render import emit_json, json_option
from cofctl.runner import call
from cofctl.textfmt import quote_path, relative
from protocol.quoting import wire_paths


class _Shown:
    """Repository paths as seen from the client's directory (``prefix``, in the
    repository): a path below it loses the prefix, any other goes through ``..``."""

    def __init__(self, root: str, prefix: str) -> None:
        self._root = root
        self._cwd = os.path.join(root, prefix)
        self._prefix = os.fsencode(prefix + "/") if prefix else b""

    def __call__(self, path: bytes) -> bytes:
        if path.startswith(self._prefix):
            return path[len(self._prefix) :]
        shown = os.fsencode(relative(self._root, os.fsdecode(path), self._cwd))
        return shown + b"/" if path.endswith(b"/") else shown  # a repository's ``dir/``


def render(result: dict[str, Any], nul: bool) -> bytes:
    """The listing: names quoted as ``cof status`` quotes them, one a line, or
    unquoted and NUL-terminated with ``nul``; with -s a row starts with its mode,
    content id and stage."""
    shown = _Shown(result["root"], result["prefix"])

    def line(path: bytes) -> bytes:
        name = shown(path)
        if nul:
            return name + b"\0"
        return quote_path(name).encode() + b"\n"

    out = [line(path) for path in result["others"]]
    for path, mode, content_id, stage in result["rows"]:
        head = b"" if content_id is None else f"{mode:06o} {content_id.hex()} {stage}\t".encode()
        out.append(head + line(path))
    return b"".join(out)


def json_listing(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The listing for ``--json``: one object per line of the text, in its order, with
    ``path`` as shown there but unquoted (a name that is not UTF-8 with ``\\x``
    escapes); with -s a staging entry also has ``mode`` (octal text, ``"100644"``),
    ``id`` (cof's content id, hex) and ``stage``."""
    shown = _Shown(result["root"], result["prefix"])

    def text(path: bytes) -> str:
        return shown(path).decode("utf-8", "backslashreplace")

    items: list[dict[str, Any]] = [{"path": text(path)} for path in result["others"]]
    for path, mode, content_id, stage in result["rows"]:
        item: dict[str, Any] = {"path": text(path)}
        if content_id is not None:
            item.update(mode=f"{mode:06o}", id=content_id.hex(), stage=stage)
        items.append(item)
    return items


@click.command("ls-files")
@click.argument("paths", nargs=-1)
@click.option("-c", "--cached", is_flag=True, help="Tracked files (the default).")
@click.option(
    "-o",
    "--others",
    is_flag=True,
    help="Untracked files, listed first (a directory only when it is a repository of its "
    "own: once, as DIR/).",
)
@click.option(
    "-m", "--modified", is_flag=True, help="Tracked files that differ from the staging area."
)
@click.option("-d", "--deleted", is_flag=True, help="Tracked files missing from the working tree.")
@click.option(
    "-i",
    "--ignored",
    is_flag=True,
    help="With -o or -c: only files .cofignore ignores (inside ignored directories too).",
)
@click.option(
    "-s",
    "--stage",
    is_flag=True,
    help="'MODE ID STAGE<TAB>PATH': ID is cof's content id (64 digits), not a git "
    "blob id; a conflicted path has a line per side, stages 1 to 3.",
)
@click.option("-z", "nul", is_flag=True, help="End names with NUL, unquoted.")
@json_option
@click.option(
    "--exclude-standard",
    is_flag=True,
    expose_value=False,
    help="Accepted for git's scripts: cof always applies .cofignore.",
)
def command(
    paths: tuple[str, ...],
    cached: bool,
    others: bool,
    modified: bool,
    deleted: bool,
    ignored: bool,
    stage: bool,
    nul: bool,
    as_json: bool,
) -> None:
    """List files under PATHS (default: the current directory), relative to it,
    sorted bytewise: untracked ones first (-o), then each staging entry once per kind
    asked that it is (cached, deleted, modified), as git's ls-files."""
    params = {
        "paths": wire_paths(paths),
        "cached": cached,
        "others": others,
        "modified": modified,
        "deleted": deleted,
        "ignored": ignored,
        "stage": stage,
    }
    result = call("ls_files", params, progress=False)
    if as_json:
        emit_json(json_listing(result))
    else:
        click.echo(render(result, nul), nl=False)
