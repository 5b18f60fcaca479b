"""``.cofignore`` files, with gitignore semantics (the ``pathspec`` library).

Each directory may hold a ``.cofignore``; its patterns are relative to that
directory, and a deeper file's decision (including ``!`` re-includes) overrides a
shallower one, as in git. ``.cof`` is always ignored, and so are the temp files cof
writes beside a working file (``is_write_temp``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pathspec

IGNORE_FILE = ".cofignore"
# An ignore file larger than this is almost certainly not one; refuse to parse it.
MAX_IGNORE_FILE_BYTES = 1024 * 1024
# Directory names cof never tracks or writes: its own (a nested repository's too) and
# git's, whose hooks a checkout must never be able to plant. Compared ignoring case,
# since on a case-insensitive file system ``.GIT`` is ``.git``.
RESERVED_DIRS = frozenset({".cof", ".git"})
# A working file is written under .cof/tmp and renamed into place; only where that
# rename cannot work (another file system mounted inside the working tree) is it
# written beside its destination, as ".cof-<pid>-<n>.tmp". Versions before .cof/tmp
# wrote every file beside it as ".<name>.cof-<pid>.tmp". A kill may leave either
# behind, and neither is ever the user's work.
_WRITE_TEMP_NAME = re.compile(r"\.cof-[0-9]+-[0-9]+\.tmp|\..+\.cof-[0-9]+\.tmp")


def is_write_temp(name: str) -> bool:
    """Whether the file name ``name`` is one cof gives a working file being written."""
    return name.endswith(".tmp") and _WRITE_TEMP_NAME.fullmatch(name) is not None


class IgnoreRules:
    """Caches the parsed ``.cofignore`` of each directory for one walk."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._specs: dict[str, pathspec.GitIgnoreSpec | None] = {}

    def _spec(self, directory: str) -> pathspec.GitIgnoreSpec | None:
        if directory not in self._specs:
            path = self._root / directory / IGNORE_FILE if directory else self._root / IGNORE_FILE
            spec = None
            try:
                if path.is_file() and path.stat().st_size <= MAX_IGNORE_FILE_BYTES:
                    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
                    spec = pathspec.GitIgnoreSpec.from_lines(lines)
            except OSError:
                spec = None  # unreadable ignore file: ignore nothing rather than fail
            self._specs[directory] = spec
        return self._specs[directory]

    def has_rules(self, directory: str) -> bool:
        """Whether ``directory`` itself holds a ``.cofignore`` (cached)."""
        return self._spec(directory) is not None

    def is_ignored(self, relpath: str, is_dir: bool) -> bool:
        """Whether ``relpath`` (posix, relative to the root) is ignored."""
        parts = relpath.split("/")
        if any(part.lower() in RESERVED_DIRS for part in parts):
            # cof's own directory, a nested repository's, and git's: never tracked.
            return True
        if not is_dir and is_write_temp(parts[-1]):
            return True
        decision = False
        # Walk from the root down: deeper ignore files override shallower ones.
        for depth in range(len(parts)):
            directory = "/".join(parts[:depth])
            spec = self._spec(directory)
            if spec is None:
                continue
            sub = "/".join(parts[depth:]) + ("/" if is_dir else "")
            result = spec.check_file(sub)
            if result.include is not None:
                decision = result.include
        return decision
