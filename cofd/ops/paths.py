"""Pathspecs: turning the client's arguments into repository-relative paths."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from protocol.errors import PathError


def repo_relative(root: Path, cwd: Path, arg: str) -> str:
    """``arg`` (relative to ``cwd`` or absolute) as a posix path relative to ``root``.

    Returns ``""`` for the root itself. The path is normalised lexically (``..``
    folded without following symlinks, as git does) and must stay inside the root.
    """
    joined = os.path.normpath(os.path.join(cwd, arg))
    root_text = os.path.normpath(root)
    if joined == root_text:
        return ""
    if not joined.startswith(root_text.rstrip("/") + "/"):
        raise PathError(f"'{arg}' is outside repository at '{root}'")
    rel = joined[len(root_text.rstrip("/")) + 1 :]
    if rel == ".cof" or rel.startswith(".cof/"):
        raise PathError(f"'{arg}' is inside the repository's .cof directory")
    return rel


def in_scope(path: str, specs: Iterable[str]) -> bool:
    """Whether ``path`` is one of ``specs`` or lies below one (``""`` is everything)."""
    return any(not spec or path == spec or path.startswith(spec + "/") for spec in specs)


def parent_dirs(path: str) -> Iterable[str]:
    """``a/b/c`` -> ``a``, ``a/b``."""
    parts = path.split("/")
    for i in range(1, len(parts)):
        yield "/".join(parts[:i])


def display_path(root: Path, cwd: Path, path: str) -> str:
    """A repository path as the user would type it from ``cwd``."""
    return os.path.relpath(root / path, cwd)
