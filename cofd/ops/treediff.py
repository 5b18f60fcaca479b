"""Recursive comparison of two trees that skips identical subtrees by id.

Switching between branches that differ in one file of a 10,000-file tree reads
only the trees along that file's path, not the whole tree.
"""

from __future__ import annotations

from collections.abc import Iterator

from cofd.objects.model import Kind, TreeEntry, TreeId
from cofd.objects.odb import ObjectStore
from cofd.ops.trees import FlatEntry


def _entries(objects: ObjectStore, tree: TreeId | None) -> dict[str, TreeEntry]:
    if tree is None:
        return {}
    return {e.name: e for e in objects.read_tree(tree).entries}


def _all_files(
    objects: ObjectStore, prefix: str, entry: TreeEntry
) -> Iterator[tuple[str, FlatEntry]]:
    if entry.kind != Kind.DIR:
        yield prefix, FlatEntry(entry.mode, entry.id, entry.size)
        return
    for child in objects.read_tree(TreeId(entry.id)).entries:
        yield from _all_files(objects, f"{prefix}/{child.name}", child)


def _files_of(objects: ObjectStore, path: str, entry: TreeEntry | None) -> dict[str, FlatEntry]:
    return {} if entry is None else dict(_all_files(objects, path, entry))


def diff_trees(
    objects: ObjectStore, old: TreeId | None, new: TreeId | None, prefix: str = ""
) -> Iterator[tuple[str, FlatEntry | None, FlatEntry | None]]:
    """Yield ``(path, old entry, new entry)`` for every file or symlink that differs."""
    if old == new:
        return
    a, b = _entries(objects, old), _entries(objects, new)
    for name in sorted(set(a) | set(b)):
        ea, eb = a.get(name), b.get(name)
        if ea == eb:
            continue
        path = f"{prefix}{name}"
        if ea is not None and eb is not None and ea.kind == eb.kind == Kind.DIR:
            yield from diff_trees(objects, TreeId(ea.id), TreeId(eb.id), path + "/")
            continue
        # A file replaced by a directory (or the reverse), or an added/removed entry.
        files_a, files_b = _files_of(objects, path, ea), _files_of(objects, path, eb)
        for sub in sorted(set(files_a) | set(files_b)):
            if files_a.get(sub) != files_b.get(sub):
                yield sub, files_a.get(sub), files_b.get(sub)
