"""Three-way merge of trees, path by path.

Per path (base B, ours O, theirs T): one side changed -> take it; both changed the
same way -> take it; both changed differently -> for text files a line merge
(conflict markers where changes overlap), otherwise a conflict. Content and mode
merge separately, so a mode change on one side and an edit on the other both land.
Conflict kinds, named as git names them: content, add/add, modify/delete,
file/directory, and binary (reported as content).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cofd.objects.merge3 import is_binary, merge_lines, split_lines
from cofd.objects.model import MODE_SYMLINK, TreeId
from cofd.ops.common import flatten_cached
from cofd.ops.repository import Repository
from cofd.ops.treediff import diff_trees
from cofd.ops.trees import FlatEntry
from cofd.store.blockstore import WriteTxn

# Files larger than this are merged as binary: a line merge of a huge file is slow
# and its result unreviewable; cof's users version binaries of that size.
MAX_TEXT_MERGE_BYTES = 16 * 1024 * 1024


@dataclass(slots=True)
class PathMerge:
    """The outcome for one path. ``result`` is the clean merged entry (None: deleted);
    for a conflict, ``stages`` holds base/ours/theirs and ``worktree`` what to write."""

    result: FlatEntry | None = None
    conflict: str | None = None
    stages: dict[int, FlatEntry] = field(default_factory=dict)
    worktree: FlatEntry | None = None
    message: str = ""


@dataclass(slots=True)
class TreeMerge:
    paths: dict[str, PathMerge]
    ours: dict[str, FlatEntry | None]  # ours' entry for every path in ``paths``

    @property
    def conflicts(self) -> list[tuple[str, PathMerge]]:
        return sorted((p, m) for p, m in self.paths.items() if m.conflict)


def _merge_value(b: object, o: object, t: object) -> tuple[object, bool]:
    if o == t:
        return o, True
    if o == b:
        return t, True
    if t == b:
        return o, True
    return o, False


def _read(repo: Repository, entry: FlatEntry | None) -> bytes | None:
    if entry is None:
        return b""
    if entry.size > MAX_TEXT_MERGE_BYTES or entry.mode == MODE_SYMLINK:
        return None
    data = b"".join(repo.objects.iter_content(entry.id, entry.size))
    return None if is_binary(data) else data


def _store(repo: Repository, txn: WriteTxn, data: bytes, mode: int) -> FlatEntry:
    writer = repo.objects.content_writer(txn)
    writer.write(data)
    block_id, size = writer.finish()
    return FlatEntry(mode, block_id, size)


def merge_path(
    repo: Repository,
    txn: WriteTxn,
    path: str,
    b: FlatEntry | None,
    o: FlatEntry | None,
    t: FlatEntry | None,
    labels: tuple[str, str],
) -> PathMerge:
    if o == t:
        return PathMerge(result=o)
    if o == b:
        return PathMerge(result=t)
    if t == b:
        return PathMerge(result=o)
    stages = {k: v for k, v in ((1, b), (2, o), (3, t)) if v is not None}
    if o is None or t is None:
        kept = o if o is not None else t
        gone = labels[1] if t is None else labels[0]
        return PathMerge(
            conflict="modify/delete",
            stages=stages,
            worktree=kept,
            message=f"CONFLICT (modify/delete): {path} deleted in {gone} and "
            f"modified in {labels[0] if t is None else labels[1]}.",
        )
    mode, mode_ok = _merge_value(b.mode if b else None, o.mode, t.mode)
    assert isinstance(mode, int)
    kind = "add/add" if b is None else "content"
    if o.id == t.id or (b is not None and (o.id == b.id or t.id == b.id)):
        content = t if b is not None and o.id == b.id else o
        entry = FlatEntry(mode, content.id, content.size)
        if mode_ok:
            return PathMerge(result=entry)
        return PathMerge(
            conflict="mode",
            stages=stages,
            worktree=o,
            message=f"CONFLICT (mode): {path} has conflicting modes",
        )
    texts = [_read(repo, e) for e in (b, o, t)]
    if any(x is None for x in texts) or (o.mode == MODE_SYMLINK) or (t.mode == MODE_SYMLINK):
        return PathMerge(
            conflict=kind,
            stages=stages,
            worktree=o,
            message=f"warning: Cannot merge binary files: {path} ({labels[0]} "
            f"vs. {labels[1]})\nCONFLICT ({kind}): Merge conflict in "
            f"{path}",
        )
    base_text, ours_text, theirs_text = (x or b"" for x in texts)
    merged = merge_lines(
        split_lines(base_text),
        split_lines(ours_text),
        split_lines(theirs_text),
        labels[0],
        labels[1],
    )
    entry = _store(repo, txn, b"".join(merged.lines), mode)
    if merged.conflicts == 0 and mode_ok:
        return PathMerge(result=entry)
    return PathMerge(
        conflict=kind,
        stages=stages,
        worktree=entry,
        message=f"CONFLICT ({kind}): Merge conflict in {path}",
    )


def merge_trees(
    repo: Repository,
    txn: WriteTxn,
    base: TreeId | None,
    ours: TreeId | None,
    theirs: TreeId | None,
    labels: tuple[str, str],
) -> TreeMerge:
    changed_o = {p: (a, b) for p, a, b in diff_trees(repo.objects, base, ours)}
    changed_t = {p: (a, b) for p, a, b in diff_trees(repo.objects, base, theirs)}
    paths: dict[str, PathMerge] = {}
    ours_entries: dict[str, FlatEntry | None] = {}
    for path in sorted(changed_t):
        b, t = changed_t[path]
        o = changed_o[path][1] if path in changed_o else b
        ours_entries[path] = o
        paths[path] = merge_path(repo, txn, path, b, o, t, labels)
    _file_directory_conflicts(repo, ours, paths, ours_entries, labels)
    return TreeMerge(paths, ours_entries)


def _file_directory_conflicts(
    repo: Repository,
    ours: TreeId | None,
    paths: dict[str, PathMerge],
    ours_entries: dict[str, FlatEntry | None],
    labels: tuple[str, str],
) -> None:
    """A file at ``p`` on one side and files under ``p/`` on the other cannot both be
    written: the file is moved aside to ``p~<side>`` as a conflict, as git does."""
    ours_files = flatten_cached(repo, ours) if ours is not None else {}
    final = dict(ours_files)
    for path, m in paths.items():
        want = m.result if not m.conflict else m.worktree
        if want is None:
            final.pop(path, None)
        else:
            final[path] = want
    dirs = {p.rsplit("/", 1)[0] for p in final if "/" in p}
    expanded: set[str] = set()
    for d in dirs:
        parts = d.split("/")
        expanded.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
    for path in sorted(p for p in final if p in expanded):
        from_theirs = path in paths and ours_entries.get(path) != final[path]
        side = labels[1] if from_theirs else labels[0]
        entry = final[path]
        aside = f"{path}~{side}"
        if path in paths:
            paths[path].result = ours_entries.get(path) if from_theirs else None
            if paths[path].conflict is None and not from_theirs:
                paths[path].result = None
        else:
            paths[path] = PathMerge(result=None)
            ours_entries[path] = entry
        ours_entries.setdefault(aside, None)
        paths[aside] = PathMerge(
            conflict="file/directory",
            stages={3 if from_theirs else 2: entry},
            worktree=entry,
            message=f"CONFLICT (file/directory): directory in the way of "
            f"{path} from {side}; moving it to {aside} instead.",
        )
