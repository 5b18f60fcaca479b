"""Output helpers for commands: the progress line on stderr and ``--json`` output.

Progress dicts (sent by operations through ``ctx.progress``) use these keys, all
optional:

    ``phase``: what is happening, one word or two ("hashing", "writing packs");
    ``done`` / ``total``: numbers of ``unit`` processed / expected (``total`` may be
        absent or None when unknown);
    ``unit``: ``"bytes"`` (rendered as KiB/MiB/GiB) or a plural noun (``"files"``);
    ``item``: the current file or object, shown at the end of the line.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO

import click

# Quick commands stay silent: progress appears once an operation has run this long.
PROGRESS_DELAY = 1.0
# Redraw rate on a terminal; and how often a line is logged when stderr is a file.
TTY_INTERVAL = 0.1
PLAIN_INTERVAL = 5.0

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print machine-readable JSON on stdout."
)


def emit_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout (bytes as hex)."""
    import json  # here, not at the top: most runs of most commands print no JSON

    click.echo(
        json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=_json_default)
    )


def _json_default(value: object) -> Any:
    if isinstance(value, bytes | bytearray):
        return value.hex()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def format_bytes(count: float) -> str:
    """``1536`` → ``1.5 KiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(count) < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def format_progress(data: Mapping[str, Any]) -> str:
    """One line for a progress dict, e.g. ``hashing 1.5/3.0 MiB (50%) big.bin``."""
    parts = [str(data.get("phase") or "working")]
    done, total, unit = data.get("done"), data.get("total"), data.get("unit") or ""
    if isinstance(done, int | float):
        known = total if isinstance(total, int | float) and total > 0 else None
        if unit == "bytes":
            amount = format_bytes(done) + (f" / {format_bytes(known)}" if known else "")
        else:
            amount = f"{done}" + (f"/{known}" if known else "") + (f" {unit}" if unit else "")
        parts.append(amount)
        if known:
            parts.append(f"({min(100, int(done * 100 // known))}%)")
    if data.get("item"):
        parts.append(str(data["item"]))
    return " ".join(parts)


class ProgressLine:
    """Renders progress dicts on ``stream``: a ``\\r``-updated line on a terminal,
    an occasional plain line otherwise; nothing for the first second.

    Use as a context manager so the line is cleared when the operation ends.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        tty: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._tty = stream.isatty() if tty is None else tty
        self._clock = clock
        self._start = clock()
        self._last_draw = float("-inf")
        self._last_phase: object = None
        self._width = 0

    def __enter__(self) -> ProgressLine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.clear()

    def update(self, data: Mapping[str, Any]) -> None:
        """Show ``data`` if enough time has passed (callback for ``Client.call``)."""
        now = self._clock()
        if now - self._start < PROGRESS_DELAY:
            return
        interval = TTY_INTERVAL if self._tty else PLAIN_INTERVAL
        phase = data.get("phase")
        if now - self._last_draw < interval and phase == self._last_phase:
            return
        self._last_draw, self._last_phase = now, phase
        text = format_progress(data)
        if self._tty:
            import shutil  # here, not at the top: only slow operations on a terminal draw

            text = text[: shutil.get_terminal_size().columns - 1]
            self._stream.write("\r" + text.ljust(self._width))
            self._width = len(text)
        else:
            self._stream.write(text + "\n")
        self._stream.flush()

    def clear(self) -> None:
        """Erase the terminal line, so the command's own output starts clean."""
        if self._tty and self._width:
            self._stream.write("\r" + " " * self._width + "\r")
            self._stream.flush()
            self._width = 0
