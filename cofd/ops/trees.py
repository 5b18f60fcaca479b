"""Converting between nested trees and flat ``path -> entry`` maps."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from cofd.objects.model import MODE_DIR, Kind, Tree, TreeEntry, TreeId
from cofd.objects.odb import ObjectStore
from cofd.store.blockstore import WriteTxn
from cofd.store.ids import BlockId


@dataclass(frozen=True, slots=True)
class FlatEntry:
    mode: int
    id: BlockId
    size: int

    @property
    def kind(self) -> Kind:
        return Kind.SYMLINK if self.mode == 0o120000 else Kind.FILE


def flatten(objects: ObjectStore, tree_id: TreeId | None) -> dict[str, FlatEntry]:
    """Every file and symlink of a tree, keyed by posix path."""
    out: dict[str, FlatEntry] = {}
    if tree_id is None:
        return out
    stack: list[tuple[str, TreeId]] = [("", tree_id)]
    while stack:
        prefix, tid = stack.pop()
        for entry in objects.read_tree(tid).entries:
            path = f"{prefix}{entry.name}"
            if entry.kind == Kind.DIR:
                stack.append((path + "/", TreeId(entry.id)))
            else:
                out[path] = FlatEntry(entry.mode, entry.id, entry.size)
    return out


def build(objects: ObjectStore, txn: WriteTxn, files: dict[str, FlatEntry]) -> TreeId:
    """Write the trees for a flat map (the staging area) and return the root's id."""
    children: dict[str, list[TreeEntry]] = defaultdict(list)
    dirs: set[str] = {""}
    for path, entry in files.items():
        parent, _, name = path.rpartition("/")
        children[parent].append(TreeEntry(name, entry.kind, entry.mode, entry.id, entry.size))
        while parent:
            dirs.add(parent)
            parent = parent.rpartition("/")[0]
    # Deepest directories first, so each subtree id exists before its parent is built;
    # the root ("", depth 0) comes last.
    tree_ids: dict[str, TreeId] = {}
    for directory in sorted(dirs, key=lambda d: d.count("/") + (1 if d else 0), reverse=True):
        tree = Tree.build(children[directory])
        tree_ids[directory] = objects.write_tree(txn, tree)
        if directory:
            parent, _, name = directory.rpartition("/")
            size = sum(e.size for e in tree.entries)
            children[parent].append(
                TreeEntry(name, Kind.DIR, MODE_DIR, BlockId(tree_ids[directory]), size)
            )
    return tree_ids[""]
