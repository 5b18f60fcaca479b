"""Text formatting shared by commands: git-style path quoting, dates, short ids."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone

# git's quoting (core.quotePath): one function for every path cof prints, shared
# with the daemon, which quotes the paths of patch headers.
from protocol.quoting import quote_path

__all__ = ["SHORT_ID", "format_date", "quote_path", "relative", "short", "upstream_set_line"]

SHORT_ID = 12  # hex digits shown for abbreviated ids (48 bits: unique in practice)


def format_date(timestamp: int, tz_minutes: int) -> str:
    """``Sat Nov 21 12:00:00 2026 +0100``, git's default date format."""
    tz = timezone(timedelta(minutes=tz_minutes))
    when = datetime.fromtimestamp(timestamp, UTC).astimezone(tz)
    sign = "+" if tz_minutes >= 0 else "-"
    offset = f"{sign}{abs(tz_minutes) // 60:02d}{abs(tz_minutes) % 60:02d}"
    return when.strftime("%a %b %-d %H:%M:%S %Y ") + offset


def short(hex_id: str) -> str:
    return hex_id[:SHORT_ID]


def relative(root: str, path: str, cwd: str | None = None) -> str:
    """A repository path as seen from the current directory."""
    return os.path.relpath(os.path.join(root, path), cwd or os.getcwd())


def upstream_set_line(branch: str, upstream: dict[str, str]) -> str:
    """What git prints when a branch starts tracking a remote-tracking branch."""
    return f"branch '{branch}' set up to track '{upstream['remote']}/{upstream['branch']}'."
