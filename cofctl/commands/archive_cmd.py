"""``cof archive``: a commit's files as a tar, tar.gz or zip, as git's ``archive``.

The archive is built in the daemon and streamed here (see ``cofctl.stream_out``) to
stdout or to ``-o FILE``, whose extension picks the format when ``--format`` is not
given (``.zip``, ``.tar.gz``/``.tgz``, else tar). The file is created when the first
bytes arrive, so a failure before that (an unknown revision) leaves nothing behind.
``-0``..``-9`` is git's compression level (zip and tar.gz; git refuses it for tar).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import BinaryIO

import click

from cofctl.stream_out import (
    BrokenOutputError,
    call_streaming,
    quiet_exit_after_broken_pipe,
    stdout_writer,
)
from protocol.errors import UsageError
from protocol.quoting import wire_paths

_FORMATS = {"tar": "tar", "zip": "zip", "tgz": "tgz", "tar.gz": "tgz"}
_LEVEL = re.compile(r"^-(\d+)$")
_LEVEL_KEY = "cof.archive_level"


class ArchiveCommand(click.Command):
    """Takes git's ``-NUM`` (the last one given counts) before click sees the rest:
    click has no option for "any number"."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        end = args.index("--") if "--" in args else len(args)
        levels = [m[1] for m in map(_LEVEL.match, args[:end]) if m is not None]
        ctx.meta[_LEVEL_KEY] = int(levels[-1]) if levels else None
        rest = [a for a in args[:end] if _LEVEL.match(a) is None] + args[end:]
        return super().parse_args(ctx, rest)


def format_for(name: str | None, output: str | None) -> str:
    """``--format``'s value, or the one ``-o``'s extension names (tar otherwise)."""
    if name is not None:
        if name not in _FORMATS:
            raise UsageError(f"unknown archive format '{name}'")
        return _FORMATS[name]
    lowered = (output or "").lower()
    if lowered.endswith(".zip"):
        return "zip"
    if lowered.endswith((".tar.gz", ".tgz")):
        return "tgz"
    return "tar"


class _LazyFile:
    """Writes to ``path``, opening it at the first write."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file: BinaryIO | None = None

    def __call__(self, data: bytes) -> None:
        if self.file is None:
            try:
                self.file = self.path.open("wb")
            except OSError as exc:
                raise UsageError(
                    f"could not create archive file '{self.path}': {exc.strerror}"
                ) from None
        self.file.write(data)


@click.command("archive", cls=ArchiveCommand)
@click.argument("rev")
@click.argument("paths", nargs=-1)
@click.option("--format", "fmt", metavar="FMT", help="tar, tar.gz (tgz) or zip.")
@click.option("-o", "--output", metavar="FILE", help="Write to FILE instead of stdout.")
@click.option("--prefix", default="", metavar="PREFIX/", help="Put PREFIX/ before every name.")
@click.pass_context
def command(
    ctx: click.Context,
    rev: str,
    paths: tuple[str, ...],
    fmt: str | None,
    output: str | None,
    prefix: str,
) -> None:
    """Write REV's files (or only PATHs) as an archive, each dated REV's commit time
    (REV:DIR or REV^{tree}: a tree, dated now, as git).

    -0 .. -9: the compression level (zip: -0 stores every file; tar.gz: gzip's
    level; 6 by default)."""
    params = {"rev": rev, "paths": wire_paths(paths), "prefix": prefix}
    params["level"] = ctx.meta[_LEVEL_KEY]
    params["format"] = format_for(fmt, output)
    if output is None:
        try:
            call_streaming("archive", params, stdout_writer())
        except BrokenOutputError:
            ctx.exit(quiet_exit_after_broken_pipe())
        return
    target = _LazyFile(Path(output))
    try:
        call_streaming("archive", params, target)
    finally:
        if target.file is not None:
            target.file.close()
