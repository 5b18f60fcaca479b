"""Finding a path in a commit's tree, and listing trees in git's order.

For the read-only commands that name objects inside a tree (``cof show REV:PATH``,
``ls-tree``, ``archive``): they walk only the trees on the way to what they need,
where :func:`cofd.ops.trees.flatten` reads every tree of the commit.
"""

from __future__ import annotations

from collections.abc import Iterable

from cofd.objects.model import MODE_DIR, Kind, TreeEntry, TreeId
from cofd.objects.odb import ObjectStore
from cofd.store.ids import BlockId


def git_order(entries: Iterable[TreeEntry]) -> list[TreeEntry]:
    """Entries in the order git lists a tree: a directory sorts as its name with a
    trailing ``/`` (so ``a.txt`` comes before the directory ``a``), bytewise."""
    return sorted(entries, key=_git_key)


def _git_key(entry: TreeEntry) -> bytes:
    name = entry.name.encode("utf-8", "surrogateescape")
    return name + b"/" if entry.kind == Kind.DIR else name


def root_entry(tree: TreeId) -> TreeEntry:
    """The root tree as an entry (named ``""``), so it is found like any directory."""
    return TreeEntry("", Kind.DIR, MODE_DIR, BlockId(tree), 0)


def entry_at(objects: ObjectStore, tree: TreeId, path: str) -> TreeEntry | None:
    """The entry at posix ``path`` (``""``: the root) in ``tree``, or None."""
    entry = root_entry(tree)
    for name in filter(None, path.split("/")):
        if entry.kind != Kind.DIR:
            return None
        found = [e for e in objects.read_tree(TreeId(entry.id)).entries if e.name == name]
        if not found:
            return None
        entry = found[0]
    return entry
