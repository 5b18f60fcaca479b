"""Pathspecs: turning the client's arguments into repository-relative paths."""

from __future__ import annotations

import os
from bisect import bisect_left
from collections.abc import Iterable
from pathlib import Path

from cofd.objects.ignore import RESERVED_DIRS
from protocol.errors import PathError, UsageError
from protocol.quoting import octal_undecodable, text_path


def path_args(values: object) -> list[str]:
    """A request's path arguments as names: the client sends one that is not UTF-8
    as its bytes (``protocol.quoting.wire_path``), which become the surrogates
    ``os.fsdecode`` gives them, so that it names the same file on disk."""
    if values is None:
        return []
    if not isinstance(values, list) or not all(isinstance(v, str | bytes) for v in values):
        raise UsageError("paths must be a list of names")
    return [text_path(v) for v in values]


def repo_relative(root: Path, cwd: Path, arg: str | bytes) -> str:
    """``arg`` (relative to ``cwd`` or absolute; bytes: a name that is not UTF-8, as
    the client sends it) as a posix path relative to ``root``.

    Returns ``""`` for the root itself. The path is normalised lexically (``..``
    folded without following symlinks, as git does) and must stay inside the root.
    """
    arg = text_path(arg)
    joined = os.path.normpath(os.path.join(cwd, arg))
    root_text = os.path.normpath(root)
    if joined == root_text:
        return ""
    if not joined.startswith(root_text.rstrip("/") + "/"):
        raise PathError(f"'{shown(arg)}' is outside repository at '{shown(str(root))}'")
    rel = joined[len(root_text.rstrip("/")) + 1 :]
    if rel == ".cof" or rel.startswith(".cof/"):
        raise PathError(f"'{shown(arg)}' is inside the repository's .cof directory")
    if (part := reserved_component(rel)) is not None:
        raise PathError(f"'{shown(arg)}' is inside a '{part}' directory, which cof never tracks")
    return rel


def shown(path: str) -> str:
    """``path`` for a message (one line of text, sent to the client): raw, as git's
    messages name paths, but for the bytes that are not UTF-8 (``os.fsdecode``'s
    surrogates), written in octal as git's quoting writes them (``bad\\377name``).
    Never for a name the client prints itself: that goes as ``wire_path``."""
    return octal_undecodable(path)


def reserved_component(path: str) -> str | None:
    """The component of ``path`` that is ``.cof`` or ``.git`` (any case), or None."""
    for part in path.split("/"):
        if part.lower() in RESERVED_DIRS:
            return part
    return None


def check_writable(paths: Iterable[str]) -> None:
    """Refuse, before anything is written, a tree path inside ``.cof`` or ``.git``:
    such a tree comes from an old cof that tracked a ``.git`` directory, or from a
    hostile peer (a ``.git/hooks`` file would run the next time git runs there)."""
    for path in paths:
        if (part := reserved_component(path)) is not None:
            raise PathError(
                f"refusing to write '{path}': cof never writes inside a '{part}' directory"
            )


class Scope:
    """A set of pathspecs answering "is this path one of them or below one" in time
    proportional to the path's depth, not to the number of specs."""

    def __init__(self, specs: Iterable[str]) -> None:
        self._exact = set(specs)
        self.everything = not self._exact or "" in self._exact

    def __contains__(self, path: str) -> bool:
        if self.everything or path in self._exact:
            return True
        cut = path.rfind("/")
        while cut > 0:
            if path[:cut] in self._exact:
                return True
            cut = path.rfind("/", 0, cut)
        return False


def under(sorted_paths: list[str], spec: str) -> list[str]:
    """The paths of a sorted list that equal ``spec`` or lie below it (bisect, so a
    lookup per spec costs log n plus the matches, not a pass over every path)."""
    if not spec:
        return list(sorted_paths)
    out = []
    i = bisect_left(sorted_paths, spec)
    if i < len(sorted_paths) and sorted_paths[i] == spec:
        out.append(spec)
    prefix = spec + "/"
    j = bisect_left(sorted_paths, prefix)
    while j < len(sorted_paths) and sorted_paths[j].startswith(prefix):
        out.append(sorted_paths[j])
        j += 1
    return out


def in_scope(path: str, specs: Iterable[str]) -> bool:
    """Whether ``path`` is one of ``specs`` or lies below one (``""`` is everything)."""
    return any(not spec or path == spec or path.startswith(spec + "/") for spec in specs)


def parent_dirs(path: str) -> Iterable[str]:
    """``a/b/c`` -> ``a``, ``a/b``."""
    parts = path.split("/")
    for i in range(1, len(parts)):
        yield "/".join(parts[:i])
