"""``cof archive``: a commit's files as a tar, tar.gz or zip, as git's ``archive``.

The archive is built in the daemon and streamed here (see ``cofctl.stream_out``) to
stdout or to ``-o FILE``, whose extension picks the format when ``--format`` is not
given (``.zip``, ``.tar.gz``/``.tgz``, else tar). The file is created when the first
bytes arrive, so a failure before that (an unknown revision) leaves nothing behind.
"""

from __future__ import annotations

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


@click.command("archive")
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
    """Write REV's files (or only PATHs) as an archive, each dated REV's commit time."""
    params = {"rev": rev, "paths": wire_paths(paths), "prefix": prefix}
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
