"""Text formatting shared by commands: git-style path quoting, dates, short ids."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone

SHORT_ID = 12  # hex digits shown for abbreviated ids (48 bits: unique in practice)

_ESCAPES = {
    7: "\\a",
    8: "\\b",
    9: "\\t",
    10: "\\n",
    11: "\\v",
    12: "\\f",
    13: "\\r",
    34: '\\"',
    92: "\\\\",
}


def quote_path(path: str, quote_space: bool = True) -> str:
    """Quote a path as git does with ``core.quotePath`` on: C escapes and octal for
    control characters and non-ASCII bytes, double quotes around the whole."""
    raw = os.fsencode(path)
    needs = any(b < 0x20 or b >= 0x7F or b in (34, 92) or (quote_space and b == 32) for b in raw)
    if not needs:
        return path
    out = []
    for b in raw:
        if b in _ESCAPES:
            out.append(_ESCAPES[b])
        elif b < 0x20 or b >= 0x7F:
            out.append(f"\\{b:03o}")
        else:
            out.append(chr(b))
    return '"' + "".join(out) + '"'


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
